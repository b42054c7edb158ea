/**
 * How the sandbox tells its own processes from others: a PID recorded in a state file is
 * signalled only when the process's command line names the sandbox's state directory (the
 * directory itself, or a path inside it). A recycled PID, another sandbox's process or a
 * forged state file never qualifies.
 */
import * as fs from "fs";
import * as path from "path";

/** The arguments of `pid` (empty when it is gone or unreadable). */
export function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/** Whether an argument of `pid` is `dir` or a path inside it. */
export function namesDir(pid: number, dir: string): boolean {
  const root = path.resolve(dir);
  const inside = `${root}${path.sep}`;
  return commandLine(pid).some((a) => a === root || a.endsWith(`=${root}`) || a.includes(inside));
}

/**
 * Whether `pid` runs the script `main` for the sandbox in `dir`: an argument ends with its
 * basename, as TypeScript (through ts-node) or as the compiled JavaScript in dist/ (the npm
 * scripts run compiled), and an argument names `dir`.
 */
export function runsScriptFor(pid: number, main: string, dir: string): boolean {
  const stem = path.basename(main).replace(/\.[jt]s$/, "");
  const names = [`${stem}.ts`, `${stem}.js`];
  return (
    commandLine(pid).some((a) => names.some((n) => a.endsWith(`/${n}`) || a === n)) && namesDir(pid, dir)
  );
}
