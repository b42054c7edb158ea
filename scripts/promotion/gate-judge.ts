/**
 * The gate's judgement primitives: reading counts and histograms, judging one span's proportion
 * or latency against a threshold on confidence bounds, and combining consecutive intervals with
 * the whole window. Pure; used by the checks (gate-checks.ts, gate-baseline.ts).
 */
import { CheckName } from "./analysis-config";
import {
  Bucket,
  clopperPearson,
  histogramQuantile,
  normaliseBuckets,
  quantileBounds,
  trialsToDecide,
} from "../../policy/contract";
import type { Outcome } from "../../policy/contract";
import { Check, HistogramMeasurement, IntervalMetrics, IntervalResult, Measurement } from "./gate-types";

/** A number as reasons and reports show it: six significant digits, no trailing zeros. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

const f = formatNumber;

// ------------------------------------------------------------------------------------------
// Reading counts

export type Read = { ok: true; value: number } | { ok: false; status: Outcome; reason: string };

/**
 * A count the gate may use, or why not:
 * - a failed query → error; ±Inf or a negative count → error (no counter gives those);
 * - no series → inconclusive; NaN (no events) → inconclusive.
 */
export function readCount(m: Measurement, what: string): Read {
  if (m.error !== undefined)
    return { ok: false, status: "error", reason: `${what}: query failed: ${m.error}` };
  if (m.value === null) return { ok: false, status: "inconclusive", reason: `${what}: no data (no series)` };
  if (Number.isNaN(m.value)) return { ok: false, status: "inconclusive", reason: `${what}: NaN (no events)` };
  if (!Number.isFinite(m.value)) {
    return { ok: false, status: "error", reason: `${what}: ${m.value > 0 ? "+Inf" : "-Inf"} is not a count` };
  }
  if (m.value < 0) return { ok: false, status: "error", reason: `${what}: ${f(m.value)} is negative` };
  return { ok: true, value: m.value };
}

export type ReadProportion =
  | { ok: true; x: number; n: number }
  | { ok: false; status: Outcome; reason: string; n: number | null };

/** successes out of trials; zero trials is inconclusive; successes above trials an error. */
export function readProportion(
  successes: Measurement,
  trials: Measurement,
  whatX: string,
  whatN: string,
): ReadProportion {
  const n = readCount(trials, whatN);
  if (!n.ok) return { ...n, n: null };
  const x = readCount(successes, whatX);
  if (!x.ok) return { ...x, n: n.value };
  if (n.value === 0) return { ok: false, status: "inconclusive", reason: `no ${whatN}`, n: 0 };
  // Counters are extrapolated by increase(): allow a rounding hair above the total.
  if (x.value > n.value * (1 + 1e-9) + 1e-9) {
    return {
      ok: false,
      status: "error",
      reason: `${f(x.value)} ${whatX} exceed ${f(n.value)} ${whatN}`,
      n: n.value,
    };
  }
  return { ok: true, x: Math.min(x.value, n.value), n: n.value };
}

// ------------------------------------------------------------------------------------------
// Judgements of one span

export interface SpanJudgement {
  readonly status: Outcome;
  readonly value: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly reason: string;
  readonly next?: string;
  /** Trials seen, for floors. */
  readonly n?: number;
}

export interface ProportionSpec {
  readonly what: string;
  readonly whatX: string;
  readonly whatN: string;
  /** "min": pass when lower ≥ threshold. "max": pass when upper ≤ threshold. */
  readonly direction: "min" | "max";
  readonly threshold: number;
  /** Fewest trials for a pass over the whole window (0 for intervals). */
  readonly floor: number;
  readonly floorKey: string;
}

/**
 * A proportion against its threshold, in order:
 * - unreadable counts or zero trials → their outcome (error, inconclusive);
 * - fail when the optimistic bound misses the threshold (upper < min; lower > max);
 * - pass when the pessimistic bound meets it (lower ≥ min; upper ≤ max) and the floor is met;
 * - otherwise inconclusive, saying how many more trials would decide it.
 */
