/**
 * The promotion thresholds. Their one source of truth is the policy pack's config file
 * (policy/config/<environment>.json, Pulumi's policy-config format): the promotion-evidence
 * policy reads them inside the engine, and the promotion script reads the same file here.
 */
import * as fs from "fs";
import * as path from "path";
import { BadInput } from "./errors";

export interface Thresholds {
  /** Lowest accepted accuracy (fraction of labeled predictions that were correct), 0..1. */
  readonly minAccuracy: number;
  /** Highest accepted p99 request latency, milliseconds. */
  readonly maxLatencyP99Ms: number;
  /** Highest accepted share of 5xx responses, 0..1. */
  readonly maxErrorRate: number;
  /** Lowest accepted mean of `up` over the window, 0..1. */
  readonly minUptime: number;
  /** Hours the candidate must have run in staging at evaluation time. */
  readonly minSoakHours: number;
  /** Fewest requests in the window for the numbers to count. */
  readonly minRequests: number;
  /** Fewest labeled predictions in the window for accuracy to count. */
  readonly minLabeledPredictions: number;
  /** Oldest promotion evidence the policy accepts at update time, hours. */
  readonly maxEvidenceAgeHours: number;
}

export const THRESHOLD_KEYS: readonly (keyof Thresholds)[] = [
  "minAccuracy",
  "maxLatencyP99Ms",
  "maxErrorRate",
  "minUptime",
  "minSoakHours",
  "minRequests",
  "minLabeledPredictions",
  "maxEvidenceAgeHours",
];

/** Keys whose value is a fraction and must lie in [0, 1]. */
const FRACTIONS = new Set<keyof Thresholds>(["minAccuracy", "maxErrorRate", "minUptime"]);

/** The name of the policy whose config section holds the thresholds. */
export const POLICY_NAME = "promotion-evidence";

/**
 * Validates a `promotion-evidence` config section. Every key must be present and a finite,
 * non-negative number (fractions within 0..1); `source` names the file in errors.
 */
export function parseThresholds(section: unknown, source: string): Thresholds {
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    throw new BadInput(`${source}: "${POLICY_NAME}" must be an object holding ${THRESHOLD_KEYS.join(", ")}`);
  }
  const obj = section as Record<string, unknown>;
  const problems: string[] = [];
  const out: Partial<Record<keyof Thresholds, number>> = {};
  for (const key of THRESHOLD_KEYS) {
    const v = obj[key];
    if (v === undefined) {
      problems.push(`${key} is missing`);
    } else if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      problems.push(`${key} must be a finite number ≥ 0 (got ${JSON.stringify(v)})`);
    } else if (FRACTIONS.has(key) && v > 1) {
      problems.push(`${key} must be a fraction between 0 and 1 (got ${v})`);
    } else {
      out[key] = v;
    }
  }
  if (problems.length > 0) {
    throw new BadInput(`${source}: "${POLICY_NAME}": ${problems.join("; ")}`);
  }
  return out as Thresholds;
}

/** Reads the thresholds from a policy-config file. */
export function loadThresholds(file: string): Thresholds {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new BadInput(`cannot read thresholds file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new BadInput(`thresholds file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || !(POLICY_NAME in parsed)) {
    throw new BadInput(`thresholds file ${file} has no "${POLICY_NAME}" section`);
  }
  return parseThresholds((parsed as Record<string, unknown>)[POLICY_NAME], file);
}

/** The default thresholds file of an environment: policy/config/<environment>.json. */
export function defaultThresholdsFile(environment: string): string {
  return path.resolve(__dirname, "..", "..", "policy", "config", `${environment}.json`);
}

/**
 * The evidence verification key of a policy-config file (`promotion-evidence.publicKey`),
 * or undefined when the file names none.
 */
export function loadPolicyPublicKey(file: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BadInput(`cannot read policy config ${file}: ${(err as Error).message}`);
  }
  const section = (parsed as Record<string, unknown> | null)?.[POLICY_NAME] as
    | Record<string, unknown>
    | undefined;
  const key = section?.publicKey;
  return typeof key === "string" && key.trim() !== "" ? key : undefined;
}
