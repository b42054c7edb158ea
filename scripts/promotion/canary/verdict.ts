/**
 * The canary-step verdict: the canary and the stable version compared on the same traffic over
 * the same window, as a pure function of their counts. No I/O; the promotion fetches the counts
 * and calls `compareArms`, then `stepAction` says whether the step goes on, passes or aborts.
 * docs/canary.md has the semantics as a table.
 */
import type { CanaryCriteria, CanaryStep } from "./config";
import { Bucket, histogramQuantile, Interval, newcombeDifference } from "../../../policy/contract";

/** A number from Prometheus: its value (null: no series), or why it could not be measured. */
export interface Observed<T> {
  readonly value: T | null;
  /** Set when the query failed; the value is then meaningless. */
  readonly error?: string;
}

/** What one arm (canary or stable) served in the window. */
export interface ArmCounts {
  readonly version: string;
  /** Requests answered. */
  readonly requests: Observed<number>;
  /** Of them, answered with a 5xx status. */
  readonly errors: Observed<number>;
  /** Predictions whose ground truth arrived. */
  readonly labeledPredictions: Observed<number>;
  /** Of them, correct. */
  readonly correctPredictions: Observed<number>;
  /** The request-duration histogram (seconds), cumulative, ending with le=+Inf. */
  readonly latencyBuckets: Observed<readonly Bucket[]>;
}

export type CheckStatus = "pass" | "fail" | "inconclusive" | "error";
export type CanaryCheckName = "error_rate" | "latency_p99" | "accuracy";

export interface CanaryCheck {
  readonly name: CanaryCheckName;
  readonly status: CheckStatus;
  /** The canary's and the stable's point estimates (null when not measurable). */
  readonly canary: number | null;
  readonly stable: number | null;
  /** How much worse the canary is (positive = worse), with its interval; null when not computed. */
  readonly worseBy: Interval | null;
  /** The largest accepted worsening. */
  readonly margin: number;
  readonly reason: string;
}

export interface ArmComparison {
  readonly outcome: CheckStatus;
  readonly window: { readonly start: string; readonly end: string };
  readonly canaryVersion: string;
  readonly stableVersion: string;
  readonly checks: readonly CanaryCheck[];
  /** Set when accuracy was not compared because the criteria ask for no labels. */
  readonly accuracyNotCompared?: string;
}

const SEVERITY: Record<CheckStatus, number> = { pass: 0, inconclusive: 1, error: 2, fail: 3 };

/** The worst of several statuses: fail > error > inconclusive > pass; none at all is inconclusive. */
export function worstStatus(statuses: readonly CheckStatus[]): CheckStatus {
  if (statuses.length === 0) return "inconclusive";
  return statuses.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a));
}

function fmt(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  return String(Number(v.toPrecision(digits)));
}

type Usable<T> = { ok: true; value: T } | { ok: false; status: CheckStatus; reason: string };

function count(o: Observed<number>, what: string): Usable<number> {
  if (o.error !== undefined)
    return { ok: false, status: "error", reason: `${what}: query failed: ${o.error}` };
  if (o.value === null)
    return { ok: false, status: "inconclusive", reason: `${what}: no series in the window` };
  if (!Number.isFinite(o.value) || o.value < 0) {
    return { ok: false, status: "error", reason: `${what}: ${o.value} is not a count` };
  }
  return { ok: true, value: o.value };
}

interface Proportion {
  readonly events: number;
  readonly trials: number;
}

/**
 * One proportion per arm, or why not: a failed query is `error`; no series, or fewer trials
 * than the floor, is `inconclusive`; events above trials is `error`.
 */
