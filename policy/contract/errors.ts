/**
 * The contract's one error type. The contract never exits a process or knows exit codes:
 * callers at their own edge turn a ContractError into their error (the promotion tools into
 * BadInput, the pack into a violation).
 */
export class ContractError extends Error {
  /** Each problem as a sentence naming the item. */
  readonly problems: readonly string[];

  constructor(message: string, problems: readonly string[] = [message]) {
    super(message);
    this.name = "ContractError";
    this.problems = problems;
  }
}
