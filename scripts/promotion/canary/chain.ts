/**
 * The canary chain as evidence: what a promotion that went through a canary records (the
 * steps and their verdicts, signed with the rest of the evidence), what an aborted canary
 * records, and the rule the program and the policy pack apply to production's stable version.
 * Pure, and it imports nothing but types, so the pack can carry it unchanged.
 */
import type { Strategy } from "./config";
import type { CanaryOutcome, StepRecord } from "./run";

/** One check of a step's last analysis, as the evidence keeps it. */
export interface CanaryCheckRecord {
  readonly name: string;
  readonly status: string;
  readonly canary: number | null;
  readonly stable: number | null;
  /** The interval of how much worse the canary was; null when not computed. */
  readonly worseBy: { readonly lower: number | null; readonly upper: number | null } | null;
  readonly margin: number;
}

/** One step as the evidence keeps it. */
export interface CanaryStepRecord {
  readonly weight: number;
  readonly canaryReplicas: number;
  readonly stableReplicas: number;
  readonly window: { readonly start: string; readonly end: string };
  readonly verdict: string;
  readonly reason: string;
  readonly checks: readonly CanaryCheckRecord[];
}

/** The canary part of a promotion's evidence (or of an abort record). */
export interface CanaryEvidence {
  readonly strategy: "canary";
  /** The version the canary was compared with. */
  readonly stableVersion: string;
  readonly steps: readonly CanaryStepRecord[];
  /** Set for an aborted canary: why, and the cause (fail, inconclusive, error). */
  readonly aborted?: { readonly cause: string; readonly reason: string };
}

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

/** What the chain rule needs of an evidence record. */
export interface ChainSubject {
  readonly kind: string;
  readonly modelVersion: string;
  readonly canary?: CanaryEvidence;
}

/**
 * Why production's stable version may not run with this evidence, or [] when it may. Rules,
 * in order:
 * - rollback evidence returns to an earlier promoted version: always allowed (its embedded
 *   promotion evidence is verified as before);
 * - promotion evidence without a canary part is an all-at-once promotion: allowed only when
 *   the target accepts "all-at-once";
 * - promotion evidence with a canary part must show the canary passed: not aborted, compared
 *   with another version, and a passing verdict for every step the target configures, at the
 *   configured weights and in order; "canary" must be accepted.
 */
export function stableChainProblems(
  subject: ChainSubject,
  strategies: readonly Strategy[],
  configuredWeights: readonly number[],
): string[] {
  if (subject.kind === "rollback") return [];
  const v = subject.modelVersion;
  const c = subject.canary;
  if (c === undefined) {
    return strategies.includes("all-at-once")
      ? []
      : [
          `the evidence of ${v} shows no canary, and this target accepts only ${strategies.join(", ")}: ` +
            "the stable may move only to a version that passed its canary in production (or back to an earlier promoted one)",
        ];
  }
  const problems: string[] = [];
  if (!strategies.includes("canary")) problems.push(`this target does not accept canary promotions`);
  if (c.strategy !== "canary")
    problems.push(`the evidence's canary part names the strategy ${JSON.stringify(c.strategy)}`);
  if (c.aborted !== undefined)
    problems.push(`the canary of ${v} was aborted (${c.aborted.cause}): ${c.aborted.reason}`);
  if (c.stableVersion === v) problems.push(`the canary of ${v} was compared with ${v} itself`);
  const weights = c.steps.map((s) => s.weight);
  if (weights.join(",") !== configuredWeights.join(",")) {
    problems.push(
      `the canary of ${v} ran the steps ${weights.join(" → ") || "none"} %, but this target configures ${configuredWeights.join(" → ")} %`,
    );
  }
  for (const s of c.steps) {
    if (s.verdict !== "pass")
      problems.push(`the canary of ${v} did not pass its ${s.weight} % step (${s.verdict})`);
  }
  return problems;
}
