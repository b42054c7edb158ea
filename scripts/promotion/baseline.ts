/**
 * The optional baseline margins: how much worse than production's current version a candidate
 * may be. They live next to the thresholds in the policy-config file, in the
 * `promotion-evidence` section, as optional keys; all three or none.
 */
import * as fs from "fs";
import { BadInput } from "./errors";
import type { BaselineMargins } from "./gate";
import { POLICY_NAME } from "./thresholds";

export const BASELINE_KEYS = {
  maxAccuracyDrop: "baselineMaxAccuracyDrop",
  maxLatencyP99IncreaseMs: "baselineMaxLatencyP99IncreaseMs",
  maxErrorRateIncrease: "baselineMaxErrorRateIncrease",
} as const satisfies Record<keyof BaselineMargins, string>;

const FRACTIONS: ReadonlySet<keyof BaselineMargins> = new Set(["maxAccuracyDrop", "maxErrorRateIncrease"]);

/** The margins from a parsed `promotion-evidence` section; undefined when none is configured. */
export function parseBaselineMargins(
  section: Record<string, unknown>,
  source: string,
): BaselineMargins | undefined {
  const fields = Object.entries(BASELINE_KEYS) as [keyof BaselineMargins, string][];
  const present = fields.filter(([, key]) => section[key] !== undefined);
  if (present.length === 0) return undefined;
  const problems: string[] = [];
  if (present.length < fields.length) {
    const missing = fields.filter(([, key]) => section[key] === undefined).map(([, key]) => key);
    problems.push(`${missing.join(", ")} missing (the baseline margins are all three or none)`);
  }
  const out: Partial<Record<keyof BaselineMargins, number>> = {};
  for (const [field, key] of present) {
    const v = section[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      problems.push(`${key} must be a finite number ≥ 0 (got ${JSON.stringify(v)})`);
    } else if (FRACTIONS.has(field) && v > 1) {
      problems.push(`${key} must be a fraction between 0 and 1 (got ${v})`);
    } else {
      out[field] = v;
    }
  }
  if (problems.length > 0) throw new BadInput(`${source}: "${POLICY_NAME}": ${problems.join("; ")}`);
  return out as BaselineMargins;
}

/** Reads the margins from a thresholds file (already validated by loadThresholds). */
export function loadBaselineMargins(file: string): BaselineMargins | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BadInput(`cannot read thresholds file ${file}: ${(err as Error).message}`);
  }
  const section = (parsed as Record<string, unknown> | null)?.[POLICY_NAME];
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    throw new BadInput(`thresholds file ${file} has no "${POLICY_NAME}" section`);
  }
  return parseBaselineMargins(section as Record<string, unknown>, file);
}
