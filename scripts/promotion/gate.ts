/**
 * The promotion gate: a pure function from measured numbers, thresholds and context to a
 * decision. No I/O. It fails closed: a check passes only on a finite number that meets its
 * threshold; a missing series, NaN, ±Inf or a failed query fails that check with its reason.
 */
import type { Thresholds } from "./thresholds";

/** One number from Prometheus: its value (null: no series), or why it could not be measured. */
export interface Measurement {
  readonly value: number | null;
  /** Set when the query failed; the value is then meaningless. */
  readonly error?: string;
}

/** What the gate needs from the metrics of one model version over the window. */
export interface GateMetrics {
  readonly accuracy: Measurement;
  readonly latencyP99Ms: Measurement;
  readonly errorRate: Measurement;
  readonly uptime: Measurement;
  readonly requests: Measurement;
  readonly labeledPredictions: Measurement;
}

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
  readonly metrics: GateMetrics;
  readonly margins: BaselineMargins;
}

export interface GateContext {
  readonly modelVersion: string;
  readonly window: { readonly start: Date; readonly end: Date };
  /** When the candidate went live in staging. */
  readonly deployedAt: Date;
  /** Production's current version over the same window, when a baseline is configured. */
  readonly baseline?: Baseline;
}

export type CheckName =
  | "accuracy"
  | "latency_p99"
  | "error_rate"
  | "uptime"
  | "soak_time"
  | "samples"
  | "baseline_accuracy"
  | "baseline_latency_p99"
  | "baseline_error_rate";

export interface Check {
  readonly name: CheckName;
  /** The measured value; null when there is no finite number. */
  readonly value: number | null;
  readonly threshold: number;
  readonly passed: boolean;
  readonly reason: string;
}

/** The decision, exactly as `--json` prints it (DESIGN.md, Promotion CLI contract). */
export interface Decision {
  readonly decision: "promote" | "reject";
  readonly modelVersion: string;
  readonly window: { readonly start: string; readonly end: string };
  readonly checks: readonly Check[];
}

/** A number as reasons and reports show it: six significant digits, no trailing zeros. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

type Usable = { ok: true; value: number } | { ok: false; reason: string };

/** A measurement the gate may compare, or the reason it may not. */
function usable(m: Measurement, what: string, range?: "fraction" | "non-negative"): Usable {
  if (m.error !== undefined) return { ok: false, reason: `${what}: query failed: ${m.error}` };
  if (m.value === null) return { ok: false, reason: `${what}: no data (the query returned no series)` };
  if (Number.isNaN(m.value)) return { ok: false, reason: `${what}: value is NaN (no events in the window)` };
  if (!Number.isFinite(m.value))
    return { ok: false, reason: `${what}: value is ${m.value > 0 ? "+Inf" : "-Inf"}` };
  if (range === "fraction" && (m.value < 0 || m.value > 1)) {
    return { ok: false, reason: `${what}: ${formatNumber(m.value)} is not a fraction between 0 and 1` };
  }
  if (range === "non-negative" && m.value < 0) {
    return { ok: false, reason: `${what}: ${formatNumber(m.value)} is negative` };
  }
  return { ok: true, value: m.value };
}

function finiteOrNull(m: Measurement): number | null {
  return m.error === undefined && m.value !== null && Number.isFinite(m.value) ? m.value : null;
}

function atLeast(name: CheckName, what: string, m: Measurement, min: number, range?: "fraction"): Check {
  const u = usable(m, what, range ?? "non-negative");
  if (!u.ok) return { name, value: finiteOrNull(m), threshold: min, passed: false, reason: u.reason };
  const passed = u.value >= min;
  const reason = passed
    ? `${what} ${formatNumber(u.value)} ≥ ${formatNumber(min)}`
    : `${what} ${formatNumber(u.value)} is below the minimum ${formatNumber(min)}`;
  return { name, value: u.value, threshold: min, passed, reason };
}

function atMost(name: CheckName, what: string, m: Measurement, max: number, range?: "fraction"): Check {
  const u = usable(m, what, range ?? "non-negative");
  if (!u.ok) return { name, value: finiteOrNull(m), threshold: max, passed: false, reason: u.reason };
  const passed = u.value <= max;
  const reason = passed
    ? `${what} ${formatNumber(u.value)} ≤ ${formatNumber(max)}`
    : `${what} ${formatNumber(u.value)} is above the maximum ${formatNumber(max)}`;
  return { name, value: u.value, threshold: max, passed, reason };
}

function soakCheck(context: GateContext, minSoakHours: number): Check {
  const hours = (context.window.end.getTime() - context.deployedAt.getTime()) / 3_600_000;
  const passed = hours >= minSoakHours;
  const reason = passed
    ? `${context.modelVersion} has run in staging for ${formatNumber(hours)} h ≥ ${formatNumber(minSoakHours)} h`
    : `${context.modelVersion} has run in staging for only ${formatNumber(hours)} h; ` +
      `${formatNumber(minSoakHours)} h are required`;
  return { name: "soak_time", value: hours, threshold: minSoakHours, passed, reason };
}