function proportion(
  arm: string,
  trials: Observed<number>,
  events: Observed<number>,
  trialsName: string,
  eventsName: string,
  floor: number,
): Usable<Proportion> {
  const t = count(trials, `${arm} ${trialsName}`);
  if (!t.ok) return t;
  const e = count(events, `${arm} ${eventsName}`);
  // No error series while requests were answered means no errors: Prometheus has no series
  // for a status code that never happened. The same holds for correct predictions.
  const ev = e.ok ? e.value : e.status === "inconclusive" ? 0 : NaN;
  if (!e.ok && e.status !== "inconclusive") return e;
  if (t.value < floor) {
    return {
      ok: false,
      status: "inconclusive",
      reason: `${arm} has ${fmt(t.value)} ${trialsName}; ${floor} per arm are needed`,
    };
  }
  if (ev > t.value * (1 + 1e-9)) {
    return {
      ok: false,
      status: "error",
      reason: `${arm}: ${fmt(ev)} ${eventsName} out of ${fmt(t.value)} ${trialsName}`,
    };
  }
  return { ok: true, value: { events: Math.min(ev, t.value), trials: t.value } };
}

/** The outcome of an interval on "how much worse" against a margin. */
function judge(worse: Interval, margin: number): CheckStatus {
  // Differences of fractions carry binary rounding; a bound within 1e-12 of the margin counts as at it.
  if (worse.upper <= margin + 1e-12) return "pass";
  if (worse.lower > margin + 1e-12) return "fail";
  return "inconclusive";
}

function verdictText(status: CheckStatus, worse: Interval, margin: number, unit = ""): string {
  const range = `[${fmt(worse.lower)}, ${fmt(worse.upper)}]${unit}`;
  if (status === "pass")
    return `worse by at most ${fmt(worse.upper)}${unit} ${range}, within the margin ${fmt(margin)}${unit}`;
  if (status === "fail")
    return `worse by at least ${fmt(worse.lower)}${unit} ${range}, beyond the margin ${fmt(margin)}${unit}`;
  return `worse by ${range}: the interval straddles the margin ${fmt(margin)}${unit}; more traffic decides`;
}

/** How one proportion check reads its counts from an arm. */
interface ProportionSpec {
  readonly name: "error_rate" | "accuracy";
  /** The accepted worsening (the margin). */
  readonly margin: number;
  readonly trials: (o: ArmCounts) => Observed<number>;
  readonly events: (o: ArmCounts) => Observed<number>;
  readonly trialsLabel: string;
  readonly eventsLabel: string;
  /** Per-arm floor on the trials. */
  readonly floor: number;
  /** How the reason names the metric and the arm's trials. */
  readonly metric: string;
  readonly trialsUnit: string;
  /** Whether more events is worse (errors) or better (correct predictions). */
  readonly moreIsWorse: boolean;
}

/**
 * A proportion compared between the arms on Newcombe's interval of the difference:
 * - an arm below its floor or without usable counts decides the check by its status;
 * - otherwise the worsening (canary − stable when more is worse, else stable − canary) is judged
 *   against the margin.
 */
function proportionCheck(
  canary: ArmCounts,
  stable: ArmCounts,
  c: CanaryCriteria,
  spec: ProportionSpec,
): CanaryCheck {
  const base = { name: spec.name, margin: spec.margin };
  const arm = (label: string, o: ArmCounts) =>
    proportion(label, spec.trials(o), spec.events(o), spec.trialsLabel, spec.eventsLabel, spec.floor);
  const a = arm("canary", canary);
  const b = arm("stable", stable);
  const est = (u: Usable<Proportion>) => (u.ok ? u.value.events / u.value.trials : null);
  if (!a.ok || !b.ok) {
    const bad = [a, b].filter((u): u is Extract<Usable<Proportion>, { ok: false }> => !u.ok);
    return {
      ...base,
      status: worstStatus(bad.map((u) => u.status)),
      canary: est(a),
      stable: est(b),
      worseBy: null,
      reason: `${spec.metric}: ${bad.map((u) => u.reason).join("; ")}`,
    };
  }
  const [worseArm, betterArm] = spec.moreIsWorse ? [a.value, b.value] : [b.value, a.value];
  const worse = newcombeDifference(
    worseArm.events,
    worseArm.trials,
    betterArm.events,
    betterArm.trials,
    c.confidence,
  );
  const status = judge(worse, spec.margin);
  return {
    ...base,
    status,
    canary: a.value.events / a.value.trials,
    stable: b.value.events / b.value.trials,
    worseBy: worse,
    reason:
      `${spec.metric} ${fmt(a.value.events / a.value.trials)} (canary, ${fmt(a.value.trials)} ${spec.trialsUnit}) vs ` +
      `${fmt(b.value.events / b.value.trials)} (stable, ${fmt(b.value.trials)}): ${verdictText(status, worse, spec.margin)}`,
  };
}

