/**
 * The canary's size and the step plan. Pure: the program sizes the two tracks with
 * `canarySize` and the promotion plans its steps with `planCanary`, so both round alike.
 *
 * Rounding, as Argo Rollouts' basic canary (replica-count weighting, no traffic router) does it
 * (utils/replicaset/canary.go): with N the stable's declared size (`replicas.min`) and w the
 * weight in percent,
 *   canary = ceil(N × w / 100)   and   stable = ceil(N × (100 − w) / 100),
 * both rounded up so that neither track is left without a pod; when N × w / 100 is not whole
 * the two add up to N + 1 (Argo surges by one for the same reason). Two differences, both
 * documented in docs/canary.md: the stable never drops below production's floor of
 * PRODUCTION_MIN_REPLICAS (the program's and the pack's rule), and the stable's autoscaler
 * bounds shrink with it (max = max(stable, ceil(replicas.max × (100 − w) / 100))) so the HPA
 * does not scale the stable back up and dilute the canary's share. Traffic follows ready pods,
 * so the canary's real share is canary / (canary + stable), which the plan reports.
 */
import type { CanarySettings } from "./config";

/** Fewest stable replicas in production, whatever the weight. */
export const PRODUCTION_MIN_REPLICAS = 2;

export interface ReplicaBounds {
  readonly min: number;
  readonly max: number;
}

/** The canary's size as stack config gives it: a weight, or an explicit replica count. */
export type CanarySizeSpec = { readonly weight: number } | { readonly replicas: number };

export interface TrackSizes {
  /** Replicas of the canary Deployment (fixed: the canary has no autoscaler). */
  readonly canaryReplicas: number;
  /** The stable Deployment's replicas and its autoscaler's bounds while the canary runs. */
  readonly stable: ReplicaBounds;
  /** The canary's share of the ready pods at these sizes, 0..1. */
  readonly canaryShare: number;
}

/**
 * The two tracks' sizes for a canary of `spec` beside a stable declared with `replicas`.
 * Rules, in order:
 * - an explicit `replicas` count is taken as it is and the stable keeps its full size;
 * - a weight w gives canary = ceil(min × w/100) and stable = ceil(min × (100−w)/100);
 * - the stable never goes below PRODUCTION_MIN_REPLICAS, and its autoscaler's maximum is
 *   ceil(max × (100−w)/100), never below the stable's own size.
 * Throws a RangeError naming the field for a weight outside 1..99 or a count outside 1..100.
 */
export function canarySize(replicas: ReplicaBounds, spec: CanarySizeSpec): TrackSizes {
  if ("replicas" in spec) {
    const n = spec.replicas;
    if (!Number.isInteger(n) || n < 1 || n > 100) {
      throw new RangeError(`canary.replicas (${n}) must be an integer from 1 to 100`);
    }
    return { canaryReplicas: n, stable: { ...replicas }, canaryShare: n / (n + replicas.min) };
  }
  const w = spec.weight;
  if (!Number.isInteger(w) || w < 1 || w > 99) {
    throw new RangeError(`canary.weight (${w}) must be an integer percentage from 1 to 99`);
  }
  // Integer arithmetic: ceil(min × w / 100) without binary fractions (0.1 × 30 ≠ 3).
  const ceilShare = (n: number, percent: number) => Math.ceil((n * percent) / 100);
  const canaryReplicas = ceilShare(replicas.min, w);
  const stableMin = Math.max(PRODUCTION_MIN_REPLICAS, ceilShare(replicas.min, 100 - w));
  const stableMax = Math.max(stableMin, ceilShare(replicas.max, 100 - w));
  return {
    canaryReplicas,
    stable: { min: stableMin, max: stableMax },
    canaryShare: canaryReplicas / (canaryReplicas + stableMin),
  };
}

export interface PlannedStep extends TrackSizes {
  /** 1-based position in the plan. */
  readonly index: number;
  readonly weight: number;
  readonly durationSeconds: number;
  readonly maxDurationSeconds: number;
}

export interface CanaryPlan {
  readonly steps: readonly PlannedStep[];
  readonly analysisIntervalSeconds: number;
  /** Shortest time the canary can take when every step passes at its duration, seconds. */
  readonly minSeconds: number;
  /** Longest time before every step has passed or the canary aborted, seconds. */
  readonly maxSeconds: number;
}

/**
 * The steps a canary promotion walks, each with the sizes the program will declare. After the
 * last step passes, the stable moves to the candidate (100 %) and the bake follows; no step
 * runs at 100 %, because a canary that has all the pods has no stable left to compare with.
 */
export function planCanary(settings: CanarySettings, replicas: ReplicaBounds): CanaryPlan {
  const steps = settings.steps.map(
    (s, i): PlannedStep => ({
      index: i + 1,
      weight: s.weight,
      durationSeconds: s.durationSeconds,
      maxDurationSeconds: s.maxDurationSeconds,
      ...canarySize(replicas, { weight: s.weight }),
    }),
  );
  return {
    steps,
    analysisIntervalSeconds: settings.analysisIntervalSeconds,
    minSeconds: steps.reduce((t, s) => t + s.durationSeconds, 0),
    maxSeconds: steps.reduce((t, s) => t + s.maxDurationSeconds, 0),
  };
}

/** "10 % (1 of 10 pods, 10 % of traffic)" — how a step is shown in logs and reports. */
export function describeStep(step: PlannedStep): string {
  const pods = step.canaryReplicas + step.stable.min;
  const share = Math.round(step.canaryShare * 1000) / 10;
  return `step ${step.index}: weight ${step.weight} % (${step.canaryReplicas} of ${pods} pods, ~${share} % of traffic)`;
}
