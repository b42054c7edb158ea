/**
 * Installs the project's tools into the cache (idempotent), checks them, or prints the
 * environment that uses them.
 *
 *   ts-node scripts/toolchain/cli.ts install [--group engine|controlplane|lint]... [--force]
 *   ts-node scripts/toolchain/cli.ts install --check
 *   ts-node scripts/toolchain/cli.ts env          (shell exports, for eval)
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Component, COMPONENTS, Group, KUBERNETES_PROVIDER_VERSION } from "./components";
import { cacheDir, componentBinDir, componentKey, pulumiHome, REPO_ROOT, toolchainEnv } from "./env";

const started = Date.now();
function log(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[toolchain ${s}s] ${message}\n`);
}

class ToolchainError extends Error {}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; label: string }) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const t0 = Date.now();
    const beat = setInterval(
      () => log(`  … ${opts.label}: ${Math.round((Date.now() - t0) / 1000)}s`),
      60_000,
    );
    child.on("error", (e) => {
      clearInterval(beat);
      reject(new ToolchainError(`${opts.label}: could not start ${cmd}: ${e.message}`));
    });
    child.on("close", (code) => {
      clearInterval(beat);
      if (code === 0) {
        resolve();
      } else {
        const tail = output.trim().split("\n").slice(-25).join("\n");
        reject(new ToolchainError(`${opts.label} failed (exit ${code}):\n${tail}`));
      }
    });
  });
}

/** A binary already on the caller's PATH (outside our cache) counts as installed. */
function onUserPath(binary: string): string | undefined {
  const cache = cacheDir();
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const p = path.join(dir, binary);
    if (dir && !dir.startsWith(cache) && fs.existsSync(p)) {
      return p;
    }
  }
  return undefined;
}

function isBuilt(c: Component): boolean {
  const bin = componentBinDir(c);
  return c.builds.every((b) => fs.existsSync(path.join(bin, b.binary)));
}

function providerPluginDir(): string {
  return path.join(pulumiHome(), "plugins", `resource-kubernetes-v${KUBERNETES_PROVIDER_VERSION}`);
}

async function build(c: Component): Promise<void> {
  const key = componentKey(c);
  const buildDir = path.join(cacheDir(), "build", key);
  const finalDir = path.dirname(componentBinDir(c));
  const stagingDir = `${finalDir}.partial-${process.pid}`;
  const src = path.join(REPO_ROOT, "scripts", "toolchain", "go", c.moduleDir);
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.rmSync(stagingDir, { recursive: true, force: true });
  fs.mkdirSync(buildDir, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (f === "go.mod" || f === "go.sum" || f.endsWith(".go")) {
      fs.copyFileSync(path.join(src, f), path.join(buildDir, f));
    }
  }
  const env = { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ""} -mod=readonly`.trim() };
  let t = Date.now();
  await run("go", ["mod", "download"], { cwd: buildDir, env, label: `${c.name}: go mod download` });
  log(`  ${c.name}: modules downloaded in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  c.prepare?.(buildDir);
  for (const b of c.builds) {
    t = Date.now();
    const x = Object.entries(b.ldflags ?? {}).map(([k, v]) => `-X ${k}=${v}`);
    const out = path.join(stagingDir, "bin", b.binary);
    await run("go", ["build", "-trimpath", "-ldflags", ["-s", "-w", ...x].join(" "), "-o", out, b.pkg], {
      cwd: buildDir,
      env,
      label: `${c.name}: go build ${b.pkg}`,
    });
    log(`  ${c.name}: built ${b.binary} in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  }
  fs.rmSync(finalDir, { recursive: true, force: true });
  fs.renameSync(stagingDir, finalDir);
  fs.rmSync(buildDir, { recursive: true, force: true });
}

/** Installs the provider into the engine's plugin cache; with `check`, 1 when it is missing. */
async function ensureProviderPlugin(check: boolean): Promise<number> {
  if (fs.existsSync(path.join(providerPluginDir(), "pulumi-resource-kubernetes"))) {
    return 0;
  }
  if (check) {
    log(`kubernetes plugin ${KUBERNETES_PROVIDER_VERSION}: MISSING in ${pulumiHome()}`);
    return 1;
  }
  const provider = COMPONENTS.find((c) => c.name === "pulumi-resource-kubernetes");
  const file = path.join(componentBinDir(provider!), "pulumi-resource-kubernetes");
  const env = { ...process.env, ...toolchainEnv() };
  await run(
    "pulumi",
    ["plugin", "install", "resource", "kubernetes", KUBERNETES_PROVIDER_VERSION, "--file", file],
    { env, label: "pulumi plugin install resource kubernetes" },
  );
  log(`  installed the kubernetes ${KUBERNETES_PROVIDER_VERSION} plugin into ${pulumiHome()}`);
  return 0;
}

interface Options {
  check: boolean;
  force: boolean;
  groups: Set<Group>;
}

function parseArgs(argv: string[]): { command: string; options: Options } {
  const [command = "install", ...rest] = argv;
  const options: Options = { check: false, force: false, groups: new Set() };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--check") options.check = true;
    else if (a === "--force") options.force = true;
    else if (a === "--group") {
      const g = rest[++i];
      if (g !== "engine" && g !== "controlplane" && g !== "lint") {
        throw new ToolchainError(
          `--group must be one of engine, controlplane, lint (got ${JSON.stringify(g)})`,
        );
      }
      options.groups.add(g);
    } else throw new ToolchainError(`unknown argument ${JSON.stringify(a)}; see the header of ${__filename}`);
  }
  if (options.groups.size === 0) {
    options.groups = new Set(["engine", "controlplane", "lint"]);
  }
  return { command, options };
}

async function install(options: Options): Promise<number> {
  const wanted = COMPONENTS.filter((c) => options.groups.has(c.group));
  let missing = 0;
  for (const c of wanted) {
    const external = c.builds.map((b) => onUserPath(b.binary));
    if (!options.force && external.every((p) => p !== undefined)) {
      log(`${c.name}: using ${external.join(", ")} from PATH`);
      continue;
    }
    if (!options.force && isBuilt(c)) {
      log(`${c.name} ${c.version}: cached (${componentKey(c)})`);
      continue;
    }
    if (options.check) {
      log(`${c.name} ${c.version}: MISSING (would build ${componentKey(c)})`);
      missing++;
      continue;
    }
    const t = Date.now();
    log(`${c.name} ${c.version}: building from Go modules (cold builds take minutes on 2 cores)`);
    await build(c);
    log(`${c.name} ${c.version}: done in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    if (c.name === "pulumi-resource-kubernetes") {
      // Into the plugin cache at once, so the engine works while the control plane builds.
      await ensureProviderPlugin(false);
    }
  }
  if (options.groups.has("engine") && !onUserPath("pulumi-resource-kubernetes")) {
    missing += await ensureProviderPlugin(options.check);
  }
  if (options.check && missing > 0) {
    log(`${missing} component(s) missing: run ./dev toolchain install`);
    return 1;
  }
  return 0;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function main(): Promise<number> {
  const { command, options } = parseArgs(process.argv.slice(2));
  if (command === "env") {
    for (const [k, v] of Object.entries(toolchainEnv())) {
      process.stdout.write(`export ${k}=${shellQuote(v)}\n`);
    }
    return 0;
  }
  if (command === "install") {
    return install(options);
  }
  throw new ToolchainError(`unknown command ${JSON.stringify(command)}: use install, install --check or env`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ToolchainError) {
      log(`error: ${err.message}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
