/**
 * The analysis a hand-made promotion record carries (docs/analysis.md, "Evidence"): what
 * someone who writes evidence by hand — the demo's forger, a test — computes for its measured
 * values with the contract's own statistics, so the record is refused (or accepted) for the
 * reason under test and not merely for lacking an analysis. The counts are the measured values
 * spread evenly over the window's intervals; every bound and outcome is derived from them.
 */
import {
  INTERVAL_CHECKS,
  parseAnalysisSettings,
  clopperPearson,
  intervalConfidence,
  type AnalysisRecord,
  type AnalysisSettings,
  type EvidenceRecord,
  type IntervalRecord,
  type Outcome,
} from "../../policy/contract";

/** The share of requests recorded above the latency bound: 0.1 %, well inside a p99. */
const ABOVE_BOUND_SHARE = 0.001;

type Judged = Pick<EvidenceRecord, "measured" | "window" | "thresholds">;

/** The analysis settings of a policy-config section; refused settings are an error here. */
function settingsOf(section: EvidenceRecord["thresholds"]): AnalysisSettings {
  const { settings, problems } = parseAnalysisSettings(section as unknown as Record<string, unknown>);
  if (problems.length > 0) throw new Error(`hand-made analysis: ${problems.join("; ")}`);
  return settings;
}

/** Pass when the pessimistic bound meets the threshold, fail when the optimistic one misses it. */
function judge(x: number, n: number, threshold: number, dir: "min" | "max", confidence: number): Outcome {
  if (!(n > 0 && x >= 0 && x <= n)) return "inconclusive";
  const b = clopperPearson(x, n, confidence);
  if (dir === "min") return b.lower >= threshold ? "pass" : b.upper < threshold ? "fail" : "inconclusive";
  return b.upper <= threshold ? "pass" : b.lower > threshold ? "fail" : "inconclusive";
}

/**
 * The analysis record of `record`'s measured values over its window under `settings` (default
 * the analysis settings of the policy-config section in `record.thresholds`): its soak taken
 * as the data's age at the window's end, its newest sample at that end.
 */
export function handMadeAnalysis(
  record: Judged,
  settings: AnalysisSettings = settingsOf(record.thresholds),
): AnalysisRecord {
  const { measured: m, thresholds: t } = record;
  const start = Date.parse(record.window.start);
  const end = Date.parse(record.window.end);
  const length = settings.analysisIntervalMinutes * 60_000;
  const count = Math.floor((end - start) / length + 1e-9);
  const ic = intervalConfidence(settings.confidence, count);
  const correct = m.accuracy * m.labeledPredictions;
  const serverErrors = m.errorRate * m.requests;
  const intervals = Array.from({ length: count }, (_, k): IntervalRecord => {
    const labeled = m.labeledPredictions / count;
    const requests = m.requests / count;
    const outcomes: Record<(typeof INTERVAL_CHECKS)[number], Outcome> = {
      accuracy: judge(correct / count, labeled, t.minAccuracy, "min", ic),
      latency_p99: "pass",
      error_rate: judge(serverErrors / count, requests, t.maxErrorRate, "max", ic),
      uptime: m.uptime >= t.minUptime ? "pass" : "fail",
    };
    return {
      start: new Date(end - (count - k) * length).toISOString(),
      end: new Date(end - (count - k - 1) * length).toISOString(),
      outcomes,
      labeled,
      correct: correct / count,
      requests,
      serverErrors: serverErrors / count,
    };
  });
  const bounds = (x: number, n: number): [number, number] => {
    if (!(n > 0 && x >= 0 && x <= n)) return [0, 1];
    const b = clopperPearson(x, n, settings.confidence);
    return [b.lower, b.upper];
  };
  return {
    method: {
      method: "clopper-pearson",
      confidence: settings.confidence,
      intervalConfidence: ic,
      analysisIntervalMinutes: settings.analysisIntervalMinutes,
      intervals: count,
      maxFailedIntervals: settings.maxFailedIntervals,
      maxStalenessSeconds: settings.maxStalenessSeconds,
    },
    counts: {
      labeled: m.labeledPredictions,
      correct,
      requests: m.requests,
      serverErrors,
      latencyRequests: m.requests,
      latencyAboveBound: m.requests * ABOVE_BOUND_SHARE,
      latencyBoundMs: t.maxLatencyP99Ms,
      uptime: m.uptime,
      firstSample: end / 1000 - m.soakHours * 3600,
      lastSample: end / 1000,
    },
    bounds: {
      accuracy: bounds(correct, m.labeledPredictions),
      errorRate: bounds(serverErrors, m.requests),
    },
    dryRun: Object.entries(settings.checkModes)
      .filter(([, mode]) => mode === "dryRun")
      .map(([name]) => name as AnalysisRecord["dryRun"][number]),
    intervals,
  };
}

/** `record` with the analysis of its own measured values (handMadeAnalysis). */
export function withHandMadeAnalysis(
  record: Omit<EvidenceRecord, "analysis">,
  settings?: AnalysisSettings,
): EvidenceRecord & { analysis: AnalysisRecord } {
  return { ...record, analysis: handMadeAnalysis(record, settings) };
}
