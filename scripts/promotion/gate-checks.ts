/**
 * The gate's checks against the thresholds: accuracy, error rate, p99 latency, uptime, soak,
 * samples and freshness, each a pure function of the metrics and the context.
 */
import { CheckName, intervalConfidence as bonferroni } from "./analysis-config";
import type { Outcome } from "../../policy/contract";
import type { Thresholds } from "./thresholds";
import {
  FRESH_SERIES,
  FreshSeries,
  GateContext,
  GateMetrics,
  IntervalMetrics,
  IntervalResult,
  SpanMetrics,
  worstOutcome,
} from "./gate-types";
import {
  SpanJudgement,
  combine,
  intervalResult,
  judgeLatency,
  judgeProportion,
  readCount,
  formatNumber as f,
} from "./gate-judge";

// ------------------------------------------------------------------------------------------
// The checks

export interface Built {
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

export function intervalMetric(
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

export function accuracyCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
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

export function errorRateCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
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

export function latencyCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
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
export function uptimeCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
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
export function soakCheck(metrics: GateMetrics, t: Thresholds, ctx: GateContext): Built {
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
export function samplesCheck(metrics: GateMetrics, t: Thresholds): Built {
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
 * evaluation time; older, or none in the window, fails (the version vanished). Each judged
 * series (requests, the latency histogram, labeled predictions) must be as fresh: a series
 * without a sample since then, while `up` is fresh, is inconclusive (its data stopped; nothing
 * recent can be judged), never a pass.
 */
export function freshnessCheck(metrics: GateMetrics, ctx: GateContext): Built {
  const max = ctx.analysis.maxStalenessSeconds;
  const base = { name: "freshness" as const, threshold: max };
  const last = metrics.lastSample;
  const endS = ctx.window.end.getTime() / 1000;
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
  const age = Math.max(0, endS - last.value);
  const at = new Date(last.value * 1000).toISOString();
  if (age > max) {
    return {
      ...base,
      value: age,
      status: "fail",
      reason: `newest scrape sample is ${f(age)} s old (${at}); at most ${max} s are allowed (maxStalenessSeconds)`,
      next: "the version's targets stopped being scraped: restore them, then evaluate again",
    };
  }
  const searched = new Date((endS - ctx.analysis.analysisIntervalMinutes * 60) * 1000).toISOString();
  const stale: string[] = [];
  let worst = age;
  for (const [key, metric] of Object.entries(FRESH_SERIES) as [FreshSeries, string][]) {
    const m = metrics.newestSamples[key];
    if (m.error !== undefined) {
      return {
        ...base,
        value: null,
        status: "error",
        reason: `newest sample of ${metric}: query failed: ${m.error}`,
      };
    }
    if (m.value === null || !Number.isFinite(m.value)) {
      stale.push(`${metric}: no sample since ${searched} or earlier`);
      continue;
    }
    const seriesAge = Math.max(0, endS - m.value);
    worst = Math.max(worst, seriesAge);
    if (seriesAge > max) {
      stale.push(`${metric}: no sample since ${new Date(m.value * 1000).toISOString()} (${f(seriesAge)} s)`);
    }
  }
  if (stale.length > 0) {
    return {
      ...base,
      value: null,
      status: "inconclusive",
      reason: `scraped ${f(age)} s ago, but ${stale.join("; ")}; at most ${max} s are allowed (maxStalenessSeconds)`,
      next: "the version's series stopped while its targets are scraped: restore its metrics, then evaluate again",
    };
  }
  return {
    ...base,
    value: worst,
    status: "pass",
    reason: `newest scrape sample ${f(age)} s old, every judged series' ≤ ${f(worst)} s, ≤ ${max} s`,
  };
}
