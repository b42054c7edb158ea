/**
 * The target and the moment evidence binds (format 4): the production stack's fully qualified
 * name, its namespace, and the promotion sequence of production's last successful update that
 * the evidence follows. Production records its position in its own stack outputs
 * (`promotionPosition`): the sequence, the digest of the evidence it runs, the versions it
 * revoked (a list that only grows) and, for each version, the digest of the promotion that
 * promoted it. The program reads that output through a StackReference to its own stack,
 * refuses evidence that does not follow it, and writes it on each production Deployment
 * (POSITION_ANNOTATION) for the policy pack to compare. See docs/design.md ("Target,
 * sequence and revocation").
 */
import * as crypto from "crypto";
import { canonicalBytes } from "./canonical";
import { ContractError } from "./errors";
import type { EvidenceRecord, SignedEvidence } from "./evidence-schema";
import { nonEmptyString, objectAt } from "./shape";

/** What a format-4 record binds of its target. */
export interface PromotionTarget {
  /** The production stack, fully qualified as the backend names it: `<org>/<project>/<stack>`. */
  readonly stack: string;
  /** The Kubernetes namespace production runs in. */
  readonly namespace: string;
  /** The promotion sequence of production's last successful update when the evidence was made. */
  readonly follows: number;
}

/** A version production revoked, and the sequence from which on only fresh promotions bring it back. */
export interface Revocation {
  readonly version: string;
  readonly sequence: number;
}

/** Production's position: its stack output `promotionPosition`, and the Deployments' annotation. */
export interface PromotionPosition {
  /** The stack that recorded it, fully qualified. */
  readonly stack: string;
  /** Advances with every update that applies new evidence or revokes a version. */
  readonly sequence: number;
  /** evidenceDigest of the evidence the last update applied; null before the first. */
  readonly current: string | null;
  /** Every version revoked so far (by a rollback or `npm run promote -- revoke`); only grows. */
  readonly revoked: readonly Revocation[];
  /** Version → evidenceDigest of the promotion evidence that last promoted it to this stack. */
  readonly promotedBy: Readonly<Record<string, string>>;
}

/** The policy-config key (`promotion-evidence` section) bounding the age of a rollback's promotion. */
export const ROLLBACK_AGE_KEY = "maxRollbackEvidenceAgeDays";
export const DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS = 30;

/** The key's schema for the pack's config (the engine validates the policy config against it). */
export const ROLLBACK_CONFIG_SCHEMA = {
  [ROLLBACK_AGE_KEY]: {
    type: "number",
    exclusiveMinimum: 0,
    default: DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS,
    description: "Oldest promotion a rollback may return to (the one that promoted the version), days.",
  },
};

/** `maxRollbackEvidenceAgeDays` of a `promotion-evidence` section (default 30), or the problem with it. */
export function rollbackAgeOf(section: Record<string, unknown>): { days: number; problems: string[] } {
  const v = section[ROLLBACK_AGE_KEY];
  if (v === undefined) return { days: DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS, problems: [] };
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    return {
      days: DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS,
      problems: [`${ROLLBACK_AGE_KEY} must be a finite number > 0 (got ${JSON.stringify(v)})`],
    };
  }
  return { days: v, problems: [] };
}

/** The stack output that holds production's position. */
export const POSITION_OUTPUT = "promotionPosition";
/** The Deployment annotation that carries the position the program read (JSON). */
export const POSITION_ANNOTATION = "churn-model/promotion-position";

const TARGET_KEYS = ["stack", "namespace", "follows"];
const POSITION_KEYS = ["stack", "sequence", "current", "revoked", "promotedBy"];
const FQ_STACK = /^[^/\s]+\/[^/\s]+\/[^/\s]+$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function sequenceAt(value: unknown, at: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ContractError(`${at} must be a non-negative integer (got ${JSON.stringify(value)})`);
  }
  return value;
}

function fqStackAt(value: unknown, at: string): string {
  const s = nonEmptyString(value, at);
  if (!FQ_STACK.test(s)) {
    throw new ContractError(
      `${at} must be a fully qualified stack name <org>/<project>/<stack> (got ${JSON.stringify(s)})`,
    );
  }
  return s;
}

