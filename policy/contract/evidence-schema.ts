/**
 * The evidence record and its strict shape: every field required unless marked, no unknown
 * field, an explicit format version. See docs/evidence-format.md for the format as a
 * verifier in any language reads it.
 */
import { analysisShapeProblem, type AnalysisRecord } from "./analysis-record";
import { artifactShapeProblem, type Artifact } from "./artifact";
import { type Approval, validateApproval } from "./approval";
import { canaryShapeProblem, type CanaryEvidence } from "./canary-chain";
import { ContractError } from "./errors";
import { nonEmptyString, objectAt, timestamp } from "./shape";
import { parseThresholds, Thresholds } from "./thresholds";
import { type PromotionTarget, validateTarget } from "./position";

/** The evidence format this contract writes and reads; any other is refused. */
export const EVIDENCE_FORMAT = 4;

/** Staging measurements over the evaluation window. */
export interface Measured {
  /** Fraction of labeled predictions that were correct, 0..1. */
  accuracy: number;
  /** p99 request latency, milliseconds. */
  latencyP99Ms: number;
  /** Share of 5xx responses, 0..1. */
  errorRate: number;
  /** Mean of `up` over the window, 0..1. */
  uptime: number;
  /** Hours the version had run in staging at evaluation time. */
  soakHours: number;
  /** Requests in the window. */
  requests: number;
  /** Predictions in the window whose ground truth arrived. */
  labeledPredictions: number;
}

export interface EvidenceRecord {
  /** The format version, EVIDENCE_FORMAT. */
  format: typeof EVIDENCE_FORMAT;
  kind: "promotion" | "rollback";
  modelVersion: string;
  /** The image staging was configured to run (informational: `artifact` is what ran). */
  image: string;
  /** The registry, repository and digest staging's pods ran (artifact.ts); production runs that digest. */
  artifact: Artifact;
  measured: Measured;
  /** The evaluation window, RFC3339. */
  window: { start: string; end: string };
  /** The thresholds the gate used (extra policy-config keys allowed). Informational only: verification never trusts them. */
  thresholds: Thresholds;
  staging: { stack: string; updateVersion: number | null; deployedAt: string };
  /**
   * The production stack (fully qualified), namespace and promotion sequence the evidence is
   * for (position.ts): evidence for another target or moment does not apply.
   */
  target: PromotionTarget;
  /** Kind "rollback": the version it rolls back from, which production revokes with it. */
  revokes?: string;
  approver: string;
  /** RFC3339. */
  createdAt: string;
  /** Kind "rollback": the earlier signed promotion evidence of the version returned to. */
  rollbackOf?: SignedEvidence;
  /** How the gate decided: method, counts, bounds and per-interval outcomes (docs/analysis.md). */
  analysis?: AnalysisRecord;
  /**
   * Kind "promotion" through a canary: its steps and verdicts in production, which the stable's
   * evidence must show where a target accepts only canary promotions (docs/canary.md).
   */
  canary?: CanaryEvidence;
  /**
   * Kind "promotion": the approvals of the decision, in the order given (docs/approvals.md);
   * with `signaturesRequired` they must reach the quorum.
   */
  approvals?: Approval[];
}

export interface SignedEvidence {
  record: EvidenceRecord;
  /** Base64 Ed25519 signature over the RFC 8785 canonical JSON of `record`, UTF-8. */
  signature: string;
}

export const SIGNATURE_BYTES = 64;

export const MEASURED_KEYS: readonly (keyof Measured)[] = [
  "accuracy",
  "latencyP99Ms",
  "errorRate",
  "uptime",
  "soakHours",
  "requests",
  "labeledPredictions",
];
const RECORD_KEYS = [
  "format",
  "kind",
  "modelVersion",
  "image",
  "artifact",
  "measured",
  "window",
  "thresholds",
  "staging",
  "target",
  "revokes",
  "approver",
  "createdAt",
  "rollbackOf",
  "analysis",
  "canary",
  "approvals",
];

function numberAt(value: unknown, at: string): number {
  if (typeof value !== "number") {
    throw new ContractError(`${at} must be a number (got ${JSON.stringify(value)})`);
  }
  return value;
}

/**
 * Why `value` is not evidence of EVIDENCE_FORMAT, or undefined when its format field is
 * ours. Looked at before anything else, so evidence of another format is named as such.
 */
export function formatProblem(value: unknown, at: string): string | undefined {
  const record =
    typeof value === "object" && value !== null ? (value as Record<string, unknown>).record : undefined;
  const format =
    typeof record === "object" && record !== null ? (record as Record<string, unknown>).format : undefined;
  if (format === EVIDENCE_FORMAT) {
    return undefined;
  }
  if (format === undefined) {
    return `${at} names no format; this verifier reads evidence format ${EVIDENCE_FORMAT} only (record.format)`;
  }
  return `${at} has format ${JSON.stringify(format)}, which this verifier does not read; it reads evidence format ${EVIDENCE_FORMAT} only`;
}

