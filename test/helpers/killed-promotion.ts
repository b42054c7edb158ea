/**
 * A promotion killed at a named point of its journal: the promote CLI runs as its own
 * process, its lock's journal (lock.ts) is read until the kill point's condition holds,
 * and then it gets SIGKILL, as a runner that dies or an operator's `kill -9` would give it.
 * The kill point is what the journal says (its phase, the engine sessions it records), not
 * a guess at how long a step takes.
 */
import { spawn } from "child_process";
import * as path from "path";
import { Journal, readLatest } from "../../scripts/promotion/lock";
import { REPO_ROOT } from "../../scripts/toolchain/env";

export interface KillPoint {
  /** What the kill point is, for messages. */
  readonly name: string;
  /** Whether the promotion has reached it, from its current journal (undefined before it locks). */
  readonly reached: (journal: Journal | undefined) => boolean;
}

export interface Killed {
  readonly pid: number;
  /** The journal as it was when the promotion was killed. */
  readonly journal: Journal;
  readonly stderr: string;
}

/**
 * Runs `npm run promote -- <args>` in `cwd` with `env`, kills it with SIGKILL once `point`
 * is reached in the journal of `lockDir`, and resolves when the process is gone. Rejects
 * when the promotion ends by itself before that, or after `limitMs`.
 */
export async function promoteAndKill(opts: {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly args: readonly string[];
  readonly lockDir: string;
  readonly point: KillPoint;
  readonly limitMs?: number;
}): Promise<Killed> {
  const child = spawn(
    process.execPath,
    [
      "-r",
      require.resolve("ts-node/register/transpile-only"),
      path.join(REPO_ROOT, "scripts", "promote.ts"),
      ...opts.args,
    ],
    { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  let exited: number | null | undefined;
  void closed.then((code) => (exited = code));
  const limit = Date.now() + (opts.limitMs ?? 600_000);
  for (;;) {
    if (exited !== undefined) {
      throw new Error(`the promotion ended (exit ${exited}) before ${opts.point.name}:\n${stderr}`);
    }
    if (Date.now() > limit) {
      child.kill("SIGKILL");
      await closed;
      throw new Error(`the promotion never reached ${opts.point.name}:\n${stderr}`);
    }
    const journal = readLatest(opts.lockDir);
    if (
      journal !== undefined &&
      journal.state === "held" &&
      journal.holder.pid === child.pid &&
      opts.point.reached(journal)
    ) {
      child.kill("SIGKILL");
      await closed;
      return { pid: child.pid!, journal, stderr };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The journal says production is being watched after the candidate's update. */
export const DURING_VERIFICATION: KillPoint = {
  name: 'the journal\'s "verifying" phase',
  reached: (j) => j?.phase === "verifying",
};

/**
 * The journal says production is being rolled back and records the rollback's `pulumi up`
 * as running; `engineLocked` says the engine holds the stack's lock for it.
 */
export function duringRollbackUpdate(engineLocked: () => boolean): KillPoint {
  return {
    name: "the rollback's pulumi up",
    reached: (j) =>
      j?.phase === "rolling-back" && j.sessions.some((s) => /^pulumi up\b/.test(s.command)) && engineLocked(),
  };
}

/**
 * The journal says production is being updated to the candidate and records the update's
 * `pulumi up` as running; `engineLocked` says the engine holds the stack's lock for it.
 */
export function duringCandidateUpdate(engineLocked: () => boolean): KillPoint {
  return {
    name: "the candidate's pulumi up",
    reached: (j) =>
      j?.phase === "updating" && j.sessions.some((s) => /^pulumi up\b/.test(s.command)) && engineLocked(),
  };
}
