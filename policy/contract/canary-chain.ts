/**
 * The canary chain as evidence: the part a promotion through a canary signs into the stable's
 * evidence (`record.canary`: the steps and their verdicts), its strict shape, and the rule the
 * program and the policy pack apply to production's stable version. Pure. See docs/canary.md
 * ("The canary chain in the evidence") and docs/evidence-format.md.
 */
import type { Outcome } from "./analysis-record";
import type { Strategy } from "./canary-config";

/** One check of a step's last analysis, as the evidence keeps it. */
export interface CanaryCheckRecord {
  readonly name: string;
  readonly status: Outcome;
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
  /** The step's analysis window, RFC3339. */
  readonly window: { readonly start: string; readonly end: string };
  readonly verdict: Outcome;
  readonly reason: string;
  readonly checks: readonly CanaryCheckRecord[];
}

/** The canary part of a promotion's evidence (or of a canary record). */
export interface CanaryEvidence {
  readonly strategy: "canary";
  /** The version the canary was compared with. */
  readonly stableVersion: string;
  readonly steps: readonly CanaryStepRecord[];
  /** Set for an aborted canary: why, and the cause (fail, inconclusive, error). */
  readonly aborted?: { readonly cause: "fail" | "inconclusive" | "error"; readonly reason: string };
}

const OUTCOMES: readonly string[] = ["pass", "inconclusive", "error", "fail"];
const ABORT_CAUSES: readonly string[] = ["fail", "inconclusive", "error"];
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

type Obj = Record<string, unknown>;

/** Why `v` is not an object holding exactly `keys` (those in `optional` may be absent), or undefined. */
function objectProblem(v: unknown, at: string, keys: readonly string[], optional: readonly string[] = []) {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return `${at} must be an object`;
  const extra = Object.keys(v).filter((k) => !keys.includes(k));
  if (extra.length > 0) return `${at} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")}`;
  const missing = keys.filter((k) => !optional.includes(k) && !(k in v));
  if (missing.length > 0) return `${at} is missing ${missing.join(", ")}`;
  return undefined;
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const count = (v: unknown): boolean => finite(v) && Number.isInteger(v) && v >= 0;
const finiteOrNull = (v: unknown): boolean => v === null || finite(v);
const timestamp = (v: unknown): boolean =>
  typeof v === "string" && RFC3339.test(v) && !Number.isNaN(Date.parse(v));

/** Why `v` is not a list whose every item `each` accepts (the first problem), or undefined. */
function listProblem(v: unknown, at: string, each: (item: unknown, at: string) => string | undefined) {
  if (!Array.isArray(v)) return `${at} must be a list`;
  for (const [i, item] of (v as unknown[]).entries()) {
    const problem = each(item, `${at}[${i}]`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function checkProblem(c: unknown, at: string): string | undefined {
  const keys = ["name", "status", "canary", "stable", "worseBy", "margin"];
  const shape = objectProblem(c, at, keys);
  if (shape !== undefined) return shape;
  const o = c as Obj;
  if (typeof o.name !== "string" || o.name === "") return `${at}.name must be a non-empty string`;
  if (!OUTCOMES.includes(o.status as string)) return `${at}.status must be one of ${OUTCOMES.join(", ")}`;
  if (!finiteOrNull(o.canary)) return `${at}.canary must be a finite number or null`;
  if (!finiteOrNull(o.stable)) return `${at}.stable must be a finite number or null`;
  if (o.worseBy !== null) {
    const w = objectProblem(o.worseBy, `${at}.worseBy`, ["lower", "upper"]);
    if (w !== undefined) return `${w} {lower, upper} or null`;
    const b = o.worseBy as Obj;
    if (!finiteOrNull(b.lower) || !finiteOrNull(b.upper))
      return `${at}.worseBy.lower and .upper must be finite numbers or null`;
  }
  if (!finite(o.margin)) return `${at}.margin must be a finite number`;
  return undefined;
}

function stepProblem(s: unknown, at: string): string | undefined {
  const keys = ["weight", "canaryReplicas", "stableReplicas", "window", "verdict", "reason", "checks"];
  const shape = objectProblem(s, at, keys);
  if (shape !== undefined) return shape;
  const o = s as Obj;
  if (!finite(o.weight)) return `${at}.weight must be a finite number`;
  for (const k of ["canaryReplicas", "stableReplicas"]) {
    if (!count(o[k])) return `${at}.${k} must be a non-negative integer`;
  }
  const w = objectProblem(o.window, `${at}.window`, ["start", "end"]);
  if (w !== undefined) return `${w} {start, end}`;
  const window = o.window as Obj;
  if (!timestamp(window.start) || !timestamp(window.end))
    return `${at}.window.start and .end must be RFC3339 timestamps`;
  if (!OUTCOMES.includes(o.verdict as string)) return `${at}.verdict must be one of ${OUTCOMES.join(", ")}`;
  if (typeof o.reason !== "string") return `${at}.reason must be a string`;
  return listProblem(o.checks, `${at}.checks`, checkProblem);
}

/**
 * What is wrong with the shape of an evidence record's canary part, as a sentence starting at
 * `at`, or undefined. No field is unknown or missing at any level (`aborted` is optional); the
 * signature covers the part, and this keeps a malformed one from reaching the chain rule.
 */
export function canaryShapeProblem(v: unknown, at = "canary"): string | undefined {
  const shape = objectProblem(v, at, ["strategy", "stableVersion", "steps", "aborted"], ["aborted"]);
  if (shape !== undefined) return `${shape} {strategy, stableVersion, steps[, aborted]}`;
  const o = v as Obj;
  if (o.strategy !== "canary") return `${at}.strategy must be "canary" (got ${JSON.stringify(o.strategy)})`;
  if (typeof o.stableVersion !== "string" || o.stableVersion.trim() === "")
    return `${at}.stableVersion must be a non-empty string`;
  const steps = listProblem(o.steps, `${at}.steps`, stepProblem);
  if (steps !== undefined) return steps;
  if (o.aborted !== undefined) {
    const a = objectProblem(o.aborted, `${at}.aborted`, ["cause", "reason"]);
    if (a !== undefined) return `${a} {cause, reason}`;
    const aborted = o.aborted as Obj;
    if (!ABORT_CAUSES.includes(aborted.cause as string))
      return `${at}.aborted.cause must be one of ${ABORT_CAUSES.join(", ")}`;
    if (typeof aborted.reason !== "string") return `${at}.aborted.reason must be a string`;
  }
  return undefined;
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

/** A target's accepted strategies, as the chain rule reads them (PromotionStrategies fits). */
export interface ChainPolicy {
  readonly strategies: readonly Strategy[];
  readonly canary?: { readonly steps: readonly { readonly weight: number }[] };
}

/** stableChainProblems with the weights the target configures (none without canary settings). */
export function stableChainFor(subject: ChainSubject, policy: ChainPolicy): string[] {
  return stableChainProblems(
    subject,
    policy.strategies,
    (policy.canary?.steps ?? []).map((s) => s.weight),
  );
}
