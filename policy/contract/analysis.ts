/**
 * How the gate analyses a window (docs/analysis.md): the keys beside the thresholds in the
 * `promotion-evidence` section of the policy config, with their defaults. The gate, the
 * evidence record and the policy pack read them from here.
 */

/** Every check the gate can run, in the order it reports them. */
export const CHECK_NAMES = [
  "accuracy",
  "latency_p99",
  "error_rate",
  "uptime",
  "soak_time",
  "samples",
  "freshness",
  "baseline_accuracy",
  "baseline_latency_p99",
  "baseline_error_rate",
] as const;

export type CheckName = (typeof CHECK_NAMES)[number];

/** `enforce`: the check decides. `dryRun`: measured and reported, never deciding. */
export type CheckMode = "enforce" | "dryRun";

export interface AnalysisSettings {
  /** Confidence of every interval the gate judges on, 0.5 ≤ c < 1. Default 0.95. */
  readonly confidence: number;
  /** Length of the consecutive intervals the window is also judged in, minutes. Default 60. */
  readonly analysisIntervalMinutes: number;
  /** Intervals that may be confidently bad before a metric fails; 0 (default) tolerates none. */
  readonly maxFailedIntervals: number;
  /**
   * Longest time without a scrape sample of the version that still counts as up, and the
   * oldest its newest sample may be at evaluation time, seconds. Default 120.
   */
  readonly maxStalenessSeconds: number;
  /** Checks whose mode is not `enforce`; a check not named enforces. */
  readonly checkModes: Readonly<Partial<Record<CheckName, CheckMode>>>;
}

export const DEFAULT_ANALYSIS: AnalysisSettings = Object.freeze({
  confidence: 0.95,
  analysisIntervalMinutes: 60,
  maxFailedIntervals: 0,
  maxStalenessSeconds: 120,
  checkModes: Object.freeze({}),
});

export const ANALYSIS_KEYS = [
  "confidence",
  "analysisIntervalMinutes",
  "maxFailedIntervals",
  "maxStalenessSeconds",
  "checkModes",
] as const;

/** The pack's configSchema entries (JSON schema) for the analysis keys, with their defaults. */
export const ANALYSIS_CONFIG_SCHEMA: Readonly<Record<string, Record<string, unknown>>> = {
  confidence: {
    type: "number",
    minimum: 0.5,
    exclusiveMaximum: 1,
    default: DEFAULT_ANALYSIS.confidence,
    description: "Confidence of the exact (Clopper-Pearson) and Newcombe intervals the gate judges on.",
  },
  analysisIntervalMinutes: {
    type: "number",
    exclusiveMinimum: 0,
    default: DEFAULT_ANALYSIS.analysisIntervalMinutes,
    description: "Length of the consecutive intervals the window is judged in, minutes.",
  },
  maxFailedIntervals: {
    type: "integer",
    minimum: 0,
    default: DEFAULT_ANALYSIS.maxFailedIntervals,
    description: "Confidently bad intervals a metric tolerates (0: none).",
  },
  maxStalenessSeconds: {
    type: "number",
    exclusiveMinimum: 0,
    default: DEFAULT_ANALYSIS.maxStalenessSeconds,
    description: "Longest gap in the version's scrape samples that still counts as up; oldest newest sample.",
  },
  checkModes: {
    type: "object",
    default: {},
    propertyNames: { enum: [...CHECK_NAMES] },
    additionalProperties: { enum: ["enforce", "dryRun"] },
    description: "Checks that are measured and reported but never decide (dryRun).",
  },
};

/**
 * The analysis settings of a `promotion-evidence` section; absent keys take their defaults.
 * Returns the problems (each naming the key) instead of throwing, so a caller can report them
 * together with its own.
 */
export function parseAnalysisSettings(section: Readonly<Record<string, unknown>>): {
  settings: AnalysisSettings;
  problems: string[];
} {
  const problems: string[] = [];
  const num = (
    key: (typeof ANALYSIS_KEYS)[number],
    fallback: number,
    ok: (v: number) => boolean,
    rule: string,
  ) => {
    const v = section[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) {
      problems.push(`${key} must be ${rule} (got ${JSON.stringify(v)})`);
      return fallback;
    }
    return v;
  };
  const confidence = num(
    "confidence",
    DEFAULT_ANALYSIS.confidence,
    (v) => v >= 0.5 && v < 1,
    "a number from 0.5 up to, not including, 1",
  );
  const analysisIntervalMinutes = num(
    "analysisIntervalMinutes",
    DEFAULT_ANALYSIS.analysisIntervalMinutes,
    (v) => Math.abs(v * 60 - Math.round(v * 60)) < 1e-9 && Math.round(v * 60) >= 1,
    "a positive number of minutes that is a whole number of seconds",
  );
  const maxFailedIntervals = num(
    "maxFailedIntervals",
    DEFAULT_ANALYSIS.maxFailedIntervals,
    (v) => Number.isInteger(v) && v >= 0,
    "a whole number ≥ 0",
  );
  const maxStalenessSeconds = num(
    "maxStalenessSeconds",
    DEFAULT_ANALYSIS.maxStalenessSeconds,
    (v) => Number.isInteger(v) && v >= 1,
    "a whole number of seconds ≥ 1",
  );
  if (problems.length === 0 && analysisIntervalMinutes * 60 < maxStalenessSeconds) {
    problems.push(
      `analysisIntervalMinutes (${analysisIntervalMinutes} min) must be at least maxStalenessSeconds (${maxStalenessSeconds} s)`,
    );
  }
  const checkModes: Partial<Record<CheckName, CheckMode>> = {};
  const modes = section.checkModes;
  if (modes !== undefined) {
    if (typeof modes !== "object" || modes === null || Array.isArray(modes)) {
      problems.push(`checkModes must be an object of check name → "enforce" | "dryRun"`);
    } else {
      for (const [name, mode] of Object.entries(modes)) {
        if (!(CHECK_NAMES as readonly string[]).includes(name)) {
          problems.push(`checkModes.${name}: no such check (known: ${CHECK_NAMES.join(", ")})`);
        } else if (mode !== "enforce" && mode !== "dryRun") {
          problems.push(`checkModes.${name} must be "enforce" or "dryRun" (got ${JSON.stringify(mode)})`);
        } else {
          checkModes[name as CheckName] = mode;
        }
      }
    }
  }
  return {
    settings: { confidence, analysisIntervalMinutes, maxFailedIntervals, maxStalenessSeconds, checkModes },
    problems,
  };
}

/** The confidence each interval is judged at: Bonferroni over `count` intervals. */
export function intervalConfidence(confidence: number, count: number): number {
  return count <= 1 ? confidence : 1 - (1 - confidence) / count;
}
