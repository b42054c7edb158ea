/**
 * Where the promotion tools meet the contract (policy/contract): a ContractError becomes
 * BadInput, the tools' bad-input error (exit 2), and nothing else changes.
 */
import { ContractError } from "../../policy/contract";
import { BadInput } from "./errors";

/** Runs `f`, turning a ContractError into BadInput with the same message. */
export function underContract<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof ContractError) {
      throw new BadInput(err.message);
    }
    throw err;
  }
}
