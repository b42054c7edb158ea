/**
 * One promotion per target stack at a time. The lock is a file created exclusively next to
 * the project's stack files; it records who holds it and the stack config as it was before
 * the promotion touched it, so a promotion that was killed half-way can be recovered: the
 * next one finds the holder dead, restores that config, clears the engine's own lock and
 * pending operations, refreshes the stack from the cluster and then proceeds as usual.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConcurrentUpdate } from "./errors";

export interface LockRecord {
  readonly pid: number;
  readonly host: string;
  readonly stack: string;
  readonly startedAt: string;
  /** Config values (key → value, or null when unset) before the promotion changed them. */
  previousConfig?: Record<string, string | null>;
}

export interface HeldLock {
  readonly file: string;
  /** The lock of a promotion that died while holding it, when this one took it over. */
  readonly stale?: LockRecord;
  /** Records the config to restore should this promotion die before it finishes. */
  remember(previousConfig: Record<string, string | null>): void;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockFile(projectDir: string, stack: string): string {
  return path.join(projectDir, `.promotion-${stack.replace(/[^A-Za-z0-9._-]/g, "_")}.lock`);
}

export function acquirePromotionLock(projectDir: string, stack: string): HeldLock {
  const file = lockFile(projectDir, stack);
  const record: LockRecord = {
    pid: process.pid,
    host: os.hostname(),
    stack,
    startedAt: new Date().toISOString(),
  };
  let stale: LockRecord | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(record), { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) {
        throw new ConcurrentUpdate(`cannot take the promotion lock ${file}: ${(err as Error).message}`);
      }
      let holder: LockRecord | undefined;
      try {
        holder = JSON.parse(fs.readFileSync(file, "utf8")) as LockRecord;
      } catch {
        holder = undefined;
      }
      if (holder && holder.host === os.hostname() && alive(holder.pid)) {
        throw new ConcurrentUpdate(
          `another promotion of ${stack} is running (pid ${holder.pid}, started ${holder.startedAt}); ` +
            "nothing was changed and nothing is retried",
        );
      }
      stale = holder;
      fs.rmSync(file, { force: true });
    }
  }
  const held: LockRecord = { ...record };
  return {
    file,
    stale,
    remember(previousConfig) {
      // The config before the promotion's first change is what recovery returns to.
      if (held.previousConfig !== undefined) return;
      held.previousConfig = previousConfig;
      fs.writeFileSync(file, JSON.stringify(held));
    },
    release() {
      fs.rmSync(file, { force: true });
    },
  };
}
