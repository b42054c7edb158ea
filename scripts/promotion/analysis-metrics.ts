/**
 * The gate's analysis from Prometheus: counts over the window and over consecutive intervals
 * (docs/analysis.md), the version's first and newest scrape samples (sample-edges.ts) and the
 * baseline's counts, under the failure policy of metrics.ts. The queries are the metrics
 * contract's (docs/design.md) by default, overridable from a file.
 */
import * as fs from "fs";
import { BadInput, DependencyUnavailable } from "./errors";
import type { GateMetrics, HistogramMeasurement, IntervalMetrics, Measurement, SpanMetrics } from "./gate";
import { FRESH_SERIES, type FreshSeries } from "./gate-types";
import { Answer, ask, renderQuery, throwIfUnavailable, toMeasurement } from "./metrics";
import { InstantResult, PrometheusClient, QueryFailure } from "./prometheus";
import { searchEdges } from "./sample-edges";
import type { Bucket } from "../../policy/contract";
import type { LabelSelector } from "./parsers";

/** Reads a queries file: a JSON object overriding some or all of the gate's query templates. */
export function loadQueries(file: string): AnalysisQueries {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BadInput(`cannot read queries file ${file}: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new BadInput(`queries file ${file} must be a JSON object of ${ANALYSIS_QUERY_NAMES.join(", ")}`);
  }
  const out: Record<string, string> = { ...ANALYSIS_QUERIES };
  for (const [key, value] of Object.entries(parsed)) {
    if (!(ANALYSIS_QUERY_NAMES as readonly string[]).includes(key)) {
      throw new BadInput(
        `queries file ${file}: unknown key ${key} (known: ${ANALYSIS_QUERY_NAMES.join(", ")})`,
      );
    }
    if (typeof value !== "string" || !value.includes("$SELECTOR") || !value.includes("$WINDOW")) {
      throw new BadInput(`queries file ${file}: ${key} must be a PromQL string using $SELECTOR and $WINDOW`);
    }
    out[key] = value;
  }
  return out as AnalysisQueries;
}

/** The gate's queries; `$SLOT` is maxStalenessSeconds, the slot uptime is counted in. */
export type AnalysisQueryName =
  | "labeled"
  | "correct"
  | "requests"
  | "serverErrors"
  | "latencyBuckets"
  | "uptime"
  | "scrapeSamples"
  | "firstSample"
  | "lastSample"
  | "newestRequests"
  | "newestLatency"
  | "newestLabeled";

export const ANALYSIS_QUERY_NAMES: readonly AnalysisQueryName[] = [
  "labeled",
  "correct",
  "requests",
  "serverErrors",
  "latencyBuckets",
  "uptime",
  "scrapeSamples",
  "firstSample",
  "lastSample",
  "newestRequests",
  "newestLatency",
  "newestLabeled",
];

export type AnalysisQueries = Readonly<Record<AnalysisQueryName, string>>;

const UP = 'up{job="churn-model",$SELECTOR}';

/** The newest sample of a series at the evaluation time: exact within the look-back delta, else searched over $WINDOW. */
const newest = (series: string) =>
  `max(timestamp(${series}{$SELECTOR})) or max(max_over_time(timestamp(${series}{$SELECTOR})[$WINDOW:$RESOLUTION]))`;

/**
 * Counts pooled over pods (sum of increase(), so counter resets are survived and no per-pod
 * ratio is averaged); a numerator whose series never moved falls back to 0, a denominator
 * does not. Uptime is gap-aware: the window is cut into slots of $SLOT (maxStalenessSeconds),
 * each slot's value is the share of up == 1 among all the version's scrape samples in it, a
 * slot without any sample counts 0, and uptime is the mean over slots. The first and newest
 * samples are searched in two stages (sample-edges.ts): which spans of $WINDOW hold any scrape
 * sample (`scrapeSamples`, a range query), then the timestamps of `up` at $RESOLUTION (a fifth
 * of the slot) over one span; the newest is exact while within Prometheus' look-back delta.
 */
export const ANALYSIS_QUERIES: AnalysisQueries = {
  labeled: "sum(increase(churn_model_predictions_labeled_total{$SELECTOR}[$WINDOW]))",
  correct:
    '(sum(increase(churn_model_predictions_labeled_total{$SELECTOR,correct="true"}[$WINDOW])) or vector(0))',
  requests: "sum(increase(churn_model_requests_total{$SELECTOR}[$WINDOW]))",
  serverErrors: '(sum(increase(churn_model_requests_total{$SELECTOR,code=~"5.."}[$WINDOW])) or vector(0))',
  latencyBuckets: "sum by (le) (increase(churn_model_request_duration_seconds_bucket{$SELECTOR}[$WINDOW]))",
  uptime:
    `(sum_over_time((sum(sum_over_time(${UP}[$SLOT])) / sum(count_over_time(${UP}[$SLOT])))[$WINDOW:$SLOT]) ` +
    "or vector(0)) / count_over_time(vector(1)[$WINDOW:$SLOT])",
  scrapeSamples: `count(count_over_time(${UP}[$WINDOW]))`,
  firstSample: `min(min_over_time(timestamp(${UP})[$WINDOW:$RESOLUTION]))`,
  lastSample: `max(timestamp(${UP})) or max(max_over_time(timestamp(${UP})[$WINDOW:$RESOLUTION]))`,
  newestRequests: newest(FRESH_SERIES.requests),
  newestLatency: newest(FRESH_SERIES.latency),
  newestLabeled: newest(FRESH_SERIES.labeled),
};

/** The query of each series' newest sample; searched over one interval before the evaluation time. */
const NEWEST_QUERIES: Readonly<Record<FreshSeries, AnalysisQueryName>> = {
  requests: "newestRequests",
  latency: "newestLatency",
  labeled: "newestLabeled",
};

const SPAN_QUERIES = ["labeled", "correct", "requests", "serverErrors", "latencyBuckets", "uptime"] as const;

export interface AnalysisRequest {
  /** Labels of the candidate's series, e.g. {namespace: "staging", version: "1.1.0"}. */
  readonly selector: LabelSelector;
  /** The evaluation time: the window's end. */
  readonly end: Date;
  /** The earliest the window may start: max(deployedAt, end − --window). */
  readonly earliestStart: Date;
  /** analysisIntervalMinutes in seconds. */
  readonly intervalSeconds: number;
  /** maxStalenessSeconds: the uptime slot and the first/last sample resolution. */
  readonly slotSeconds: number;
  /** When the version went live (the release record): no sample before it is this deployment's. */
  readonly deployedAt: Date;
  /**
   * How far back the version's first sample is looked for (≥ the window and the soak); never
   * before deployedAt, so a version that ran before and was deployed again is measured from
   * its new pods' first sample, not from the old ones'.
   */
  readonly lookbackSeconds: number;
  /** Production's current version, measured over the same window. */
  readonly baselineSelector?: LabelSelector;
}

export interface AnalysisResult {
  /** The window analysed: from the latest of earliestStart and the version's first sample. */
  readonly window: { readonly start: Date; readonly end: Date };
  readonly metrics: GateMetrics;
  readonly baseline?: SpanMetrics;
}

function failureOf(a: Answer): string | undefined {
  return a instanceof QueryFailure ? a.message : undefined;
}

/** A `sum by (le)` answer as the histogram's buckets, or why it is none. */
export function histogramFrom(a: Answer): HistogramMeasurement {
  if (a instanceof QueryFailure) return { buckets: null, error: a.message };
  if (a.resultType !== "vector")
    return { buckets: null, error: `the query returned a ${a.resultType}, not a vector` };
  if (a.samples.length === 0) return { buckets: null };
  const buckets: Bucket[] = [];
  for (const s of a.samples) {
    const le = parseLe(s.labels.le);
    if (le === undefined)
      return { buckets: null, error: `a bucket has no numeric le label (${JSON.stringify(s.labels)})` };
    buckets.push({ le, count: s.value });
  }
  return { buckets };
}

function parseLe(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (raw === "+Inf" || raw === "Inf") return Infinity;
  const v = Number(raw);
  return raw.trim() !== "" && Number.isFinite(v) ? v : undefined;
}

function spanFrom(answers: Readonly<Record<(typeof SPAN_QUERIES)[number], Answer>>): SpanMetrics {
  const m = (a: Answer): Measurement =>
    a instanceof QueryFailure ? { value: null, error: a.message } : toMeasurement(a);
  return {
    labeled: m(answers.labeled),
    correct: m(answers.correct),
    requests: m(answers.requests),
    serverErrors: m(answers.serverErrors),
    latency: histogramFrom(answers.latencyBuckets),
    uptime: m(answers.uptime),
  };
}

/** The points of a range answer by evaluation time (unix seconds, rounded to ms). */
function pointsAt(a: Answer, times: readonly number[]): Measurement[] {
  const error = failureOf(a);
  if (error !== undefined) return times.map(() => ({ value: null, error }));
  const r = a as InstantResult;
  if (r.resultType !== "matrix")
    return times.map(() => ({ value: null, error: `the query returned a ${r.resultType}, not a matrix` }));
  if (r.series.length > 1) {
    const e = `the query returned ${r.series.length} series where one was expected (aggregate it with sum or avg)`;
    return times.map(() => ({ value: null, error: e }));
  }
  const byTime = new Map((r.series[0]?.points ?? []).map(([t, v]) => [Math.round(t * 1000), v]));
  return times.map((t) => {
    const v = byTime.get(Math.round(t * 1000));
    return { value: v === undefined ? null : v };
  });
}

function bucketsAt(a: Answer, times: readonly number[]): HistogramMeasurement[] {
  const error = failureOf(a);
  if (error !== undefined) return times.map(() => ({ buckets: null, error }));
  const r = a as InstantResult;
  if (r.resultType !== "matrix")
    return times.map(() => ({ buckets: null, error: `the query returned a ${r.resultType}, not a matrix` }));
  const out: Bucket[][] = times.map(() => []);
  const index = new Map(times.map((t, i) => [Math.round(t * 1000), i]));
  for (const s of r.series) {
    const le = parseLe(s.labels.le);
    if (le === undefined) {
      const e = `a bucket has no numeric le label (${JSON.stringify(s.labels)})`;
      return times.map(() => ({ buckets: null, error: e }));
    }
    for (const [t, v] of s.points) {
      const i = index.get(Math.round(t * 1000));
      if (i !== undefined) out[i].push({ le, count: v });
    }
  }
  return out.map((b) => ({ buckets: b.length === 0 ? null : b }));
}

/**
 * Measures a candidate for the gate: its first scrape sample (which may start the window
 * later than deployedAt claims), then in parallel the window's counts, the newest sample, the
 * intervals' counts (one range query per metric) and the baseline's. Throws DependencyUnavailable when
 * Prometheus answered none of the queries (see the failure policy above).
 */
export async function collectAnalysis(
  client: PrometheusClient,
  queries: AnalysisQueries,
  req: AnalysisRequest,
): Promise<AnalysisResult> {
  const end = req.end;
  if (end.getTime() - req.earliestStart.getTime() < 1000) {
    throw new BadInput(
      `the metrics window ${req.earliestStart.toISOString()} → ${end.toISOString()} is shorter than 1s`,
    );
  }
  const slot = req.slotSeconds;
  const instant = (name: AnalysisQueryName, selector: LabelSelector, seconds: number) =>
    ask(() => client.instantQuery(renderQuery(queries[name], selector, seconds, slot), end));

  const edgeRequest = {
    selector: req.selector,
    end,
    lookbackSeconds: Math.max(
      1,
      Math.min(req.lookbackSeconds, Math.floor((end.getTime() - req.deployedAt.getTime()) / 1000)),
    ),
    slotSeconds: slot,
    notBefore: req.deployedAt.getTime() / 1000,
  };
  const edges = await searchEdges(client, queries, edgeRequest, ask);
  const first = await edges.first();
  const unanswered = [edges.coarse, ...first.answers].find(
    (a): a is QueryFailure => a instanceof QueryFailure && !a.answeredByPrometheus,
  );
  if (unanswered !== undefined) {
    throw new DependencyUnavailable(`Prometheus at ${client.baseUrl} is unavailable: ${unanswered.message}`);
  }
  const firstSample = first.sample;
  // The first slot that holds the first sample since deployedAt starts the window (time before
  // it is not the version's), never earlier than deployedAt or the requested window allow.
  let startMs = req.earliestStart.getTime();
  if (firstSample.error === undefined && firstSample.value !== null && Number.isFinite(firstSample.value)) {
    const aligned = Math.ceil(firstSample.value / slot) * slot * 1000;
    startMs = Math.min(end.getTime() - 1000, Math.max(startMs, aligned));
  }
  const start = new Date(startMs);
  const windowSeconds = Math.floor((end.getTime() - startMs) / 1000);
  const intervalCount = Math.floor(windowSeconds / req.intervalSeconds);
  const times = Array.from(
    { length: intervalCount },
    (_, k) => end.getTime() / 1000 - (intervalCount - 1 - k) * req.intervalSeconds,
  );

  const range = (name: AnalysisQueryName) =>
    ask(() =>
      client.rangeQuery(
        renderQuery(queries[name], req.selector, req.intervalSeconds, slot),
        new Date(times[0] * 1000),
        end,
        req.intervalSeconds,
      ),
    );
  const windowJobs = SPAN_QUERIES.map((n) => instant(n, req.selector, windowSeconds));
  const lastJob = edges.last();
  const newestKeys = Object.keys(NEWEST_QUERIES) as FreshSeries[];
  const newestJobs = newestKeys.map((k) => instant(NEWEST_QUERIES[k], req.selector, req.intervalSeconds));
  const intervalJobs = intervalCount > 0 ? SPAN_QUERIES.map((n) => range(n)) : [];
  const baselineSelector = req.baselineSelector;
  const baselineJobs = baselineSelector
    ? SPAN_QUERIES.map((n) => instant(n, baselineSelector, windowSeconds))
    : [];
  const [windowAnswers, last, intervalAnswers, baselineAnswers, newestAnswers] = await Promise.all([
    Promise.all(windowJobs),
    lastJob,
    Promise.all(intervalJobs),
    Promise.all(baselineJobs),
    Promise.all(newestJobs),
  ]);
  const all = [
    edges.coarse,
    ...first.answers,
    ...windowAnswers,
    ...last.answers,
    ...intervalAnswers,
    ...baselineAnswers,
    ...newestAnswers,
  ];
  throwIfUnavailable(client, all);
  const named = <T>(answers: readonly T[]) =>
    Object.fromEntries(SPAN_QUERIES.map((n, i) => [n, answers[i]])) as Record<
      (typeof SPAN_QUERIES)[number],
      T
    >;

  const intervals: IntervalMetrics[] = [];
  if (intervalCount > 0) {
    const a = named(intervalAnswers);
    const cols = {
      labeled: pointsAt(a.labeled, times),
      correct: pointsAt(a.correct, times),
      requests: pointsAt(a.requests, times),
      serverErrors: pointsAt(a.serverErrors, times),
      latency: bucketsAt(a.latencyBuckets, times),
      uptime: pointsAt(a.uptime, times),
    };
    times.forEach((t, k) => {
      intervals.push({
        start: new Date((t - req.intervalSeconds) * 1000),
        end: new Date(t * 1000),
        labeled: cols.labeled[k],
        correct: cols.correct[k],
        requests: cols.requests[k],
        serverErrors: cols.serverErrors[k],
        latency: cols.latency[k],
        uptime: cols.uptime[k],
      });
    });
  }
  return {
    window: { start, end },
    metrics: {
      window: spanFrom(named(windowAnswers)),
      intervals,
      firstSample,
      lastSample: last.sample,
      newestSamples: Object.fromEntries(
        newestKeys.map((k, i) => {
          const a = newestAnswers[i];
          return [k, a instanceof QueryFailure ? { value: null, error: a.message } : toMeasurement(a)];
        }),
      ) as GateMetrics["newestSamples"],
    },
    baseline: baselineSelector ? spanFrom(named(baselineAnswers)) : undefined,
  };
}
