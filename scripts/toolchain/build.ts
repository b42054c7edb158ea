/**
 * Whether the compiled JavaScript in dist/ is current (scripts/toolchain/build-stamp.sh), and
 * compiling it when it is not (compile.ts, in a child process: the TypeScript compiler never
 * loads into the process that asks). The engine runs the program from dist/ (Pulumi.yaml
 * `main`), so engine.ts and the sandbox's project directories ask before the engine starts.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { nodeEntryArgs, REPO_ROOT } from "./env";

const STAMP = path.join(REPO_ROOT, "scripts", "toolchain", "build-stamp.sh");
const COMPILE = path.join(REPO_ROOT, "scripts", "toolchain", "compile.ts");

/** Whether dist/ was built from exactly the current sources. */
export function buildIsCurrent(): boolean {
  return spawnSync("bash", [STAMP, "check"], { stdio: "ignore" }).status === 0;
}

let checked = false;

/**
 * Compiles the sources to dist/ unless it is current (checked once per process); returns
 * whether it compiled. Throws when the build fails.
 */
export function ensureBuilt(log: (line: string) => void = () => undefined): boolean {
  if (checked) return false;
  if (buildIsCurrent()) {
    checked = true;
    return false;
  }
  log("build: dist/ is older than the sources; compiling (npm run build)");
  // Through ts-node: a stale dist/ may hold a stale compiler entry too.
  const r = spawnSync(process.execPath, nodeEntryArgs(COMPILE, "ts-node"), {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`the build failed (exit ${r.status}): ${(r.stderr ?? "").trim()}`);
  checked = true;
  return true;
}
