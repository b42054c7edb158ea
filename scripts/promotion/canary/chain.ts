/**
 * The canary chain as the promotion writes it: the part of the evidence a canary walk leaves
 * (passed or aborted). Its shape and the rule the program and the policy pack apply to
 * production's stable version are the contract's (policy/contract/canary-chain.ts).
 */
import type { CanaryEvidence, CanaryStepRecord } from "../../../policy/contract";
import type { CanaryOutcome, StepRecord } from "./run";

export type {
  CanaryCheckRecord,
  CanaryEvidence,
  CanaryStepRecord,
  ChainPolicy,
  ChainSubject,
} from "../../../policy/contract";
export { canaryShapeProblem, stableChainFor, stableChainProblems } from "../../../policy/contract";

/** JSON has no ±Infinity: an unbounded interval edge is kept as null. */
function edge(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function stepRecord(s: StepRecord): CanaryStepRecord {
  return {
    weight: s.weight,
    canaryReplicas: s.canaryReplicas,
    stableReplicas: s.stableReplicas,
    window: { start: s.startedAt, end: s.endedAt },
    verdict: s.verdict,
    reason: s.reason,
    checks: (s.comparison?.checks ?? []).map((c) => ({
      name: c.name,
      status: c.status,
      canary: c.canary,
      stable: c.stable,
      worseBy: c.worseBy === null ? null : { lower: edge(c.worseBy.lower), upper: edge(c.worseBy.upper) },
      margin: c.margin,
    })),
  };
}

/** The evidence of a canary walk, passed or aborted. */
export function canaryEvidence(outcome: CanaryOutcome, stableVersion: string): CanaryEvidence {
  return {
    strategy: "canary",
    stableVersion,
    steps: outcome.steps.map(stepRecord),
    ...(outcome.outcome === "aborted" ? { aborted: { cause: outcome.cause, reason: outcome.reason } } : {}),
  };
}
