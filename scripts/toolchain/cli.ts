/**
 * Installs the project's tools into the cache (idempotent), checks them, or prints the
 * environment that uses them.
 *
 *   ts-node scripts/toolchain/cli.ts install [--group engine|controlplane|lint]... [--force]
 *   ts-node scripts/toolchain/cli.ts install --for SCRIPT [ARGS…]   (what that npm script needs)
 *   ts-node scripts/toolchain/cli.ts install --check
 *   ts-node scripts/toolchain/cli.ts env          (shell exports, for eval)
 *   ts-node scripts/toolchain/cli.ts prune        (drop builds no current key names)
 *
 * Each tool's route (installed, plugin cache, tool cache, the engine's plugin download, a Go
 * build) and the reason for it are logged; see routes.ts for the rules.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CdError } from "../promotion/errors";
import { Component, COMPONENTS, Group, KUBERNETES_PROVIDER_VERSION, PULUMI_VERSION } from "./components";
import {
  cacheDir,
  componentBinDir,
  componentKey,
  installedTool,
  pulumiHome,
  REPO_ROOT,
  toolchainEnv,
  toolchainPath,
  toolPath,
} from "./env";
import { ALL_GROUPS, needsFor } from "./needs";
import { staleEntries } from "./prune";
import { needsWork, PROVIDER, routeFor, ToolFacts } from "./routes";

const started = Date.now();
function log(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[toolchain ${s}s] ${message}\n`);
}

class ToolchainError extends Error {}

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; label: string; timeoutMs?: number },
) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const t0 = Date.now();
    const beat = setInterval(
      () => log(`  … ${opts.label}: ${Math.round((Date.now() - t0) / 1000)}s`),
      60_000,
    );
    child.on("error", (e) => {
      clearInterval(beat);
      clearTimeout(timer);
      reject(new ToolchainError(`${opts.label}: could not start ${cmd}: ${e.message}`));
    });
    child.on("close", (code) => {
      clearInterval(beat);
      clearTimeout(timer);
      if (timedOut) {
        reject(new ToolchainError(`${opts.label} timed out after ${(opts.timeoutMs ?? 0) / 1000}s`));
      } else if (code === 0) {
        resolve();
      } else {
        const tail = output.trim().split("\n").slice(-25).join("\n");
        reject(new ToolchainError(`${opts.label} failed (exit ${code}):\n${tail}`));
      }
    });
  });
}

function isBuilt(c: Component): boolean {
  const bin = componentBinDir(c);
  return c.builds.every((b) => fs.existsSync(path.join(bin, b.binary)));
}

function providerPluginDir(): string {
  return path.join(pulumiHome(), "plugins", `resource-kubernetes-v${KUBERNETES_PROVIDER_VERSION}`);
}

/** The pinned provider is in the plugin cache (and not half-installed). */
function providerInPluginCache(): boolean {
  const dir = providerPluginDir();
  return fs.existsSync(path.join(dir, PROVIDER)) && !fs.existsSync(`${dir}.partial`);
}

function factsOf(c: Component): ToolFacts {
  return {
    installed: c.builds.map((b) => installedTool(b.binary)),
    cached: isBuilt(c),
    ...(c.name === PROVIDER ? { inPluginCache: providerInPluginCache(), pluginCache: pluginsDir() } : {}),
  };
}

function pluginsDir(): string {
  return path.join(pulumiHome(), "plugins");
}

/** The environment for `pulumi plugin install`: no backend or passphrase needed. */
function pluginEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: toolchainPath(),
    PULUMI_HOME: pulumiHome(),
    PULUMI_SKIP_UPDATE_CHECK: "true",
  };
}

/** The installed pulumi's version, for the log; the pinned one is what the workflows install. */
function installedVersion(binary: string): string {
  const r = spawnSync(binary, ["version"], {
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" },
  });
  const v = (r.stdout ?? "").trim();
  if (r.status !== 0 || v === "") return "version unknown";
  return v.replace(/^v/, "") === PULUMI_VERSION
    ? `version ${v}`
    : `version ${v}; the project pins ${PULUMI_VERSION}`;
}

function goOnPath(): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, "go")));
}

