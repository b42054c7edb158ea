/**
 * The promotion gate: a pure function from measured counts, thresholds and analysis settings
 * to a decision. No I/O. Semantics in docs/analysis.md.
 *
 * Every check ends in one outcome:
 * - `pass`: the data say the candidate meets the threshold, at the configured confidence;
 * - `fail`: the data say it does not (the optimistic bound misses the threshold, an interval
 *   is confidently bad, the version vanished);
 * - `inconclusive`: not enough data to say either way (too few samples, too young, bounds
 *   straddling the threshold, no series, NaN, the window shorter than one interval);
 * - `error`: a query failed or answered something impossible (±Inf, negative counts).
 * The worst enforced check wins (pass < inconclusive < error < fail); only all-`pass`
 * promotes; dry-run checks are measured and reported but never decide.
 */
import { AnalysisSettings, CheckMode, CheckName, intervalConfidence as bonferroni } from "./analysis-config";
import {
  Bounds,
  Bucket,
  clopperPearson,
  histogramQuantile,
  newcombeDifference,
  normaliseBuckets,
  quantileBounds,
  trialsToDecide,
} from "../../policy/contract";
import type { AnalysisMethod, Outcome } from "../../policy/contract";
import type { Thresholds } from "./thresholds";

export type { CheckName } from "./analysis-config";
export type { AnalysisMethod, Outcome } from "../../policy/contract";

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

/** A number as reasons and reports show it: six significant digits, no trailing zeros. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

const f = formatNumber;

// ------------------------------------------------------------------------------------------
// Reading counts

type Read = { ok: true; value: number } | { ok: false; status: Outcome; reason: string };

/**
 * A count the gate may use, or why not:
 * - a failed query → error; ±Inf or a negative count → error (no counter gives those);
 * - no series → inconclusive; NaN (no events) → inconclusive.
 */