/** Checks a record's `target`; throws ContractError naming the field. */
export function validateTarget(value: unknown, at: string): PromotionTarget {
  const obj = objectAt(value, at, TARGET_KEYS, TARGET_KEYS);
  fqStackAt(obj.stack, `${at}.stack`);
  nonEmptyString(obj.namespace, `${at}.namespace`);
  sequenceAt(obj.follows, `${at}.follows`);
  return obj as unknown as PromotionTarget;
}

/** The initial position of a stack that has recorded none (before its first format-4 update). */
export function initialPosition(stack: string): PromotionPosition {
  return { stack, sequence: 0, current: null, revoked: [], promotedBy: {} };
}

/** Checks a position (output or annotation); throws ContractError naming the field. */
export function parsePosition(value: unknown, at: string): PromotionPosition {
  const obj = objectAt(value, at, POSITION_KEYS, POSITION_KEYS);
  fqStackAt(obj.stack, `${at}.stack`);
  sequenceAt(obj.sequence, `${at}.sequence`);
  if (obj.current !== null && (typeof obj.current !== "string" || !DIGEST.test(obj.current))) {
    throw new ContractError(`${at}.current must be an evidence digest sha256:<64 hex> or null`);
  }
  if (!Array.isArray(obj.revoked)) throw new ContractError(`${at}.revoked must be a list`);
  obj.revoked.forEach((r: unknown, i: number) => {
    const rev = objectAt(r, `${at}.revoked[${i}]`, ["version", "sequence"], ["version", "sequence"]);
    nonEmptyString(rev.version, `${at}.revoked[${i}].version`);
    sequenceAt(rev.sequence, `${at}.revoked[${i}].sequence`);
  });
  const by = obj.promotedBy;
  if (typeof by !== "object" || by === null || Array.isArray(by)) {
    throw new ContractError(`${at}.promotedBy must be an object of version → evidence digest`);
  }
  for (const [v, d] of Object.entries(by)) {
    if (typeof d !== "string" || !DIGEST.test(d)) {
      throw new ContractError(
        `${at}.promotedBy[${JSON.stringify(v)}] must be an evidence digest sha256:<64 hex>`,
      );
    }
  }
  return obj as unknown as PromotionPosition;
}

/** The position as JSON text, or why it is not one (the pack reads the annotation with this). */
export function parsePositionText(text: string, at: string): PromotionPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ContractError(`${at} is not valid JSON: ${(err as Error).message}`);
  }
  return parsePosition(parsed, at);
}

/** The digest that names one signed evidence: sha256 of its RFC 8785 canonical JSON. */
export function evidenceDigest(signed: SignedEvidence): string {
  return `sha256:${crypto.createHash("sha256").update(canonicalBytes(signed)).digest("hex")}`;
}

/** The revocation of `version` in `position`, if any. */
export function revocationOf(position: PromotionPosition, version: string): Revocation | undefined {
  return position.revoked.find((r) => r.version === version);
}

export interface TargetCheck {
  /** The stack being updated, fully qualified (the program); or undefined (the pack: see `stackSuffix`). */
  readonly stack?: string;
  /** `<project>/<stack>` of the resource's URN (the pack, which does not see the organization). */
  readonly stackSuffix?: string;
  /** The namespace the workload is deployed to. */
  readonly namespace: string;
  /** Production's position before this update (the program reads it from the engine). */
  readonly position: PromotionPosition;
  readonly now: Date;
  /** Oldest promotion a rollback may return to, days (`maxRollbackEvidenceAgeDays`). */
  readonly maxRollbackEvidenceAgeDays: number;
}

/**
 * Every reason signed evidence does not bind this target at this moment, each naming the
 * binding (target.stack, target.namespace, target.follows, revokedVersions, rollbackOf); []
 * when it does. Evidence production already runs (its digest is the position's `current`) is
 * re-applied without a new moment: a repeated `pulumi up` changes nothing.
 */
