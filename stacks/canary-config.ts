/**
 * The canary part of the stack config (`churn-model:canary`, docs/canary.md) and the two
 * tracks' sizes it gives: read by `readStackConfig` (config.ts), sized by the program and
 * planned with by the promotion (scripts/promotion/canary/plan.ts).
 */
import { Environment, modelVersionProblem } from "../policy/contract";
import { ConfigReader, isInt } from "./config-reader";

/** `churn-model:canary`: a second Deployment running `version` beside the stable, behind the same Service. */
export interface CanaryConfig {
  readonly version: string;
  /** A weight (percent of `replicas.min`, rounded as docs/canary.md says) or an explicit replica count. */
  readonly size: CanarySizeSpec;
  /** Signed staging promotion evidence of `version`, written by `npm run promote`. */
  readonly promotionEvidence?: string;
}

/**
 * `churn-model:canary: {version, weight | replicas, promotionEvidence}`. Production only; the
 * version must differ from the stable's; exactly one of weight (1–99) and replicas (1–100).
 */
export function readCanary(
  r: ConfigReader,
  environment: Environment | undefined,
  stable: string | undefined,
): CanaryConfig | undefined {
  if (r.raw("canary") === undefined) return undefined;
  const obj = r.object("canary");
  const problems = r.problems.length;
  if (environment !== undefined && environment !== "production") {
    r.problems.push(`churn-model:canary belongs to production only (this stack is ${environment})`);
  }
  const known = ["version", "weight", "replicas", "promotionEvidence"];
  for (const k of Object.keys(obj).filter((k) => !known.includes(k))) {
    r.problems.push(`churn-model:canary.${k} is not a canary setting (known: ${known.join(", ")})`);
  }
  const version = obj.version;
  if (typeof version !== "string") {
    r.problems.push(
      "churn-model:canary.version is required (a semantic version like 1.4.2 or sha256:<digest>)",
    );
  } else {
    const problem = modelVersionProblem(version);
    if (problem) r.problems.push(`churn-model:canary.version ${problem} (got ${JSON.stringify(version)})`);
    else if (version === stable) {
      r.problems.push(`churn-model:canary.version (${version}) must differ from churn-model:modelVersion`);
    }
  }
  let size: CanarySizeSpec | undefined;
  if ((obj.weight === undefined) === (obj.replicas === undefined)) {
    r.problems.push(
      "churn-model:canary needs exactly one of weight (a percentage 1–99) and replicas (1–100)",
    );
  } else if (obj.weight !== undefined) {
    const w = r.field("canary", obj, "weight", isInt(1, 99), "an integer percentage from 1 to 99");
    if (w !== undefined) size = { weight: w as number };
  } else {
    const n = r.field("canary", obj, "replicas", isInt(1, 100), "an integer from 1 to 100");
    if (n !== undefined) size = { replicas: n as number };
  }
  const evidence = obj.promotionEvidence;
  if (evidence !== undefined && typeof evidence !== "string") {
    r.problems.push("churn-model:canary.promotionEvidence must be the signed evidence as a JSON string");
  }
  if (r.problems.length > problems || size === undefined) return undefined;
  return {
    version: version as string,
    size,
    ...(evidence !== undefined ? { promotionEvidence: evidence as string } : {}),
  };
}

// The canary's size: Argo Rollouts' basic-canary rounding (utils/replicaset/canary.go), with the
// two differences docs/canary.md ("Weight → replicas") describes. It lives beside the config
// because the program sizes the tracks from it and the promotion plans its steps with it.

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