function errorRateCheck(canary: ArmCounts, stable: ArmCounts, c: CanaryCriteria): CanaryCheck {
  return proportionCheck(canary, stable, c, {
    name: "error_rate",
    margin: c.maxErrorRateIncrease,
    trials: (o) => o.requests,
    events: (o) => o.errors,
    trialsLabel: "requests",
    eventsLabel: "5xx responses",
    floor: c.minRequestsPerArm,
    metric: "error rate",
    trialsUnit: "requests",
    moreIsWorse: true,
  });
}

function accuracyCheck(canary: ArmCounts, stable: ArmCounts, c: CanaryCriteria): CanaryCheck {
  return proportionCheck(canary, stable, c, {
    name: "accuracy",
    margin: c.maxAccuracyDrop,
    trials: (o) => o.labeledPredictions,
    events: (o) => o.correctPredictions,
    trialsLabel: "labeled predictions",
    eventsLabel: "correct predictions",
    floor: c.minLabeledPredictionsPerArm,
    metric: "accuracy",
    trialsUnit: "labeled",
    moreIsWorse: false,
  });
}

function p99(arm: string, o: ArmCounts, c: CanaryCriteria): Usable<Interval> {
  const requests = count(o.requests, `${arm} requests`);
  if (!requests.ok) return requests;
  if (requests.value < c.minRequestsPerArm) {
    return {
      ok: false,
      status: "inconclusive",
      reason: `${arm} has ${fmt(requests.value)} requests; ${c.minRequestsPerArm} per arm are needed`,
    };
  }
  const h = o.latencyBuckets;
  if (h.error !== undefined)
    return { ok: false, status: "error", reason: `${arm} latency histogram: query failed: ${h.error}` };
  if (h.value === null || h.value.length === 0) {
    return { ok: false, status: "inconclusive", reason: `${arm} latency histogram: no series in the window` };
  }
  try {
    const q = histogramQuantile(h.value, 0.99, c.confidence);
    return { ok: true, value: { estimate: q.estimate * 1000, lower: q.lower * 1000, upper: q.upper * 1000 } };
  } catch (err) {
    return { ok: false, status: "error", reason: `${arm} latency histogram: ${(err as Error).message}` };
  }
}

function latencyCheck(canary: ArmCounts, stable: ArmCounts, c: CanaryCriteria): CanaryCheck {
  const base = { name: "latency_p99" as const, margin: c.maxLatencyP99IncreaseMs };
  const a = p99("canary", canary, c);
  const b = p99("stable", stable, c);
  if (!a.ok || !b.ok) {
    const bad = [a, b].filter((u): u is Extract<Usable<Interval>, { ok: false }> => !u.ok);
    return {
      ...base,
      status: worstStatus(bad.map((u) => u.status)),
      canary: a.ok ? a.value.estimate : null,
      stable: b.ok ? b.value.estimate : null,
      worseBy: null,
      reason: `p99 latency: ${bad.map((u) => u.reason).join("; ")}`,
    };
  }
  // Each arm's p99 lies in [lower, upper] (bucket edges); the difference lies in
  // [canary.lower − stable.upper, canary.upper − stable.lower].
  const worse: Interval = {
    estimate: a.value.estimate - b.value.estimate,
    lower: a.value.lower - b.value.upper,
    upper: a.value.upper - b.value.lower,
  };
  const status = judge(worse, c.maxLatencyP99IncreaseMs);
  let reason =
    `p99 latency ${fmt(a.value.estimate)} ms (canary, in [${fmt(a.value.lower)}, ${fmt(a.value.upper)}]) vs ` +
    `${fmt(b.value.estimate)} ms (stable, in [${fmt(b.value.lower)}, ${fmt(b.value.upper)}]): ` +
    verdictText(status, worse, c.maxLatencyP99IncreaseMs, " ms");
  if (status === "inconclusive" && a.value.upper === Infinity) {
    reason += "; the canary's p99 is not bounded by its requests and buckets yet";
  }
  return { ...base, status, canary: a.value.estimate, stable: b.value.estimate, worseBy: worse, reason };
}