async function build(c: Component): Promise<void> {
  if (!goOnPath()) {
    throw new ToolchainError(
      `${c.name} has to be built from Go modules, but there is no go on PATH: install Go (see the ` +
        `go.mod files under scripts/toolchain/go), or install the tool itself (the engine: the official ` +
        `Pulumi CLI, README "Using your own Pulumi and cluster")`,
    );
  }
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

/** Puts the provider's build from the tool cache into the engine's plugin cache. */
async function installBuiltProvider(c: Component): Promise<void> {
  const file = path.join(componentBinDir(c), PROVIDER);
  await run(
    toolPath("pulumi"),
    ["plugin", "install", "resource", "kubernetes", KUBERNETES_PROVIDER_VERSION, "--file", file],
    { env: pluginEnv(), label: "pulumi plugin install resource kubernetes --file" },
  );
  log(`  ${c.name}: installed the project's build into ${pluginsDir()}`);
}

/** How long the engine's plugin download may take before the Go build is used instead. */
export const PLUGIN_DOWNLOAD_TIMEOUT_MS = 60_000;

/** `pulumi plugin install resource kubernetes <pinned>`; false (and why) when it fails. */
async function downloadProvider(): Promise<{ ok: boolean; why: string }> {
  const t = Date.now();
  try {
    await run(
      toolPath("pulumi"),
      ["plugin", "install", "resource", "kubernetes", KUBERNETES_PROVIDER_VERSION],
      {
        env: pluginEnv(),
        label: "pulumi plugin install resource kubernetes",
        timeoutMs: PLUGIN_DOWNLOAD_TIMEOUT_MS,
      },
    );
  } catch (err) {
    const last = (err instanceof Error ? err.message : String(err)).trim().split("\n").pop() ?? "";
    return { ok: false, why: `failed after ${((Date.now() - t) / 1000).toFixed(1)}s: ${last}` };
  }
  return { ok: true, why: `downloaded in ${((Date.now() - t) / 1000).toFixed(1)}s` };
}

interface Options {
  check: boolean;
  force: boolean;
  groups: Set<Group>;
  /** `--for SCRIPT [ARGS…]`: the groups come from what that npm script needs. */
  forScript?: { script: string; args: string[] };
}

function parseArgs(argv: string[]): { command: string; options: Options } {
  const [command = "install", ...rest] = argv;
  const options: Options = { check: false, force: false, groups: new Set() };
  let explicitGroups = false;
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
      explicitGroups = true;
    } else if (a === "--for") {
      const script = rest[i + 1];
      if (script === undefined || script.startsWith("-")) {
        throw new ToolchainError("--for needs an npm script name (then its arguments)");
      }
      options.forScript = { script, args: rest.slice(i + 2) };
      break;
    } else throw new ToolchainError(`unknown argument ${JSON.stringify(a)}; see the header of ${__filename}`);
  }
  if (options.forScript && explicitGroups) {
    throw new ToolchainError("use either --group or --for, not both");
  }
  if (options.forScript) {
    const needs = needsFor(options.forScript.script, options.forScript.args);
    log(`${needs.why}`);
    options.groups = new Set(needs.groups);
  } else if (options.groups.size === 0) {
    options.groups = new Set(ALL_GROUPS);
  }
  return { command, options };
}

async function install(options: Options): Promise<number> {
  // Engine first: the provider's routes need a pulumi.
  const wanted = COMPONENTS.filter((c) => options.groups.has(c.group));
  const built: string[] = [];
  let missing = 0;
  for (const c of wanted) {
    const route = routeFor(c, factsOf(c), options.force);
    const label = `${c.name} ${c.version}`;
    if (options.check) {
      log(`${label}: ${needsWork(route) ? "MISSING" : "ok"}, ${route.kind} (${route.why})`);
      if (needsWork(route)) missing++;
      continue;
    }
    if (route.kind === "installed") {
      const version = c.name === "pulumi" ? `, ${installedVersion(installedTool("pulumi")!.path)}` : "";
      log(`${label}: using what is installed — ${route.why}${version}`);
      continue;
    }
    if (route.kind === "plugin-cache" || route.kind === "cached") {
      log(
        `${label}: ${route.kind === "cached" ? `cached (${componentKey(c)})` : "in the plugin cache"} — ${route.why}`,
      );
      continue;
    }
    if (route.kind === "install-built-plugin") {
      log(`${label}: ${route.why}`);
      await installBuiltProvider(c);
      continue;
    }
    if (route.kind === "download") {
      log(`${label}: ${route.why}`);
      const d = await downloadProvider();
      if (d.ok) {
        log(`${label}: fetched by the engine into ${pluginsDir()} (${d.why})`);
        continue;
      }
      log(`${label}: the plugin download ${d.why}; building from Go modules instead`);
    } else {
      log(`${label}: building from Go modules — ${route.why} (cold builds take minutes on 2 cores)`);
    }
    const t = Date.now();
    await build(c);
    built.push(c.name);
    log(`${label}: built in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    if (c.name === PROVIDER) {
      // Into the plugin cache at once, so the engine works while the control plane builds.
      await installBuiltProvider(c);
    }
  }
  if (options.check) {
    if (missing > 0) {
      log(`${missing} component(s) missing: run npm run toolchain -- install`);
      return 1;
    }
    return 0;
  }
  log(built.length === 0 ? "nothing was built" : `built from Go modules: ${built.join(", ")}`);
  if (options.forScript) {
    // For ./dev: the groups, on stdout (the log is on stderr).
    process.stdout.write(`${[...options.groups].join(" ")}\n`);
  }
  return 0;
}

/**
 * Removes the project's builds that no current component key names (older versions or
 * module hashes) from the tool cache, so a cache that CI saves holds only what is used.
 * Half-written builds (`.partial-<pid>`) and anything it does not recognise are left alone.
 */
function prune(): number {
  const tools = path.join(cacheDir(), "tools");
  const stale = fs.existsSync(tools) ? staleEntries(fs.readdirSync(tools)) : [];
  for (const entry of stale) {
    fs.rmSync(path.join(tools, entry), { recursive: true, force: true });
    log(`pruned ${entry}`);
  }
  log(`pruned ${stale.length} stale build(s) from ${tools}`);
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
  if (command === "prune") {
    return prune();
  }
  throw new ToolchainError(
    `unknown command ${JSON.stringify(command)}: use install, install --check, env or prune`,
  );
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ToolchainError || err instanceof CdError) {
      log(`error: ${err.message}`);
      process.exit(err instanceof CdError ? err.exitCode : 2);
    }
    console.error(err);
    process.exit(1);
  },
);
