/**
 * The last line of the run's cleanup: processes the run started that are still alive after
 * every stop action ran — a control plane interrupted before the sandbox recorded it, an
 * engine left behind by an interrupted preview. They are found by the run's own temporary
 * directory (in their command line or as their working directory) and stopped by PID.
 */
import * as fs from "fs";
import { isAlive } from "../sandbox/controlplane";

/** PIDs of the processes (other than this one) whose command line or working directory is under `root`. */
export function processesUnder(root: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      let cwd = "";
      try {
        cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // not ours to read
      }
      if (cmdline.includes(root) || cwd === root || cwd.startsWith(`${root}/`)) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** SIGTERM to each, SIGKILL to those still alive after `graceMs`; returns how many there were. */
export async function stopProcessesUnder(root: string, graceMs = 5000): Promise<number> {
  const pids = processesUnder(root);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(isAlive)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return pids.length;
}