export function targetProblems(signed: SignedEvidence, check: TargetCheck): string[] {
  const record: EvidenceRecord = signed.record;
  const label = `${record.kind} evidence`;
  const { position } = check;
  const target = record.target;
  const problems: string[] = [];
  const where = check.stack ?? position.stack;
  if (target.stack !== where) {
    problems.push(`${label} binds target.stack ${target.stack}, but the stack being updated is ${where}`);
  } else if (check.stackSuffix !== undefined && !where.endsWith(`/${check.stackSuffix}`)) {
    problems.push(
      `${label} binds target.stack ${target.stack}, but the stack being updated is <org>/${check.stackSuffix}`,
    );
  }
  if (target.namespace !== check.namespace) {
    problems.push(
      `${label} binds target.namespace ${target.namespace}, but the workload is deployed to namespace ${check.namespace}`,
    );
  }
  const digest = evidenceDigest(signed);
  const rerun = digest === position.current;
  if (!rerun && target.follows !== position.sequence) {
    problems.push(
      `${label} binds target.follows ${target.follows}, but production's last successful update is at ` +
        `promotion sequence ${position.sequence}: the evidence was made for another moment (every promotion, ` +
        "rollback and revocation since voids earlier evidence)",
    );
  }
  const revoked = revocationOf(position, record.modelVersion);
  // A rollback returns with the promotion it embeds: that one must postdate the revocation.
  const promotedAt = record.rollbackOf?.record.target.follows ?? target.follows;
  if (revoked !== undefined && promotedAt < revoked.sequence) {
    problems.push(
      `${label} is for version ${record.modelVersion}, which production revoked at promotion sequence ` +
        `${revoked.sequence} (revokedVersions): only a fresh promotion through the gate brings it back`,
    );
  }
  if (record.kind === "rollback" && record.rollbackOf !== undefined && !rerun) {
    problems.push(...provenanceProblems(label, record.rollbackOf, check));
  }
  return problems;
}

/**
 * Why the promotion a rollback embeds is not the one that promoted its version to this stack
 * (production's `promotedBy`), or is older than maxRollbackEvidenceAgeDays.
 */
function provenanceProblems(label: string, embedded: SignedEvidence, check: TargetCheck): string[] {
  const version = embedded.record.modelVersion;
  const promoted = check.position.promotedBy[version];
  const digest = evidenceDigest(embedded);
  const problems: string[] = [];
  if (promoted !== digest) {
    problems.push(
      `${label} embeds a promotion of ${version} (rollbackOf, ${digest.slice(0, 19)}…) that is not the one ` +
        `that promoted ${version} to ${check.position.stack} (${promoted === undefined ? "production records none" : `production records ${promoted.slice(0, 19)}…`})`,
    );
  }
  const ageMs = check.now.getTime() - Date.parse(embedded.record.createdAt);
  const maxMs = check.maxRollbackEvidenceAgeDays * 86_400_000;
  if (ageMs > maxMs) {
    problems.push(
      `${label} returns to a promotion created at ${embedded.record.createdAt}, ${(ageMs / 86_400_000).toFixed(1)} ` +
        `days ago, older than the maximum ${check.maxRollbackEvidenceAgeDays} days (maxRollbackEvidenceAgeDays)`,
    );
  }
  return problems;
}

/**
 * Production's position after an update that applies `applied` and revokes `revoke` (the
 * rollback's `revokes` and the operator's `churn-model:revokeVersions`): the sequence advances
 * when new evidence is applied or the revocation list grows, which voids every earlier evidence.
 */
export function nextPosition(
  position: PromotionPosition,
  applied: SignedEvidence,
  revoke: readonly string[],
): PromotionPosition {
  const digest = evidenceDigest(applied);
  const fresh = digest !== position.current;
  const wanted = [
    ...revoke,
    ...(fresh && applied.record.revokes !== undefined ? [applied.record.revokes] : []),
  ];
  const added = [...new Set(wanted)].filter((v) => revocationOf(position, v) === undefined);
  const sequence = fresh || added.length > 0 ? position.sequence + 1 : position.sequence;
  return {
    stack: position.stack,
    sequence,
    current: digest,
    revoked: [...position.revoked, ...added.map((version) => ({ version, sequence }))],
    promotedBy:
      fresh && applied.record.kind === "promotion"
        ? { ...position.promotedBy, [applied.record.modelVersion]: digest }
        : position.promotedBy,
  };
}

/** The position as a Deployment of `version` carries it: promotedBy reduced to that version. */
export function positionFor(position: PromotionPosition, version: string): PromotionPosition {
  const by = position.promotedBy[version];
  return { ...position, promotedBy: by === undefined ? {} : { [version]: by } };
}
