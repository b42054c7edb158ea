/**
 * The seam between the promotion CLI and production: what a production rollout must provide.
 * The CLI decides, asks for approval and signs the evidence; a `ProductionDeployer` applies
 * it to the production stack, watches the result and returns to the earlier version.
 */
import type { PromotionTarget, SignedEvidence } from "./evidence";
import type { Thresholds } from "./thresholds";

/** One line of progress for the person or job watching (written to stderr). */
export type Progress = (line: string) => void;

/** What production runs before the update. */
export interface ProductionState {
  /** The model version production runs; null before its first promotion. */
  readonly modelVersion: string | null;
  /** The evidence production's stack config holds for that version; null when none. */
  readonly evidence: SignedEvidence | null;
}

/** The outcome of an update that was started. */
export type UpdateResult =
  | { readonly ok: true; readonly updateVersion: number | null }
  | { readonly ok: false; readonly reason: string };

/** The outcome of watching production after an update. */
export interface VerifyResult {
  readonly healthy: boolean;
  /** Each rollback trigger that fired (error rate, p99 latency, readiness), as a sentence. */
  readonly reasons: readonly string[];
}

/** How a run starts on its target. */
export interface PrepareOptions {
  /** A dry run: report a pending recovery (RecoveryPending) and change nothing. */
  readonly readOnly: boolean;
  /** Signs rollback evidence returning to `previous` for `target` (the recovery's rollback). */
  readonly signRollback: (
    previous: SignedEvidence,
    approver: string,
    target: PromotionTarget,
  ) => SignedEvidence;
}

/** The canary as the production stack config holds it (`churn-model:canary`). */
export interface CanarySpec {
  readonly version: string;
  readonly weight: number;
  /** The canary version's signed staging promotion evidence (JSON). */
  readonly promotionEvidence: string;
}

/** What a canary promotion needs to know of the target. */
export interface CanaryTarget {
  readonly prometheusUrl: string;
  readonly namespace: string;
  /** The stable's declared replica bounds (`churn-model:replicas`). */
  readonly replicas: { readonly min: number; readonly max: number };
  /** The stable's and (while one runs) the canary's series, from the stack outputs. */
  readonly stableSelector: Readonly<Record<string, string>>;
  readonly canarySelector?: Readonly<Record<string, string>>;
}

export interface ProductionDeployer {
  /**
   * Runs first, before the gate: takes the target's promotion lock and finishes what an
   * interrupted promotion left (recovery.ts), or, read-only, throws RecoveryPending when
   * such a recovery is pending. Throws ConcurrentUpdate while another promotion runs.
   */
  prepare(opts: PrepareOptions): Promise<void>;
  /**
   * Production's version and evidence as its last successful update ran them, from the
   * engine's update history (not the checkout's stack file): what a rollback returns to.
   */
  current(): Promise<ProductionState>;
  /**
   * What evidence for production binds now: its fully qualified stack, namespace and the
   * promotion sequence of its last successful update (its `promotionPosition` output).
   */
  target(): Promise<PromotionTarget>;
  /**
   * Writes the evidence into production's stack config and runs the update with the policy
   * pack. Throws ConcurrentUpdate or DependencyUnavailable when nothing was changed; resolves
   * `{ ok: false }` when the update started and failed.
   */
  deploy(evidence: SignedEvidence, progress: Progress, canaryRecord?: string): Promise<UpdateResult>;
  /** Canary promotions: the target's Prometheus, namespace, sizes and series. */
  canaryTarget?(): Promise<CanaryTarget>;
  /**
   * Canary promotions: sets the canary (null removes it, the stable untouched) and runs the
   * update with the policy pack; `record` (a signed canary record) is kept in the config with it.
   */
  setCanary?(canary: CanarySpec | null, progress: Progress, record?: string): Promise<UpdateResult>;
  /**
   * `npm run promote -- revoke`: adds `version` to the stack's revokeVersions and runs the
   * update with the policy pack; the config is restored when it fails (revoke.ts).
   */
  revoke?(version: string, progress: Progress): Promise<UpdateResult>;
  /** Watches production running `modelVersion` against the rollback triggers. */
  verify(modelVersion: string, progress: Progress): Promise<VerifyResult>;
  /** Applies rollback evidence: production returns to the version that evidence names. */
  rollback(evidence: SignedEvidence, progress: Progress): Promise<UpdateResult>;
  /**
   * Ends the run: releases the lock when production is settled, else leaves the journal for
   * the next run to recover. Called once, whatever happened.
   */
  close(): Promise<void>;
}

export interface DeployerOptions {
  /** The production stack, `--to`. */
  readonly stack: string;
  /** The policy-config file the thresholds came from, for the policy pack. */
  readonly policyConfigFile: string;
  /** The thresholds; their error-rate, p99 and traffic limits are production's rollback triggers. */
  readonly thresholds: Thresholds;
  /** How long verification watches production, seconds (`--bake`). */
  readonly bakeSeconds: number;
  /** A host whose promotion holding the lock is known to be gone (`--take-over-from`). */
  readonly takeOverFrom?: string;
  /** Where the deployer reports what it does outside deploy/verify/rollback (recovery). */
  readonly log?: Progress;
}

/** Builds the deployer for a target stack; called first, before the gate. */
export type DeployerFactory = (options: DeployerOptions) => ProductionDeployer;
