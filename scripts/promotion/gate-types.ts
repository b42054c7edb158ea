/**
 * The gate's data: what it reads (measurements per span and interval), its context, and what it
 * decides (checks with outcomes, intervals and bounds). See gate.ts and docs/analysis.md.
 */
import { AnalysisSettings, CheckMode, CheckName } from "./analysis-config";
import { Bucket } from "../../policy/contract";
import type { AnalysisMethod, Outcome } from "../../policy/contract";

/** One number from Prometheus: its value (null: no series), or why it could not be measured. */
export interface Measurement {
  readonly value: number | null;
  /** Set when the query failed; the value is then meaningless. */
  readonly error?: string;
}

/** The latency histogram's cumulative buckets summed over pods (null: no series). */
export interface HistogramMeasurement {
  readonly buckets: readonly Bucket[] | null;
  readonly error?: string;
}

/** The counts of one span of time (the whole window or one interval), pooled over pods. */
export interface SpanMetrics {
  /** Predictions whose ground truth arrived. */
  readonly labeled: Measurement;
  /** Of those, the correct ones. */
  readonly correct: Measurement;
  readonly requests: Measurement;
  /** Requests answered with any 5xx status. */
  readonly serverErrors: Measurement;
  readonly latency: HistogramMeasurement;
  /** Gap-aware uptime: time without any scrape sample counts as down, 0..1. */
  readonly uptime: Measurement;
}

export interface IntervalMetrics extends SpanMetrics {
  readonly start: Date;
  readonly end: Date;
}

/** What the gate needs from the metrics of one model version. */
export interface GateMetrics {
  readonly window: SpanMetrics;
  /** The consecutive intervals ending at the window's end, oldest first. */
  readonly intervals: readonly IntervalMetrics[];
  /** Unix seconds of the version's first scrape sample in the look-back (null: none). */
  readonly firstSample: Measurement;
  /** Unix seconds of its newest scrape sample at evaluation time (null: none in the window). */
  readonly lastSample: Measurement;
  /**
   * Unix seconds of the newest sample of each of its judged series at evaluation time (null:
   * none within one interval of it); each must be as fresh as `up` (docs/analysis.md).
   */
  readonly newestSamples: Readonly<Record<FreshSeries, Measurement>>;
}

/** The candidate's series whose newest sample must be fresh besides `up`, and their metrics. */
export const FRESH_SERIES = {
  requests: "churn_model_requests_total",
  latency: "churn_model_request_duration_seconds_count",
  labeled: "churn_model_predictions_labeled_total",
} as const;
export type FreshSeries = keyof typeof FRESH_SERIES;

/** How much worse than production's current version the candidate may be. */
export interface BaselineMargins {
  /** Largest accepted accuracy drop (baseline − candidate), 0..1. */
  readonly maxAccuracyDrop: number;
  /** Largest accepted p99 latency increase (candidate − baseline), milliseconds. */
  readonly maxLatencyP99IncreaseMs: number;
  /** Largest accepted error rate increase (candidate − baseline), 0..1. */
  readonly maxErrorRateIncrease: number;
}

export interface Baseline {
  /** What the baseline is, for reasons (e.g. `production 1.0.0`). */
  readonly description: string;
  /** Its counts over the same window. */
  readonly metrics: SpanMetrics;
  readonly margins: BaselineMargins;
}

export interface GateContext {
  readonly modelVersion: string;
  readonly window: { readonly start: Date; readonly end: Date };
  /** When the candidate went live in staging, as the release record claims. */
  readonly deployedAt: Date;
  readonly analysis: AnalysisSettings;
  /** Production's current version over the same window, when a baseline is configured. */
  readonly baseline?: Baseline;
}

/** Worse outcomes rank higher. */
export const OUTCOME_RANK: Readonly<Record<Outcome, number>> = {
  pass: 0,
  inconclusive: 1,
  error: 2,
  fail: 3,
};

/** The worst of some outcomes; none at all is inconclusive (nothing decided is never a pass). */
export function worstOutcome(outcomes: readonly Outcome[]): Outcome {
  if (outcomes.length === 0) return "inconclusive";
  return outcomes.reduce((a, b) => (OUTCOME_RANK[b] > OUTCOME_RANK[a] ? b : a));
}

export interface IntervalResult {
  readonly start: string;
  readonly end: string;
  readonly status: Outcome;
  /** The interval's point estimate (null: none). */
  readonly value: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly reason: string;
}

export interface Check {
  readonly name: CheckName;
  /** The point estimate; null when there is no finite number. */
  readonly value: number | null;
  readonly threshold: number;
  /** status === "pass". */
  readonly passed: boolean;
  readonly reason: string;
  readonly status: Outcome;
  readonly mode: CheckMode;
  /** The bounds judged on, at the configured confidence (null: not applicable or not measured). */
  readonly lower: number | null;
  readonly upper: number | null;
  /** What would change the outcome, when it is not a pass. */
  readonly next?: string;
  /** Per-interval outcomes of the metrics judged in intervals. */
  readonly intervals?: readonly IntervalResult[];
}

/** The decision; `decision`, `modelVersion`, `window` and `checks` are the CLI contract's. */
export interface Decision {
  readonly decision: "promote" | "reject";
  readonly outcome: Outcome;
  readonly modelVersion: string;
  readonly window: { readonly start: string; readonly end: string };
  readonly checks: readonly Check[];
  readonly analysis: AnalysisMethod;
}