function readCount(m: Measurement, what: string): Read {
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

type ReadProportion =
  | { ok: true; x: number; n: number }
  | { ok: false; status: Outcome; reason: string; n: number | null };

/** successes out of trials; zero trials is inconclusive; successes above trials an error. */
function readProportion(
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

interface SpanJudgement {
  readonly status: Outcome;
  readonly value: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly reason: string;
  readonly next?: string;
  /** Trials seen, for floors. */
  readonly n?: number;
}

interface ProportionSpec {
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
function judgeProportion(
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

interface LatencyRead {
  readonly ok: true;
  readonly buckets: Bucket[];
  readonly total: number;
}

function readHistogram(
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
function judgeLatency(
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

interface IntervalRule {
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
function combine(
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

function intervalResult(span: IntervalMetrics, j: SpanJudgement): IntervalResult {
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

// ------------------------------------------------------------------------------------------
// The checks

interface Built {
  readonly name: CheckName;
  readonly value: number | null;
  readonly threshold: number;
  readonly status: Outcome;
  readonly reason: string;
  readonly lower?: number | null;
  readonly upper?: number | null;
  readonly next?: string;
  readonly intervals?: readonly IntervalResult[];
}

function intervalMetric(
  name: CheckName,
  threshold: number,
  metrics: GateMetrics,
  ctx: GateContext,
  judge: (span: SpanMetrics, confidence: number, isWindow: boolean) => SpanJudgement,
): Built {
  const settings = ctx.analysis;
  const whole = judge(metrics.window, settings.confidence, true);
  const ic = bonferroni(settings.confidence, metrics.intervals.length);
  const intervals = metrics.intervals.map((s) => intervalResult(s, judge(s, ic, false)));
  const combined = combine(name, whole, intervals, {
    maxFailed: settings.maxFailedIntervals,
    minutes: settings.analysisIntervalMinutes,
    windowStart: ctx.window.start,
  });
  return {
    name,
    threshold,
    value: whole.value,
    lower: whole.lower,
    upper: whole.upper,
    intervals,
    ...combined,
  };
}

function accuracyCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
  return intervalMetric("accuracy", t.minAccuracy, metrics, ctx, (s, c, isWindow) =>
    judgeProportion(
      s.correct,
      s.labeled,
      {
        what: "accuracy",
        whatX: "correct predictions",
        whatN: "labeled predictions",
        direction: "min",
        threshold: t.minAccuracy,
        floor: isWindow ? t.minLabeledPredictions : 0,
        floorKey: "minLabeledPredictions",
      },
      c,
    ),
  );
}

function errorRateCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
  return intervalMetric("error_rate", t.maxErrorRate, metrics, ctx, (s, c, isWindow) =>
    judgeProportion(
      s.serverErrors,
      s.requests,
      {
        what: "error rate",
        whatX: "5xx responses",
        whatN: "requests",
        direction: "max",
        threshold: t.maxErrorRate,
        floor: isWindow ? t.minRequests : 0,
        floorKey: "minRequests",
      },
      c,
    ),
  );
}

function latencyCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
  return intervalMetric("latency_p99", t.maxLatencyP99Ms, metrics, ctx, (s, c, isWindow) =>
    judgeLatency(s.latency, t.maxLatencyP99Ms, isWindow ? t.minRequests : 0, c),
  );
}

/**
 * Uptime (gap-aware, pooled over the version's targets), in order:
 * - unreadable → its outcome; no scrape sample at all reads as 0 (down the whole time);
 * - the window: pass when uptime ≥ minUptime, fail below;
 * - an interval is bad when its downtime alone exceeds the whole window's downtime budget
 *   ((1 − minUptime) × window), so a recent outage shows where it was.
 */
function uptimeCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
  const windowSeconds = (ctx.window.end.getTime() - ctx.window.start.getTime()) / 1000;
  const budget = (1 - t.minUptime) * windowSeconds;
  return intervalMetric("uptime", t.minUptime, metrics, ctx, (s, _c, isWindow) => {
    const u = readCount(s.uptime, "uptime");
    if (!u.ok) return { status: u.status, value: null, lower: null, upper: null, reason: u.reason };
    if (u.value > 1 + 1e-9) {
      return {
        status: "error",
        value: null,
        lower: null,
        upper: null,
        reason: `uptime ${f(u.value)} is above 1`,
      };
    }
    const value = Math.min(1, u.value);
    const base = { value, lower: value, upper: value };
    if (isWindow) {
      return value >= t.minUptime
        ? { ...base, status: "pass", reason: `uptime ${f(value)} ≥ ${f(t.minUptime)}` }
        : {
            ...base,
            status: "fail",
            reason: `uptime ${f(value)} is below the minimum ${f(t.minUptime)} (time without any scrape sample counts as down)`,
          };
    }
    const span = (s as IntervalMetrics).end.getTime() / 1000 - (s as IntervalMetrics).start.getTime() / 1000;
    const down = (1 - value) * span;
    return down > budget + 1e-9
      ? {
          ...base,
          status: "fail",
          reason: `uptime ${f(value)}: ${f(down)} s down, more than the window's whole budget of ${f(budget)} s`,
        }
      : { ...base, status: "pass", reason: `uptime ${f(value)}` };
  });
}

/**
 * Soak, measured and claimed, in order:
 * - the first-sample query failed → error;
 * - no scrape sample of the version in the look-back → inconclusive (its soak cannot be proven);
 * - pass when both the release record (deployedAt) and the data (the version's first scrape
 *   sample) put it at least minSoakHours before the evaluation time;
 * - otherwise inconclusive: wait until the later of the two plus minSoakHours.
 */
function soakCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
  const end = ctx.window.end.getTime();
  const claimed = (end - ctx.deployedAt.getTime()) / 3_600_000;
  const base = { name: "soak_time" as const, threshold: t.minSoakHours };
  const first = readCount(metrics.firstSample, "first scrape sample");
  if (!first.ok) {
    return {
      ...base,
      value: null,
      status: first.status,
      reason:
        first.status === "error"
          ? first.reason
          : `no scrape sample of ${ctx.modelVersion} in the look-back: its soak cannot be proven by the data`,
      next:
        first.status === "error"
          ? undefined
          : `the version's targets must be scraped (up{job="churn-model"})`,
    };
  }
  const measured = (end - first.value * 1000) / 3_600_000;
  const value = Math.min(claimed, measured);
  const shown =
    `${ctx.modelVersion}: ${f(measured)} h of scrape data, ${f(claimed)} h since deployedAt ` +
    `${ctx.deployedAt.toISOString()}`;
  if (value >= t.minSoakHours) {
    return { ...base, value, status: "pass", reason: `${shown}; both ≥ ${f(t.minSoakHours)} h` };
  }
  const since = Math.max(ctx.deployedAt.getTime(), first.value * 1000);
  const until = new Date(since + t.minSoakHours * 3_600_000).toISOString();
  const which = measured < claimed - 1e-9 ? "the data show" : "deployedAt gives";
  return {
    ...base,
    value,
    status: "inconclusive",
    reason: `${shown}: ${which} only ${f(value)} h; ${f(t.minSoakHours)} h are required`,
    next: `wait until ${until}`,
  };
}

/** Sample floors over the whole window: below them nothing can pass, so inconclusive. */
function samplesCheck(metrics: GateMetrics, t: Thresholds): Built {
  const requests = readCount(metrics.window.requests, "requests");
  const labeled = readCount(metrics.window.labeled, "labeled predictions");
  const base = {
    name: "samples" as const,
    threshold: t.minRequests,
    value: requests.ok ? requests.value : null,
  };
  const problems: string[] = [];
  const next: string[] = [];
  const statuses: Outcome[] = [];
  for (const [r, what, floor, key] of [
    [requests, "requests", t.minRequests, "minRequests"],
    [labeled, "labeled predictions", t.minLabeledPredictions, "minLabeledPredictions"],
  ] as const) {
    if (!r.ok) {
      problems.push(r.reason);
      statuses.push(r.status);
    } else if (r.value < floor) {
      problems.push(`only ${f(r.value)} ${what} in the window; ${floor} are required`);
      next.push(`needs ~${Math.ceil(floor - r.value)} more ${what} (${key})`);
      statuses.push("inconclusive");
    }
  }
  if (problems.length > 0) {
    return {
      ...base,
      status: worstOutcome(statuses),
      reason: problems.join("; "),
      next: next.join("; ") || undefined,
    };
  }
  const reason =
    `${f(requests.ok ? requests.value : 0)} requests ≥ ${t.minRequests} and ` +
    `${f(labeled.ok ? labeled.value : 0)} labeled predictions ≥ ${t.minLabeledPredictions}`;
  return { ...base, status: "pass", reason };
}

/**
 * Freshness: the version's newest scrape sample must be at most maxStalenessSeconds old at
 * evaluation time; older, or none in the window, fails (the version vanished).
 */
function freshnessCheck(metrics: GateMetrics, ctx: GateContext): Built {
  const max = ctx.analysis.maxStalenessSeconds;
  const base = { name: "freshness" as const, threshold: max };
  const last = metrics.lastSample;
  if (last.error !== undefined) {
    return {
      ...base,
      value: null,
      status: "error",
      reason: `newest scrape sample: query failed: ${last.error}`,
    };
  }
  if (last.value === null || !Number.isFinite(last.value)) {
    return {
      ...base,
      value: null,
      status: "fail",
      reason: `no scrape sample of ${ctx.modelVersion} in the window: its targets are gone`,
      next: "the version must be running and scraped",
    };
  }
  const age = Math.max(0, ctx.window.end.getTime() / 1000 - last.value);
  const at = new Date(last.value * 1000).toISOString();
  if (age <= max) {
    return { ...base, value: age, status: "pass", reason: `newest scrape sample ${f(age)} s old ≤ ${max} s` };
  }
  return {
    ...base,
    value: age,
    status: "fail",
    reason: `newest scrape sample is ${f(age)} s old (${at}); at most ${max} s are allowed (maxStalenessSeconds)`,
    next: "the version's targets stopped being scraped: restore them, then evaluate again",
  };
}

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
function baselineJudgement(
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

function baselineFloor(
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

function proportionDifference(
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

function baselineChecks(metrics: GateMetrics, t: Thresholds, ctx: GateContext, baseline: Baseline): Built[] {
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
function latencyDifference(cand: SpanMetrics, baseline: Baseline, t: Thresholds, confidence: number): Built {
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

// ------------------------------------------------------------------------------------------
// The decision

function finish(b: Built, mode: CheckMode): Check {
  const dry = mode === "dryRun";
  return {
    name: b.name,
    value: b.value !== null && Number.isFinite(b.value) ? b.value : null,
    threshold: b.threshold,
    passed: b.status === "pass",
    reason: dry ? `dry run (never decides): ${b.reason}` : b.reason,
    status: b.status,
    mode,
    lower: b.lower ?? null,
    upper: b.upper ?? null,
    ...(b.next !== undefined && b.status !== "pass" ? { next: b.next } : {}),
    ...(b.intervals !== undefined ? { intervals: b.intervals } : {}),
  };
}

/**
 * Decides whether the candidate may be promoted. Pure: same input, same decision. Rules, in
 * order:
 * - each check ends pass, fail, inconclusive or error (see each check above);
 * - dry-run checks are reported and never decide;
 * - the outcome is the worst of the enforced checks (pass < inconclusive < error < fail),
 *   inconclusive when no check is enforced;
 * - only the outcome `pass` promotes.
 */
export function decide(metrics: GateMetrics, thresholds: Thresholds, context: GateContext): Decision {
  const settings = context.analysis;
  const built: Built[] = [
    accuracyCheck(metrics, thresholds, context),
    latencyCheck(metrics, thresholds, context),
    errorRateCheck(metrics, thresholds, context),
    uptimeCheck(metrics, thresholds, context),
    soakCheck(metrics, thresholds, context),
    samplesCheck(metrics, thresholds),
    freshnessCheck(metrics, context),
  ];
  if (context.baseline !== undefined)
    built.push(...baselineChecks(metrics, thresholds, context, context.baseline));
  const checks = built.map((b) => finish(b, settings.checkModes[b.name] ?? "enforce"));
  const outcome = worstOutcome(checks.filter((c) => c.mode === "enforce").map((c) => c.status));
  return {
    decision: outcome === "pass" ? "promote" : "reject",
    outcome,
    modelVersion: context.modelVersion,
    window: { start: context.window.start.toISOString(), end: context.window.end.toISOString() },
    checks,
    analysis: {
      method: "clopper-pearson",
      confidence: settings.confidence,
      intervalConfidence: bonferroni(settings.confidence, metrics.intervals.length),
      analysisIntervalMinutes: settings.analysisIntervalMinutes,
      intervals: metrics.intervals.length,
      maxFailedIntervals: settings.maxFailedIntervals,
      maxStalenessSeconds: settings.maxStalenessSeconds,
    },
  };
}