/**
 * Compares the canary with the stable version over one window. Rules, in order:
 * - both arms must be measured over the same window on the same traffic (the caller's
 *   queries); two arms of one version are refused (nothing to compare);
 * - error rate and accuracy are proportions: each is judged on Newcombe's interval of the
 *   difference at `confidence`; pass when the pessimistic bound is within the margin, fail when
 *   the optimistic bound is beyond it, inconclusive between;
 * - p99 latency is judged on the order-statistic interval of each arm's p99 from the
 *   histogram; an unbounded canary p99 (too few requests, or the +Inf bucket) cannot pass;
 * - a per-arm floor (requests; labeled predictions) must be met before a check can pass or
 *   fail; below it the check is inconclusive;
 * - no series for the requests is inconclusive; a failed query or an impossible count is error;
 * - accuracy is compared only when `minLabeledPredictionsPerArm` is above 0;
 * - the outcome is the worst check: fail > error > inconclusive > pass.
 */
export function compareArms(
  canary: ArmCounts,
  stable: ArmCounts,
  criteria: CanaryCriteria,
  window: { readonly start: Date; readonly end: Date },
): ArmComparison {
  if (canary.version === stable.version) {
    throw new RangeError(`the canary and the stable both run ${canary.version}: there is nothing to compare`);
  }
  const checks = [errorRateCheck(canary, stable, criteria), latencyCheck(canary, stable, criteria)];
  const compareAccuracy = criteria.minLabeledPredictionsPerArm > 0;
  if (compareAccuracy) checks.push(accuracyCheck(canary, stable, criteria));
  return {
    outcome: worstStatus(checks.map((c) => c.status)),
    window: { start: window.start.toISOString(), end: window.end.toISOString() },
    canaryVersion: canary.version,
    stableVersion: stable.version,
    checks,
    ...(compareAccuracy
      ? {}
      : { accuracyNotCompared: "minLabeledPredictionsPerArm is 0: labels do not arrive within a step here" }),
  };
}

export type StepAction =
  | { readonly action: "continue"; readonly reason: string }
  | { readonly action: "pass"; readonly reason: string }
  | { readonly action: "abort"; readonly cause: "fail" | "inconclusive" | "error"; readonly reason: string };

/**
 * What a step does after an analysis `elapsedSeconds` into it. Rules, in order:
 * - a failed comparison aborts at once (the canary is removed, the stable never changed);
 * - a passing comparison passes the step once the step has run its `durationSeconds`, and
 *   continues before that (a good first minute is not a good step);
 * - an inconclusive or errored comparison continues until `maxDurationSeconds`, then aborts:
 *   a canary that cannot be shown good is never promoted.
 */
export function stepAction(comparison: ArmComparison, elapsedSeconds: number, step: CanaryStep): StepAction {
  const failing = comparison.checks.filter((c) => c.status !== "pass").map((c) => c.reason);
  if (comparison.outcome === "fail") {
    const failed = comparison.checks.filter((c) => c.status === "fail").map((c) => c.reason);
    return {
      action: "abort",
      cause: "fail",
      reason: `the canary is worse than the stable: ${failed.join("; ")}`,
    };
  }
  if (comparison.outcome === "pass") {
    if (elapsedSeconds >= step.durationSeconds) {
      return {
        action: "pass",
        reason: `every check passed after ${Math.round(elapsedSeconds)} s of the step`,
      };
    }
    return {
      action: "continue",
      reason: `passing so far; the step needs ${step.durationSeconds} s (${Math.round(elapsedSeconds)} s elapsed)`,
    };
  }
  if (elapsedSeconds >= step.maxDurationSeconds) {
    return {
      action: "abort",
      cause: comparison.outcome,
      reason: `still ${comparison.outcome} after the step's maximum of ${step.maxDurationSeconds} s: ${failing.join("; ")}`,
    };
  }
  return { action: "continue", reason: `${comparison.outcome}: ${failing.join("; ")}` };
}
