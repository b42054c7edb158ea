/**
 * What the next run does about a promotion that ended without finishing: pure judgements
 * over the lock's journal (lock.ts) and the engine's own lock; the rollout carries them out.
 *
 * The state machine of a promotion's journal, and what recovery does from each phase:
 *
 *     locked ──deploy──▶ updating ──up ok──▶ verifying ──healthy──▶ locked ──▶ released
 *        ▲                  │ up failed           │ unhealthy
 *        │                  ▼                     ▼
 *        └──verified─── rolling-back ◀────────────┘
 *
 * - `locked` (nothing changed, or all settled): stop leftover engine processes, if any.
 * - `updating`, `verifying`, `rolling-back`: production may run an unverified candidate or a
 *   half-done update. Recovery stops leftover processes, clears the engine's lock only when
 *   it belongs to an engine process the journal records (never someone else's update),
 *   refreshes the stack clearing pending operations, then returns production to the version
 *   it ran before (fresh rollback evidence embedding that version's promotion evidence) and
 *   verifies it over the bake window. The journal stays `rolling-back` until that passes,
 *   so a recovery that is itself killed is finished by the run after it.
 * - With no earlier promoted version to return to, recovery restores the config and
 *   refreshes the state, then reports that a person is needed (exit 6) once.
 */
import type { Journal } from "./lock";
import type { SessionRecord } from "./processes";

const VERSION_KEY = "churn-model:modelVersion";
const EVIDENCE_KEY = "churn-model:promotionEvidence";

export type RecoveryPlan =
  | { readonly kind: "none" }
  | { readonly kind: "stop-leftovers"; readonly sessions: readonly SessionRecord[] }
  | {
      readonly kind: "roll-back";
      readonly sessions: readonly SessionRecord[];
      readonly version: string;
      /** The signed promotion evidence of `version`, as the stack config held it. */
      readonly evidenceJson: string;
      readonly approver: string;
      readonly interruptedPhase: Journal["phase"];
    }
  | {
      readonly kind: "restore-config";
      readonly sessions: readonly SessionRecord[];
      readonly previousConfig: Readonly<Record<string, string | null>>;
      readonly interruptedPhase: Journal["phase"];
    };

/**
 * The recovery a journal taken over from a dead holder asks for. Rules, in order:
 * - no journal → none;
 * - phase `locked` → stop-leftovers when it records engine sessions, else none;
 * - a previous config with a version and its evidence → roll-back to that version;
 * - otherwise (a first promotion, nothing to return to) → restore-config.
 */
export function planRecovery(journal: Journal | undefined): RecoveryPlan {
  if (journal === undefined) return { kind: "none" };
  const sessions = journal.sessions;
  if (journal.phase === "locked") {
    return sessions.length > 0 ? { kind: "stop-leftovers", sessions } : { kind: "none" };
  }
  const previous = journal.previousConfig ?? {};
  const version = previous[VERSION_KEY];
  const evidenceJson = previous[EVIDENCE_KEY];
  if (
    typeof version === "string" &&
    version !== "" &&
    typeof evidenceJson === "string" &&
    evidenceJson !== ""
  ) {
    return {
      kind: "roll-back",
      sessions,
      version,
      evidenceJson,
      approver: journal.approver ?? "recovery",
      interruptedPhase: journal.phase,
    };
  }
  return { kind: "restore-config", sessions, previousConfig: previous, interruptedPhase: journal.phase };
}

/** A lock the engine holds on a stack (a file backend's `.pulumi/locks/…/<uuid>.json`). */
export interface EngineLock {
  readonly file: string;
  readonly pid: number;
  readonly hostname: string;
}

export type EngineLockVerdict =
  | { readonly action: "none" }
  | { readonly action: "cancel" }
  | { readonly action: "refuse"; readonly foreign: readonly EngineLock[] };

/**
 * Whether recovery may clear the engine's lock. Rules, in order:
 * - no engine lock → nothing to clear;
 * - every lock was taken by an engine process the journal records, on this host → cancel;
 * - otherwise → refuse: that update is someone else's, and cancelling it is never ours to do.
 */
export function judgeEngineLocks(
  locks: readonly EngineLock[],
  sessions: readonly SessionRecord[],
  hostname: string,
): EngineLockVerdict {
  if (locks.length === 0) return { action: "none" };
  const ours = new Set(sessions.map((s) => s.pid));
  const foreign = locks.filter((l) => l.hostname !== hostname || !ours.has(l.pid));
  return foreign.length === 0 ? { action: "cancel" } : { action: "refuse", foreign };
}
