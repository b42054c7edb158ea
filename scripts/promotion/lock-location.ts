/**
 * Where a stack's promotion lock and journal live, and the engine's own locks on it: beside a
 * file backend's state (every runner sharing the state shares the lock), or, with the journal
 * kept in the backend's tags, in the project directory.
 */
import * as path from "path";
import { defaultStateDir } from "../toolchain/env";
import { journalInBackend } from "./backend-journal";
import { EngineOptions, projectDir } from "./engine";
import type { EngineLock } from "./recovery";
import { fileBackendLocks } from "./recovery-run";

/** The backend the engine uses for these options (the toolchain's default: the checkout's file backend). */
function backendUrl(opts: EngineOptions): string {
  return opts.env?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL ?? `file://${defaultStateDir()}`;
}

/** Whether the promotion journal is kept in the backend's tags too (backend-journal.ts). */
export function backendJournal(opts: EngineOptions): boolean {
  return journalInBackend(
    backendUrl(opts),
    opts.env?.CHURN_PROMOTION_JOURNAL ?? process.env.CHURN_PROMOTION_JOURNAL,
  );
}

/**
 * Where the promotion lock of a stack lives: beside the state of a file backend
 * (`<backend>/.churn-model/promotions/<stack>`), so every runner that shares the state shares
 * the lock; when the journal is kept in the backend's tags (another backend), in the project
 * directory, for the processes of one runner.
 */
export function promotionLockDir(opts: EngineOptions, stack: string): string {
  const backend = backendUrl(opts);
  const base = backendJournal(opts) ? projectDir(opts) : backend.slice("file://".length);
  return path.join(base, ".churn-model", "promotions", stack.replace(/[^A-Za-z0-9._-]/g, "_"));
}

/**
 * The engine's own locks on a stack of a file backend (`.pulumi/locks/…/<stack>/*.json`,
 * each naming the pid and host of the pulumi process that took it); none for other backends.
 */
export function engineLocks(opts: EngineOptions, stack: string): EngineLock[] {
  return fileBackendLocks(backendUrl(opts), stack);
}
