/**
 * The gate's comparison with production's current version over the same window: two-sample
 * intervals on the difference (Newcombe for proportions, bucket-resolution p99s) against the
 * configured margins.
 */
import { CheckName } from "./analysis-config";
import { Bounds, histogramQuantile, newcombeDifference, quantileBounds } from "../../policy/contract";
import type { Thresholds } from "./thresholds";
import { Baseline, GateContext, GateMetrics, Measurement, SpanMetrics } from "./gate-types";
import {
  LatencyRead,
  SpanJudgement,
  readCount,
  readHistogram,
  readProportion,
  formatNumber as f,
} from "./gate-judge";
import { Built } from "./gate-checks";

// ------------------------------------------------------------------------------------------
// Baseline comparison

/**
 * One metric against the baseline on how much worse the candidate is (positive = worse), on
 * an interval for the difference, in order:
 * - unreadable counts on either side, or the baseline below its floor → their outcome;
 * - fail when even the optimistic bound is worse than the margin;
 * - pass when the pessimistic bound is within it;
 * - otherwise inconclusive.
 */
export function baselineJudgement(
  name: CheckName,
  what: string,
  margin: number,
  worse: { value: number; bounds: Bounds } | SpanJudgement,
  shown: string,
  failWhenLowerAtMargin = false,
): Built {
  const base = { name, threshold: margin };
  if ("status" in worse)
    return { ...base, value: null, status: worse.status, reason: worse.reason, next: worse.next };
  const { value, bounds } = worse;
  const range = `[${f(bounds.lower)}, ${f(bounds.upper)}]`;
  const text = `${what} ${shown}: worse by ${f(value)} ${range}`;
  const common = { ...base, value, lower: bounds.lower, upper: bounds.upper };
  if (bounds.lower > margin || (failWhenLowerAtMargin && bounds.lower >= margin)) {
    return { ...common, status: "fail", reason: `${text}, confidently more than the margin ${f(margin)}` };
  }
  if (bounds.upper <= margin)
    return { ...common, status: "pass", reason: `${text}: within the margin ${f(margin)}` };
  return {
    ...common,
    status: "inconclusive",
    reason: `${text}: the bounds straddle the margin ${f(margin)}`,
    next: "needs more data on both sides to decide",
  };
}

export function baselineFloor(
  trials: Measurement,
  floor: number,
  baseline: Baseline,
  what: string,
): SpanJudgement | undefined {
  const n = readCount(trials, `${baseline.description} ${what}`);
  if (!n.ok) return { status: n.status, value: null, lower: null, upper: null, reason: n.reason };
  if (n.value < floor) {
    return {
      status: "inconclusive",
      value: null,
      lower: null,
      upper: null,
      reason: `${baseline.description} had only ${f(n.value)} ${what} in the window; ${floor} are needed to compare`,
      next: `needs ~${Math.ceil(floor - n.value)} more ${what} on ${baseline.description}`,
    };
  }
  return undefined;
}

export function proportionDifference(
  cand: SpanMetrics,
  base: SpanMetrics,
  pick: (s: SpanMetrics) => [Measurement, Measurement],
  whatX: string,
  whatN: string,
  floor: number,
  baseline: Baseline,
  confidence: number,
  sign: 1 | -1,
): { value: number; bounds: Bounds; shown: string } | SpanJudgement {
  const [cx, cn] = pick(cand);
  const [bx, bn] = pick(base);
  const floorProblem = baselineFloor(bn, floor, baseline, whatN);
  if (floorProblem) return floorProblem;
  const c = readProportion(cx, cn, `candidate ${whatX}`, `candidate ${whatN}`);
  if (!c.ok) return { status: c.status, value: null, lower: null, upper: null, reason: c.reason };
  const b = readProportion(bx, bn, `${baseline.description} ${whatX}`, `${baseline.description} ${whatN}`);
  if (!b.ok) return { status: b.status, value: null, lower: null, upper: null, reason: b.reason };
  const d = newcombeDifference(c.x, c.n, b.x, b.n, confidence); // candidate − baseline
  const value = sign * (c.x / c.n - b.x / b.n);
  const bounds = sign === 1 ? d : { lower: -d.upper, upper: -d.lower };
  return { value, bounds, shown: `${f(c.x / c.n)} vs ${f(b.x / b.n)} for ${baseline.description}` };
}

