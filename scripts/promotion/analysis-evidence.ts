/**
 * The analysis record of a passed gate (what the evidence records of the gate's analysis,
 * docs/analysis.md), built from the gate's decision and metrics. Its shape and its
 * verification are the contract's (policy/contract/analysis-record.ts).
 */
import { INTERVAL_CHECKS } from "../../policy/contract";
import type { AnalysisRecord, CheckName, IntervalRecord, Outcome } from "../../policy/contract";
import type { Decision, GateMetrics } from "./gate";
import type { Thresholds } from "./thresholds";

export type { AnalysisRecord, IntervalRecord } from "../../policy/contract";
export { analysisProblems, analysisShapeProblem } from "../../policy/contract";

const finiteOr = (v: number | null | undefined, what: string): number => {
  if (v === null || v === undefined || !Number.isFinite(v)) {
    throw new Error(`cannot record the analysis: ${what} has no finite value`);
  }
  return v;
};

/** The analysis record of a passed gate; throws when a number it needs is missing. */
export function analysisRecordOf(
  decision: Decision,
  metrics: GateMetrics,
  thresholds: Thresholds,
): AnalysisRecord {
  const w = metrics.window;
  const buckets = w.latency.buckets ?? [];
  const total = finiteOr(
    buckets.find((b) => b.le === Infinity)?.count,
    "the latency histogram's +Inf bucket",
  );
  const bound = buckets
    .filter((b) => b.le !== Infinity && b.le * 1000 <= thresholds.maxLatencyP99Ms)
    .sort((a, b) => a.le - b.le)
    .at(-1);
  const check = (name: CheckName) => decision.checks.find((c) => c.name === name);
  const pair = (name: CheckName): [number, number] => {
    const c = check(name);
    return [finiteOr(c?.lower, `${name}'s lower bound`), finiteOr(c?.upper, `${name}'s upper bound`)];
  };
  const intervalOutcome = (name: (typeof INTERVAL_CHECKS)[number], k: number): Outcome =>
    check(name)?.intervals?.[k]?.status ?? "error";
  return {
    method: { ...decision.analysis },
    counts: {
      labeled: finiteOr(w.labeled.value, "labeled predictions"),
      correct: finiteOr(w.correct.value, "correct predictions"),
      requests: finiteOr(w.requests.value, "requests"),
      serverErrors: finiteOr(w.serverErrors.value, "5xx responses"),
      latencyRequests: total,
      latencyAboveBound: bound === undefined ? total : Math.max(0, total - bound.count),
      latencyBoundMs: bound === undefined ? 0 : bound.le * 1000,
      uptime: finiteOr(w.uptime.value, "uptime"),
      firstSample: finiteOr(metrics.firstSample.value, "the first scrape sample"),
      lastSample: finiteOr(metrics.lastSample.value, "the newest scrape sample"),
    },
    bounds: { accuracy: pair("accuracy"), errorRate: pair("error_rate") },
    dryRun: decision.checks.filter((c) => c.mode === "dryRun").map((c) => c.name),
    intervals: metrics.intervals.map((s, k) => ({
      start: s.start.toISOString(),
      end: s.end.toISOString(),
      outcomes: Object.fromEntries(
        INTERVAL_CHECKS.map((n) => [n, intervalOutcome(n, k)]),
      ) as IntervalRecord["outcomes"],
      labeled: s.labeled.value !== null && Number.isFinite(s.labeled.value) ? s.labeled.value : null,
      correct: s.correct.value !== null && Number.isFinite(s.correct.value) ? s.correct.value : null,
      requests: s.requests.value !== null && Number.isFinite(s.requests.value) ? s.requests.value : null,
      serverErrors:
        s.serverErrors.value !== null && Number.isFinite(s.serverErrors.value) ? s.serverErrors.value : null,
    })),
  };
}
