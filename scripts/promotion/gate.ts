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
import { CheckMode, intervalConfidence as bonferroni } from "./analysis-config";
import type { Thresholds } from "./thresholds";
import { Check, Decision, GateContext, GateMetrics, worstOutcome } from "./gate-types";
import {
  Built,
  accuracyCheck,
  errorRateCheck,
  freshnessCheck,
  latencyCheck,
  samplesCheck,
  soakCheck,
  uptimeCheck,
} from "./gate-checks";
import { baselineChecks } from "./gate-baseline";

export type { CheckName } from "./analysis-config";
export type { AnalysisMethod, Outcome } from "../../policy/contract";

export * from "./gate-types";
export { formatNumber } from "./gate-judge";

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