/** Checks a record's shape; throws ContractError naming the first field that is wrong. */
export function validateRecord(value: unknown, at: string): EvidenceRecord {
  const obj = objectAt(value, at, RECORD_KEYS);
  if (obj.format !== EVIDENCE_FORMAT) {
    throw new ContractError(
      `${at}.format must be ${EVIDENCE_FORMAT} (got ${JSON.stringify(obj.format)}); this verifier reads no other format`,
    );
  }
  const kind = obj.kind;
  if (kind !== "promotion" && kind !== "rollback") {
    throw new ContractError(`${at}.kind must be "promotion" or "rollback" (got ${JSON.stringify(kind)})`);
  }
  nonEmptyString(obj.modelVersion, `${at}.modelVersion`);
  nonEmptyString(obj.image, `${at}.image`);
  const artifact = artifactShapeProblem(obj.artifact, `${at}.artifact`);
  if (artifact !== undefined) throw new ContractError(artifact);

  const measured = objectAt(obj.measured, `${at}.measured`, MEASURED_KEYS);
  for (const key of MEASURED_KEYS) {
    numberAt(measured[key], `${at}.measured.${key}`);
  }

  const window = objectAt(obj.window, `${at}.window`, ["start", "end"]);
  const start = timestamp(window.start, `${at}.window.start`);
  const end = timestamp(window.end, `${at}.window.end`);
  if (Date.parse(start) > Date.parse(end)) {
    throw new ContractError(`${at}.window.start (${start}) must not be after ${at}.window.end (${end})`);
  }

  // Informational: the policy-config section the gate read, so keys beside the thresholds
  // (publicKey) may come along; the signature covers them like every other field.
  parseThresholds(obj.thresholds, `${at}.thresholds`);

  const staging = objectAt(obj.staging, `${at}.staging`, ["stack", "updateVersion", "deployedAt"]);
  nonEmptyString(staging.stack, `${at}.staging.stack`);
  const uv = staging.updateVersion;
  if (uv !== null && (typeof uv !== "number" || !Number.isInteger(uv) || uv < 0)) {
    throw new ContractError(`${at}.staging.updateVersion must be a non-negative integer or null`);
  }
  timestamp(staging.deployedAt, `${at}.staging.deployedAt`);
  validateTarget(obj.target, `${at}.target`);
  if (obj.revokes !== undefined) {
    if (kind !== "rollback") throw new ContractError(`${at}.revokes belongs to rollback evidence only`);
    nonEmptyString(obj.revokes, `${at}.revokes`);
    if (obj.revokes === obj.modelVersion) {
      throw new ContractError(
        `${at}.revokes names ${String(obj.revokes)}, the version the rollback returns to`,
      );
    }
  }

  if (obj.analysis !== undefined) {
    const problem = analysisShapeProblem(obj.analysis);
    if (problem !== undefined) throw new ContractError(`${at}.analysis ${problem}`);
  }
  if (obj.canary !== undefined) {
    const problem = canaryShapeProblem(obj.canary, `${at}.canary`);
    if (problem !== undefined) throw new ContractError(problem);
  }

  nonEmptyString(obj.approver, `${at}.approver`);
  timestamp(obj.createdAt, `${at}.createdAt`);

  if (obj.approvals !== undefined) {
    if (kind !== "promotion") {
      throw new ContractError(`${at}.approvals belong to promotion evidence only`);
    }
    if (!Array.isArray(obj.approvals)) {
      throw new ContractError(`${at}.approvals must be a list of approval records`);
    }
    obj.approvals.forEach((a: unknown, i: number) => validateApproval(a, `${at}.approvals[${i}]`));
  }

  if (kind === "rollback") {
    if (obj.rollbackOf === undefined) {
      throw new ContractError(`${at}.rollbackOf is required for rollback evidence`);
    }
    validateSigned(obj.rollbackOf, `${at}.rollbackOf`);
    if (obj.canary !== undefined) {
      throw new ContractError(`${at}.canary belongs to promotion evidence only`);
    }
  } else if ("rollbackOf" in obj) {
    throw new ContractError(`${at}.rollbackOf belongs to rollback evidence only`);
  }
  return obj as unknown as EvidenceRecord;
}

/** Checks signed evidence's shape; throws ContractError naming the first field that is wrong. */
export function validateSigned(value: unknown, at: string): SignedEvidence {
  const obj = objectAt(value, at, ["record", "signature"]);
  validateRecord(obj.record, `${at}.record`);
  const sig = obj.signature;
  if (
    typeof sig !== "string" ||
    Buffer.from(sig, "base64").length !== SIGNATURE_BYTES ||
    Buffer.from(sig, "base64").toString("base64") !== sig
  ) {
    throw new ContractError(
      `${at}.signature must be the base64 encoding of a ${SIGNATURE_BYTES}-byte Ed25519 signature`,
    );
  }
  return obj as unknown as SignedEvidence;
}

/** Parses SignedEvidence JSON; throws ContractError naming what is wrong. */
export function parseSignedEvidence(json: string): SignedEvidence {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new ContractError(`promotion evidence is not valid JSON: ${(err as Error).message}`);
  }
  return validateSigned(parsed, "evidence");
}