export function baselineChecks(
  metrics: GateMetrics,
  t: Thresholds,
  ctx: GateContext,
  baseline: Baseline,
): Built[] {
  const c = ctx.analysis.confidence;
  const m = baseline.margins;
  const acc = proportionDifference(
    metrics.window,
    baseline.metrics,
    (s) => [s.correct, s.labeled],
    "correct predictions",
    "labeled predictions",
    t.minLabeledPredictions,
    baseline,
    c,
    -1,
  );
  const err = proportionDifference(
    metrics.window,
    baseline.metrics,
    (s) => [s.serverErrors, s.requests],
    "5xx responses",
    "requests",
    t.minRequests,
    baseline,
    c,
    1,
  );
  return [
    "status" in acc
      ? baselineJudgement("baseline_accuracy", "accuracy", m.maxAccuracyDrop, acc, "")
      : baselineJudgement("baseline_accuracy", "accuracy", m.maxAccuracyDrop, acc, acc.shown),
    latencyDifference(metrics.window, baseline, t, c),
    "status" in err
      ? baselineJudgement("baseline_error_rate", "error rate", m.maxErrorRateIncrease, err, "")
      : baselineJudgement("baseline_error_rate", "error rate", m.maxErrorRateIncrease, err, err.shown),
  ];
}

/**
 * p99 increase over the baseline, in order:
 * - floors and unreadable histograms → their outcome;
 * - fail when the bucket-resolution bounds of both p99s say the candidate is confidently
 *   worse by at least the margin (Lc − Ub ≥ margin);
 * - inconclusive when either p99 lies in the +Inf bucket (unmeasurable);
 * - otherwise the interpolated p99s decide: pass within the margin, inconclusive beyond it
 *   (a histogram cannot resolve a difference finer than its buckets, so only a confident
 *   regression fails; the absolute latency_p99 check stays confidence-bounded).
 */
export function latencyDifference(
  cand: SpanMetrics,
  baseline: Baseline,
  t: Thresholds,
  confidence: number,
): Built {
  const name = "baseline_latency_p99";
  const margin = baseline.margins.maxLatencyP99IncreaseMs;
  const base = { name, threshold: margin } as const;
  const floorProblem = baselineFloor(baseline.metrics.requests, t.minRequests, baseline, "requests");
  if (floorProblem)
    return {
      ...base,
      value: null,
      status: floorProblem.status,
      reason: floorProblem.reason,
      next: floorProblem.next,
    };
  const sides = [readHistogram(cand.latency), readHistogram(baseline.metrics.latency)];
  for (const [i, s] of sides.entries()) {
    const who = i === 0 ? "candidate" : baseline.description;
    if (!s.ok) return { ...base, value: null, status: s.status, reason: `${who} ${s.reason}` };
    if (s.total === 0) return { ...base, value: null, status: "inconclusive", reason: `${who}: no requests` };
  }
  const [cs, bs] = sides as LatencyRead[];
  const cb = quantileBounds(0.99, cs.buckets, confidence);
  const bb = quantileBounds(0.99, bs.buckets, confidence);
  const cp = histogramQuantile(cs.buckets, 0.99, confidence).estimate * 1000;
  const bp = histogramQuantile(bs.buckets, 0.99, confidence).estimate * 1000;
  const value = cp - bp;
  const lower = (cb.lower - bb.upper) * 1000;
  const upper = (cb.upper - bb.lower) * 1000;
  const shown = `p99 latency (ms) ${f(cp)} vs ${f(bp)} for ${baseline.description}: worse by ${f(value)}`;
  const bounds = {
    lower: Number.isFinite(lower) ? lower : null,
    upper: Number.isFinite(upper) ? upper : null,
  };
  const common = { ...base, value, ...bounds };
  if (Number.isFinite(lower) && lower >= margin) {
    return {
      ...common,
      status: "fail",
      reason: `${shown}, confidently at least ${f(lower)}, more than the margin ${f(margin)}`,
    };
  }
  if (!Number.isFinite(cb.upper) || !Number.isFinite(bb.upper)) {
    return {
      ...common,
      status: "inconclusive",
      reason: `${shown}: a p99 lies in the +Inf bucket and cannot be measured with these buckets`,
      next: "add histogram bounds above the largest finite one",
    };
  }
  if (value <= margin + 1e-9) {
    return {
      ...common,
      status: "pass",
      reason: `${shown}: within the margin ${f(margin)} (not confidently worse)`,
    };
  }
  return {
    ...common,
    status: "inconclusive",
    reason: `${shown}: beyond the margin ${f(margin)} by the interpolated p99s, not confidently at bucket resolution`,
    next: "needs more requests, or finer histogram buckets, to decide",
  };
}