function samplesCheck(metrics: GateMetrics, t: Thresholds): Check {
  const requests = usable(metrics.requests, "requests", "non-negative");
  const labeled = usable(metrics.labeledPredictions, "labeled predictions", "non-negative");
  const value = requests.ok ? requests.value : null;
  const problems: string[] = [];
  if (!requests.ok) problems.push(requests.reason);
  else if (requests.value < t.minRequests) {
    problems.push(
      `only ${formatNumber(requests.value)} requests in the window; ${t.minRequests} are required`,
    );
  }
  if (!labeled.ok) problems.push(labeled.reason);
  else if (labeled.value < t.minLabeledPredictions) {
    problems.push(
      `only ${formatNumber(labeled.value)} labeled predictions in the window; ${t.minLabeledPredictions} are required`,
    );
  }
  if (problems.length > 0) {
    return { name: "samples", value, threshold: t.minRequests, passed: false, reason: problems.join("; ") };
  }
  const reason =
    `${formatNumber(requests.ok ? requests.value : 0)} requests ≥ ${t.minRequests} and ` +
    `${formatNumber(labeled.ok ? labeled.value : 0)} labeled predictions ≥ ${t.minLabeledPredictions}`;
  return { name: "samples", value, threshold: t.minRequests, passed: true, reason };
}

/**
 * Compares candidate and baseline on one metric. `worse` is how much worse the candidate is
 * (positive = worse); the floor is the number of events the baseline needs to be meaningful.
 */
function baselineCheck(
  name: CheckName,
  what: string,
  candidate: Measurement,
  base: Measurement,
  baseEvents: Measurement,
  minEvents: number,
  margin: number,
  worse: (candidate: number, base: number) => number,
  baseline: Baseline,
): Check {
  const c = usable(candidate, `candidate ${what}`, "non-negative");
  const b = usable(base, `${baseline.description} ${what}`, "non-negative");
  const events = usable(baseEvents, `${baseline.description} sample count`, "non-negative");
  const fail = (reason: string, value: number | null = null): Check => ({
    name,
    value,
    threshold: margin,
    passed: false,
    reason,
  });
  if (!c.ok) return fail(c.reason);
  if (!b.ok) return fail(b.reason);
  if (!events.ok) return fail(events.reason);
  if (events.value < minEvents) {
    return fail(
      `${baseline.description} had only ${formatNumber(events.value)} events in the window; ` +
        `${minEvents} are needed to compare ${what}`,
    );
  }
  // Differences of fractions carry binary rounding (0.92 − 0.90 = 0.0200…02): a delta at the
  // margin within 1e-9 counts as at the margin.
  const delta = worse(c.value, b.value);
  const shown = `${formatNumber(c.value)} vs ${formatNumber(b.value)} for ${baseline.description}`;
  if (delta > margin + 1e-9) {
    return fail(
      `${what} ${shown}: worse by ${formatNumber(delta)}, more than the margin ${formatNumber(margin)}`,
      delta,
    );
  }
  return {
    name,
    value: delta,
    threshold: margin,
    passed: true,
    reason: `${what} ${shown}: within the margin ${formatNumber(margin)}`,
  };
}

function baselineChecks(metrics: GateMetrics, t: Thresholds, baseline: Baseline): Check[] {
  const b = baseline.metrics;
  const m = baseline.margins;
  return [
    baselineCheck(
      "baseline_accuracy",
      "accuracy",
      metrics.accuracy,
      b.accuracy,
      b.labeledPredictions,
      t.minLabeledPredictions,
      m.maxAccuracyDrop,
      (c, base) => base - c,
      baseline,
    ),
    baselineCheck(
      "baseline_latency_p99",
      "p99 latency (ms)",
      metrics.latencyP99Ms,
      b.latencyP99Ms,
      b.requests,
      t.minRequests,
      m.maxLatencyP99IncreaseMs,
      (c, base) => c - base,
      baseline,
    ),
    baselineCheck(
      "baseline_error_rate",
      "error rate",
      metrics.errorRate,
      b.errorRate,
      b.requests,
      t.minRequests,
      m.maxErrorRateIncrease,
      (c, base) => c - base,
      baseline,
    ),
  ];
}

/** Decides whether the candidate may be promoted. Pure: same input, same decision. */
export function decide(metrics: GateMetrics, thresholds: Thresholds, context: GateContext): Decision {
  const checks: Check[] = [
    atLeast("accuracy", "accuracy", metrics.accuracy, thresholds.minAccuracy, "fraction"),
    atMost("latency_p99", "p99 latency (ms)", metrics.latencyP99Ms, thresholds.maxLatencyP99Ms),
    atMost("error_rate", "error rate", metrics.errorRate, thresholds.maxErrorRate, "fraction"),
    atLeast("uptime", "uptime", metrics.uptime, thresholds.minUptime, "fraction"),
    soakCheck(context, thresholds.minSoakHours),
    samplesCheck(metrics, thresholds),
  ];
  if (context.baseline !== undefined) {
    checks.push(...baselineChecks(metrics, thresholds, context.baseline));
  }
  return {
    decision: checks.every((c) => c.passed) ? "promote" : "reject",
    modelVersion: context.modelVersion,
    window: { start: context.window.start.toISOString(), end: context.window.end.toISOString() },
    checks,
  };
}
