/**
 * The canary settings of a policy-config file: which promotion strategies the target accepts,
 * the steps (weight, duration, maximum duration) and the comparison criteria. They live in the
 * `promotion-evidence` section beside the thresholds, so the promotion and the policy pack read
 * one source (parsePolicyConfig). Pure: returns problems. docs/canary.md explains every key.
 */

export const STRATEGIES = ["canary", "all-at-once"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** One step: the canary's share, how long it is analysed, and when an undecided step gives up. */
export interface CanaryStep {
  /** Percent of the stable's declared size the canary gets, 1..99. */
  readonly weight: number;
  /** Seconds of analysis the step needs before it may pass. */
  readonly durationSeconds: number;
  /** Seconds after which a step that is still inconclusive aborts the canary (≥ durationSeconds). */
  readonly maxDurationSeconds: number;
}

/** How the canary is compared with the stable version on the same traffic. */
export interface CanaryCriteria {
  /** Two-sided confidence of every interval, 0.5..0.9999. */
  readonly confidence: number;
  /** Fewest requests each arm needs in the window before error rate and p99 are judged. */
  readonly minRequestsPerArm: number;
  /** Fewest labeled predictions each arm needs before accuracy is judged; 0: accuracy is not compared. */
  readonly minLabeledPredictionsPerArm: number;
  /** Largest accepted error-rate increase (canary − stable), 0..1. */
  readonly maxErrorRateIncrease: number;
  /** Largest accepted p99 latency increase (canary − stable), milliseconds. */
  readonly maxLatencyP99IncreaseMs: number;
  /** Largest accepted accuracy drop (stable − canary), 0..1. */
  readonly maxAccuracyDrop: number;
}

export interface CanarySettings {
  readonly steps: readonly CanaryStep[];
  /** Seconds between two analyses of a step. */
  readonly analysisIntervalSeconds: number;
  readonly criteria: CanaryCriteria;
}

/** What a target accepts: the strategies (the first is the default) and, with "canary", its settings. */
export interface PromotionStrategies {
  readonly strategies: readonly Strategy[];
  readonly canary?: CanarySettings;
}

/** The strategies of a section that names none: today's path only. */
export const DEFAULT_STRATEGIES: readonly Strategy[] = ["all-at-once"];

type Problems = string[];

function numberAt(
  obj: Record<string, unknown>,
  key: string,
  where: string,
  problems: Problems,
  range: { min: number; max?: number; integer?: boolean; exclusiveMin?: boolean },
): number {
  const v = obj[key];
  const shape =
    `${range.integer ? "an integer" : "a number"} ${range.exclusiveMin ? ">" : "≥"} ${range.min}` +
    (range.max !== undefined ? ` and ≤ ${range.max}` : "");
  if (v === undefined) {
    problems.push(`${where}${key} is missing (${shape})`);
    return NaN;
  }
  const ok =
    typeof v === "number" &&
    Number.isFinite(v) &&
    (range.exclusiveMin ? v > range.min : v >= range.min) &&
    (range.max === undefined || v <= range.max) &&
    (!range.integer || Number.isInteger(v));
  if (!ok) {
    problems.push(`${where}${key} must be ${shape} (got ${JSON.stringify(v)})`);
    return NaN;
  }
  return v as number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseSteps(raw: unknown, problems: Problems): CanaryStep[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push(`canary.steps must be a non-empty list of {weight, durationSeconds, maxDurationSeconds}`);
    return [];
  }
  const steps: CanaryStep[] = [];
  raw.forEach((s: unknown, i) => {
    const where = `canary.steps[${i}].`;
    if (!isObject(s)) {
      problems.push(`canary.steps[${i}] must be an object {weight, durationSeconds, maxDurationSeconds}`);
      return;
    }
    const weight = numberAt(s, "weight", where, problems, { min: 1, max: 99, integer: true });
    const durationSeconds = numberAt(s, "durationSeconds", where, problems, { min: 1, integer: true });
    const maxDurationSeconds = numberAt(s, "maxDurationSeconds", where, problems, { min: 1, integer: true });
    if (durationSeconds > maxDurationSeconds) {
      problems.push(
        `${where}maxDurationSeconds (${maxDurationSeconds}) must not be below durationSeconds (${durationSeconds})`,
      );
    }
    const previous = steps[steps.length - 1];
    if (previous !== undefined && weight <= previous.weight) {
      problems.push(
        `${where}weight (${weight}) must be above the previous step's weight (${previous.weight})`,
      );
    }
    steps.push({ weight, durationSeconds, maxDurationSeconds });
  });
  return steps;
}

function parseCanary(raw: unknown, problems: Problems): CanarySettings | undefined {
  if (!isObject(raw)) {
    problems.push(
      "canary must be an object holding steps, analysisIntervalSeconds and the comparison criteria",
    );
    return undefined;
  }
  const steps = parseSteps(raw.steps, problems);
  const analysisIntervalSeconds = numberAt(raw, "analysisIntervalSeconds", "canary.", problems, {
    min: 1,
    integer: true,
  });
  const shortest = Math.min(...steps.map((s) => s.durationSeconds));
  if (analysisIntervalSeconds > shortest) {
    problems.push(
      `canary.analysisIntervalSeconds (${analysisIntervalSeconds}) must not exceed the shortest step duration (${shortest} s)`,
    );
  }
  const criteria: CanaryCriteria = {
    confidence: numberAt(raw, "confidence", "canary.", problems, { min: 0.5, max: 0.9999 }),
    minRequestsPerArm: numberAt(raw, "minRequestsPerArm", "canary.", problems, { min: 1 }),
    minLabeledPredictionsPerArm: numberAt(raw, "minLabeledPredictionsPerArm", "canary.", problems, {
      min: 0,
    }),
    maxErrorRateIncrease: numberAt(raw, "maxErrorRateIncrease", "canary.", problems, { min: 0, max: 1 }),
    maxLatencyP99IncreaseMs: numberAt(raw, "maxLatencyP99IncreaseMs", "canary.", problems, { min: 0 }),
    maxAccuracyDrop: numberAt(raw, "maxAccuracyDrop", "canary.", problems, { min: 0, max: 1 }),
  };
  return { steps, analysisIntervalSeconds, criteria };
}

/**
 * Reads `strategies` and `canary` from a parsed `promotion-evidence` section. Without
 * `strategies` the target accepts all-at-once only; naming "canary" requires the `canary`
 * settings. Every problem is returned at once, each naming its key; with problems the
 * settings must not be used.
 */
export function promotionStrategiesOf(section: Readonly<Record<string, unknown>>): {
  settings: PromotionStrategies;
  problems: string[];
} {
  const problems: Problems = [];
  let strategies: Strategy[] = [...DEFAULT_STRATEGIES];
  if (section.strategies !== undefined) {
    const raw = section.strategies;
    if (!Array.isArray(raw) || raw.length === 0) {
      problems.push(`strategies must be a non-empty list of ${STRATEGIES.map((s) => `"${s}"`).join(", ")}`);
    } else {
      strategies = [];
      for (const s of raw as unknown[]) {
        if (typeof s !== "string" || !(STRATEGIES as readonly string[]).includes(s)) {
          problems.push(
            `strategies: ${JSON.stringify(s)} is not one of ${STRATEGIES.map((x) => `"${x}"`).join(", ")}`,
          );
        } else if (strategies.includes(s as Strategy)) {
          problems.push(`strategies: "${s}" is named twice`);
        } else {
          strategies.push(s as Strategy);
        }
      }
    }
  }
  let canary: CanarySettings | undefined;
  if (section.canary !== undefined) {
    canary = parseCanary(section.canary, problems);
  } else if (strategies.includes("canary")) {
    problems.push('strategies names "canary" but there is no canary section with its steps and criteria');
  }
  return { settings: canary === undefined ? { strategies } : { strategies, canary }, problems };
}
