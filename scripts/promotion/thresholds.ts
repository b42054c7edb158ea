/**
 * Reading the policy-config file (policy/config/<environment>.json) from disk. Its meaning —
 * the thresholds, their validation, the evidence key — is the contract's (policy/contract);
 * this module only reads the file and turns contract errors into BadInput.
 */
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../toolchain/env";
import * as contract from "../../policy/contract";
import { underContract } from "./contract-edge";
import { BadInput } from "./errors";

export type { PolicyConfig, Thresholds } from "../../policy/contract";
export { THRESHOLD_KEYS } from "../../policy/contract";

/** The name of the policy whose config section holds the thresholds. */
export const POLICY_NAME = contract.EVIDENCE_POLICY;

/** Validates a `promotion-evidence` section; throws BadInput listing every problem. */
export function parseThresholds(section: unknown, source: string): contract.Thresholds {
  return underContract(() => contract.parseThresholds(section, source));
}

/** Reads and parses a policy-config file; throws BadInput naming the file and the key. */
export function loadPolicyConfig(file: string): contract.PolicyConfig {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new BadInput(`cannot read policy config ${file}: ${(err as Error).message}`);
  }
  return underContract(() => contract.parsePolicyConfigText(raw, `policy config ${file}`));
}

/** The thresholds of a policy-config file. */
export function loadThresholds(file: string): contract.Thresholds {
  return loadPolicyConfig(file).thresholds;
}

/** The default policy-config file of an environment: policy/config/<environment>.json. */
export function defaultThresholdsFile(environment: string): string {
  return path.join(REPO_ROOT, "policy", "config", `${environment}.json`);
}

/** The evidence verification key of a policy-config file, or undefined when it names none. */
export function loadPolicyPublicKey(file: string): string | undefined {
  return loadPolicyConfig(file).publicKey;
}
