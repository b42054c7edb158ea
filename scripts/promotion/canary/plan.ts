/**
 * The step plan of a canary promotion. Pure: each step is sized with `canarySize` (the stack
 * config's module, which the program uses too), so the plan and the program round alike.
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
import { canarySize, ReplicaBounds, TrackSizes } from "../../../stacks/canary-config";
import type { CanarySettings } from "./config";

export { canarySize, PRODUCTION_MIN_REPLICAS } from "../../../stacks/canary-config";
export type { CanarySizeSpec, ReplicaBounds, TrackSizes } from "../../../stacks/canary-config";

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