export function judgeProportion(
  successes: Measurement,
  trials: Measurement,
  spec: ProportionSpec,
  confidence: number,
): SpanJudgement {
  const r = readProportion(successes, trials, spec.whatX, spec.whatN);
  if (!r.ok) {
    const next =
      r.status === "inconclusive" && spec.floor > 0
        ? `needs at least ${spec.floor} ${spec.whatN} (${spec.floorKey})`
        : undefined;
    return {
      status: r.status,
      value: null,
      lower: null,
      upper: null,
      reason: r.reason,
      next,
      n: r.n ?? undefined,
    };
  }
  const { x, n } = r;
  const p = x / n;
  const b = clopperPearson(x, n, confidence);
  const shown = `${spec.what} ${f(p)} [${f(b.lower)}, ${f(b.upper)}] on ${f(n)} ${spec.whatN}`;
  const t = f(spec.threshold);
  const base = { value: p, lower: b.lower, upper: b.upper, n };
  const confidently = spec.direction === "min" ? b.upper < spec.threshold : b.lower > spec.threshold;
  if (confidently) {
    const side =
      spec.direction === "min" ? `upper bound below the minimum ${t}` : `lower bound above the maximum ${t}`;
    return { ...base, status: "fail", reason: `${shown}: ${side}` };
  }
  const meets = spec.direction === "min" ? b.lower >= spec.threshold : b.upper <= spec.threshold;
  if (meets && n >= spec.floor) {
    const side = spec.direction === "min" ? `lower bound ≥ ${t}` : `upper bound ≤ ${t}`;
    return { ...base, status: "pass", reason: `${shown}: ${side}` };
  }
  if (meets) {
    return {
      ...base,
      status: "inconclusive",
      reason: `${shown}: only ${f(n)} ${spec.whatN}; ${spec.floor} are required`,
      next: `needs ~${Math.ceil(spec.floor - n)} more ${spec.whatN} (${spec.floorKey} ${spec.floor})`,
    };
  }
  const needed = trialsToDecide(p, spec.threshold, confidence);
  const more =
    needed === undefined ? undefined : Math.max(Math.ceil(needed - n), Math.ceil(spec.floor - n), 1);
  return {
    ...base,
    status: "inconclusive",
    reason: `${shown}: the bounds straddle ${t}`,
    next:
      more === undefined
        ? `the estimate sits at the threshold ${t}; more ${spec.whatN} alone may not decide it`
        : `needs ~${more} more ${spec.whatN} at the current ${spec.what} to decide`,
  };
}

export interface LatencyRead {
  readonly ok: true;
  readonly buckets: Bucket[];
  readonly total: number;
}

export function readHistogram(
  m: HistogramMeasurement,
): LatencyRead | { ok: false; status: Outcome; reason: string } {
  if (m.error !== undefined)
    return { ok: false, status: "error", reason: `latency histogram: query failed: ${m.error}` };
  if (m.buckets === null || m.buckets.length === 0) {
    return { ok: false, status: "inconclusive", reason: "latency histogram: no data (no series)" };
  }
  if (m.buckets.some((b) => Number.isNaN(b.count))) {
    return { ok: false, status: "inconclusive", reason: "latency histogram: NaN (no events)" };
  }
  const buckets = normaliseBuckets(m.buckets);
  if (typeof buckets === "string")
    return { ok: false, status: "error", reason: `latency histogram: ${buckets}` };
  return { ok: true, buckets, total: buckets.at(-1)!.count };
}

/**
 * p99 latency against its maximum, at bucket resolution, in order:
 * - unreadable histogram or no requests → their outcome;
 * - fail when the p99 is confidently above a bound ≥ the threshold (lower ≥ threshold);
 * - pass when it is confidently at or below a bound ≤ the threshold (upper ≤ threshold) and
 *   the request floor is met;
 * - otherwise inconclusive; a p99 in the +Inf bucket cannot be measured with these buckets.
 */
