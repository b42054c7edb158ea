"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ContractError = void 0;
/**
 * The contract's one error type. The contract never exits a process or knows exit codes:
 * callers at their own edge turn a ContractError into their error (the promotion tools into
 * BadInput, the pack into a violation).
 */
class ContractError extends Error {
    /** Each problem as a sentence naming the item. */
    problems;
    constructor(message, problems = [message]) {
        super(message);
        this.name = "ContractError";
        this.problems = problems;
    }
}
exports.ContractError = ContractError;
