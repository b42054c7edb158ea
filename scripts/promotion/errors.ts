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

export const EXIT_UNEXPECTED = 1;

export function exitCodeOf(err: unknown): number {
  return err instanceof CdError ? err.exitCode : EXIT_UNEXPECTED;
}