export function judgeLatency(
  m: HistogramMeasurement,
  maxMs: number,
  floor: number,
  confidence: number,
): SpanJudgement {
  const r = readHistogram(m);
  if (!r.ok) return { status: r.status, value: null, lower: null, upper: null, reason: r.reason };
  if (r.total === 0) {
    return { status: "inconclusive", value: null, lower: null, upper: null, reason: "no requests", n: 0 };
  }
  const p99 = histogramQuantile(r.buckets, 0.99, confidence).estimate * 1000;
  const b = quantileBounds(0.99, r.buckets, confidence);
  const lower = b.lower * 1000;
  const upper = b.upper * 1000;
  const largest = r.buckets.length >= 2 ? r.buckets[r.buckets.length - 2].le * 1000 : 0;
  const base = {
    value: Number.isFinite(p99) ? p99 : null,
    lower,
    upper: Number.isFinite(upper) ? upper : null,
    n: r.total,
  };
  const range = `${Number.isFinite(upper) ? `(${f(lower)}, ${f(upper)}]` : `above ${f(lower)}`} ms`;
  const shown = `p99 ${f(p99)} ms, confidently ${range}, on ${f(r.total)} requests`;
  if (lower >= maxMs)
    return { ...base, status: "fail", reason: `${shown}: above the maximum ${f(maxMs)} ms` };
  if (upper <= maxMs && r.total >= floor)
    return { ...base, status: "pass", reason: `${shown}: ≤ ${f(maxMs)} ms` };
  if (upper <= maxMs) {
    return {
      ...base,
      status: "inconclusive",
      reason: `${shown}: only ${f(r.total)} requests; ${floor} are required`,
      next: `needs ~${Math.ceil(floor - r.total)} more requests (minRequests ${floor})`,
    };
  }
  const inInf = r.total - r.buckets[r.buckets.length - 2].count > 0.01 * r.total;
  if (inInf && largest <= maxMs) {
    return {
      ...base,
      status: "inconclusive",
      reason:
        `the p99 lies in the +Inf bucket, above the largest finite bound ${f(largest)} ms: ` +
        `it cannot be measured with these buckets (Prometheus reports ${f(largest)} ms)`,
      next: `add histogram bounds between ${f(largest)} ms and the maximum ${f(maxMs)} ms and above`,
    };
  }
  // How many more requests would clear the bound at or below the threshold.
  const below = r.buckets.filter((x) => x.le !== Infinity && x.le * 1000 <= maxMs).at(-1);
  let next = `needs more requests, or a histogram bound nearer ${f(maxMs)} ms`;
  if (below === undefined) {
    next = `no histogram bound at or below ${f(maxMs)} ms: the p99 cannot be shown to meet it`;
  } else {
    const share = (r.total - below.count) / r.total;
    const needed = trialsToDecide(share, 0.01, confidence);
    if (needed !== undefined)
      next = `needs ~${Math.max(1, Math.ceil(needed - r.total))} more requests at the current latency to decide`;
  }
  return { ...base, status: "inconclusive", reason: `${shown}: straddles ${f(maxMs)} ms`, next };
}

// ------------------------------------------------------------------------------------------
// Intervals

export interface IntervalRule {
  readonly maxFailed: number;
  readonly minutes: number;
  readonly windowStart: Date;
}

/**
 * A metric judged over the whole window and in intervals, in order:
 * - fail when the whole window fails, or more than maxFailedIntervals intervals are
 *   confidently bad;
 * - error when any span could not be measured;
 * - inconclusive when the whole window is, or there are no intervals at all;
 * - pass otherwise (intervals without enough data are inconclusive and reported, never pass).
 */
export function combine(
  name: CheckName,
  whole: SpanJudgement,
  intervals: readonly IntervalResult[],
  rule: IntervalRule,
): Pick<Check, "status" | "reason" | "next"> {
  const failed = intervals.filter((i) => i.status === "fail");
  const errors = intervals.filter((i) => i.status === "error");
  const count = `${intervals.length} interval${intervals.length === 1 ? "" : "s"} of ${f(rule.minutes)} min`;
  if (whole.status === "fail") return { status: "fail", reason: whole.reason, next: whole.next };
  if (failed.length > rule.maxFailed) {
    const last = failed.at(-1)!;
    return {
      status: "fail",
      reason:
        `${failed.length} of ${count} confidently bad (maxFailedIntervals ${rule.maxFailed}); ` +
        `the latest ${last.start} → ${last.end}: ${last.reason}`,
      next: "a regression inside the window: the whole-window figure would hide it",
    };
  }
  if (whole.status === "error") return { status: "error", reason: whole.reason, next: whole.next };
  if (errors.length > 0) {
    return { status: "error", reason: `interval ${errors[0].start} → ${errors[0].end}: ${errors[0].reason}` };
  }
  if (whole.status === "inconclusive")
    return { status: "inconclusive", reason: whole.reason, next: whole.next };
  if (intervals.length === 0) {
    const until = new Date(rule.windowStart.getTime() + rule.minutes * 60_000).toISOString();
    return {
      status: "inconclusive",
      reason: `${whole.reason}; but the window is shorter than one analysis interval (${f(rule.minutes)} min)`,
      next: `wait until ${until}`,
    };
  }
  const quiet = intervals.filter((i) => i.status === "inconclusive").length;
  const note =
    failed.length > 0 || quiet > 0
      ? ` (${count}: ${failed.length} confidently bad, ${quiet} without enough data)`
      : ` (all ${count} pass)`;
  void name;
  return { status: "pass", reason: `${whole.reason}${note}` };
}

export function intervalResult(span: IntervalMetrics, j: SpanJudgement): IntervalResult {
  return {
    start: span.start.toISOString(),
    end: span.end.toISOString(),
    status: j.status,
    value: j.value,
    lower: j.lower,
    upper: j.upper,
    reason: j.reason,
  };
}
