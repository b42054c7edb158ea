/**
 * Typed errors of the delivery tools. Each carries the exit code the CLI entry turns it
 * into; nothing else maps errors to exit codes.
 */
export abstract class CdError extends Error {
  abstract readonly exitCode: number;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags, config, files or versions; nothing was changed. Exit 2. */
export class BadInput extends CdError {
  readonly exitCode = 2;
}

/** Prometheus, the engine, the cluster or a stack could not be reached or read. Exit 2. */
export class DependencyUnavailable extends CdError {
  readonly exitCode = 2;
}

/** Another update of the same stack is running; nothing was retried. Exit 2. */
export class ConcurrentUpdate extends CdError {
  readonly exitCode = 2;
}

/** The gate refused the candidate. Exit 3. */
export class GateRejected extends CdError {
  readonly exitCode = 3;
}

/** No approval was given, or it was denied. Exit 4. */
export class ApprovalMissing extends CdError {
  readonly exitCode = 4;
}

/** The update went out, a rollback trigger fired, and production was rolled back. Exit 5. */
export class RolledBack extends CdError {
  readonly exitCode = 5;
}

/**
 * The target (production, for a promotion) may be left broken and nothing more is tried by
 * itself: a rollback that was impossible (no earlier promoted version), failed, or left it
 * unhealthy, or a recovery that could not finish or could not read production back (its
 * refresh failed). A person is needed now. Exit 6.
 */
export class HumanNeeded extends CdError {
  readonly exitCode = 6;
}

/**
 * An earlier promotion of the target ended without finishing and its recovery is pending;
 * a dry run reports it and decides nothing (the next promotion recovers first). Exit 2.
 */
export class RecoveryPending extends CdError {
  readonly exitCode = 2;
}

/** The canary was judged worse (or could not be shown good) and removed; the stable never changed. Exit 5. */
export class CanaryAborted extends CdError {
  readonly exitCode = 5;
}

export const EXIT_UNEXPECTED = 1;

/** Every exit code of the delivery tools, for `--help` and docs. */
export const EXIT_CODES: Readonly<Record<number, string>> = {
  0: "promoted (dry run: the gate passed)",
  1: "unexpected failure (a bug)",
  2: "bad input or config, an unreachable dependency, another promotion running, or a recovery pending (dry run)",
  3: "the gate rejected the candidate; nothing was changed",
  4: "approval missing or denied; nothing was changed",
  5: "deployed, a rollback trigger fired, and production was rolled back and verified healthy",
  6: "production needs a human now: a rollback was impossible or failed, production is unhealthy after it, or a recovery could not read production back",
};

export function exitCodeOf(err: unknown): number {
  return err instanceof CdError ? err.exitCode : EXIT_UNEXPECTED;
}
