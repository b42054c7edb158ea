/**
 * Evidence verification: the one judgement the pack, the program and the promotion tools all
 * make about evidence. Pure: the caller passes the key, the thresholds, what the image runs
 * and the time. See docs/evidence-format.md ("What a verifier checks").
 */
import * as crypto from "crypto";
import { AnalysisSettings, DEFAULT_ANALYSIS } from "./analysis";
import { analysisProblems } from "./analysis-record";
import { Artifact, artifactProblems } from "./artifact";
import { ApprovalPolicy, approvalProblems } from "./approval-quorum";
import { canonicalBytes } from "./canonical";
import { ChainPolicy, stableChainFor } from "./canary-chain";
import { ContractError } from "./errors";
import {
  EvidenceRecord,
  formatProblem,
  Measured,
  SignedEvidence,
  validateSigned,
  parseSignedEvidence,
} from "./evidence-schema";
import { parseThresholds, Thresholds } from "./thresholds";
import { TargetCheck, targetProblems } from "./position";
import { DIGEST } from "./version";

/** How far in the future a createdAt may lie before it counts as forged or mis-clocked. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * The moment of promotion evidence: its window ends at or before it is signed, at most
 * MAX_WINDOW_LAG_MS before (the gate is evaluated again just before the update, so a window
 * judged long ago cannot be signed now), and covers at most MAX_WINDOW_HOURS (the longest
 * `--window`).
 */
export const MAX_WINDOW_LAG_MS = 10 * 60 * 1000;
export const MAX_WINDOW_HOURS = 31 * 24;
/** Why promotion evidence without an analysis is refused (docs/evidence-format.md, rule 5). */
export const NO_ANALYSIS = "carries no analysis; re-verifying the bounds needs it";

export interface VerifyOptions {
  /** The Ed25519 verification key, SPKI PEM. Absent: nothing verifies. */
  publicKeyPem: string | undefined;
  /** The thresholds the measurements must meet (from the policy config, never from the evidence). */
  thresholds: Thresholds;
  /** The model version the container image runs: a semver tag or `sha256:<hex>`. */
  imageVersion: string;
  /**
   * The image the workload runs, checked against the artifact the evidence binds (registry,
   * repository, digest). The pack always gives it; the program checks the image it derives
   * itself once its repository is known (stacks/program.ts).
   */
  image?: string;
  /** The moment of the update. */
  now: Date;
  /** The analysis settings of the policy config; default the defaults. */
  analysis?: AnalysisSettings;
  /** The policy config's approval settings; absent or not requiring signatures: approvals are not checked. */
  approvals?: ApprovalPolicy;
  /** The stack being updated, when known: signed approvals must be for it. */
  target?: string;
  /**
   * Production's position and the target being updated (position.ts): given, the record's
   * target, moment, revocations and rollback provenance are checked (the program and the pack
   * always give it for production).
   */
  position?: Omit<TargetCheck, "now">;
}

interface MeasuredCheck {
  key: keyof Measured;
  what: string;
  unit: string;
  limit: keyof Thresholds;
  bound: "min" | "max";
}

const MEASURED_CHECKS: readonly MeasuredCheck[] = [
  { key: "accuracy", what: "accuracy", unit: "", limit: "minAccuracy", bound: "min" },
  { key: "latencyP99Ms", what: "p99 latency", unit: " ms", limit: "maxLatencyP99Ms", bound: "max" },
  { key: "errorRate", what: "error rate", unit: "", limit: "maxErrorRate", bound: "max" },
  { key: "uptime", what: "uptime", unit: "", limit: "minUptime", bound: "min" },
  { key: "soakHours", what: "soak time", unit: " hours", limit: "minSoakHours", bound: "min" },
  { key: "requests", what: "request count", unit: "", limit: "minRequests", bound: "min" },
  {
    key: "labeledPredictions",
    what: "labeled prediction count",
    unit: "",
    limit: "minLabeledPredictions",
    bound: "min",
  },
];

/** The verification key, or the reason there is none usable. */
export function publicKeyFrom(pem: string | undefined): crypto.KeyObject | string {
  if (pem === undefined || pem.trim() === "") {
    return "no evidence verification key is configured (an Ed25519 public key in SPKI PEM), so no evidence can be verified";
  }
  if (pem.includes("PRIVATE KEY")) {
    return "the evidence verification key is a private key; configure only the public key (SPKI PEM)";
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: pem, format: "pem" });
  } catch {
    return "the evidence verification key is not a valid public key in SPKI PEM";
  }
  if (key.asymmetricKeyType !== "ed25519") {
    return `the evidence verification key is a ${key.asymmetricKeyType ?? "non-asymmetric"} key; it must be Ed25519`;
  }
  return key;
}

/** Whether two PEM public keys are the same key (whatever their line breaks). */
export function samePublicKey(a: string, b: string): boolean {
  try {
    const der = (pem: string) => crypto.createPublicKey(pem).export({ type: "spki", format: "der" });
    return der(a).equals(der(b));
  } catch {
    return false;
  }
}

function signatureValid(signed: SignedEvidence, key: crypto.KeyObject): boolean {
  try {
    return crypto.verify(null, canonicalBytes(signed.record), key, Buffer.from(signed.signature, "base64"));
  } catch {
    return false;
  }
}

function measuredProblems(label: string, measured: Measured, t: Thresholds): string[] {
  const problems: string[] = [];
  for (const c of MEASURED_CHECKS) {
    const value = measured[c.key];
    const limit = t[c.limit];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      problems.push(`${label} reports ${c.what} ${String(value)}, which is not a finite number`);
    } else if (c.bound === "min" && value < limit) {
      problems.push(
        `${label} reports ${c.what} ${value}${c.unit}, below the minimum ${limit}${c.unit} (${c.limit})`,
      );
    } else if (c.bound === "max" && value > limit) {
      problems.push(
        `${label} reports ${c.what} ${value}${c.unit}, above the maximum ${limit}${c.unit} (${c.limit})`,
      );
    }
  }
  return problems;
}

function ageProblems(label: string, createdAt: string, now: Date, maxAgeHours: number): string[] {
  const ageMs = now.getTime() - Date.parse(createdAt);
  if (ageMs < -MAX_CLOCK_SKEW_MS) {
    return [`${label} was created at ${createdAt}, which is in the future (now ${now.toISOString()})`];
  }
  if (ageMs > maxAgeHours * 3_600_000) {
    const hours = (ageMs / 3_600_000).toFixed(1);
    return [
      `${label} was created at ${createdAt}, ${hours} hours ago, older than the maximum ${maxAgeHours} hours (maxEvidenceAgeHours)`,
    ];
  }
  return [];
}

/** Why a promotion record's window is not the moment it was signed at (MAX_WINDOW_LAG_MS, MAX_WINDOW_HOURS). */
export function momentProblems(label: string, record: EvidenceRecord): string[] {
  const start = Date.parse(record.window.start);
  const end = Date.parse(record.window.end);
  const created = Date.parse(record.createdAt);
  const problems: string[] = [];
  if (end > created) {
    problems.push(
      `${label} has a window ending at ${record.window.end}, after the evidence was created (createdAt ${record.createdAt}): ` +
        "metrics are judged up to the moment of signing, never beyond it",
    );
  } else if (created - end > MAX_WINDOW_LAG_MS) {
    problems.push(
      `${label} has a window ending at ${record.window.end}, ${((created - end) / 60_000).toFixed(1)} min before ` +
        `the evidence was created (createdAt ${record.createdAt}), more than the ${MAX_WINDOW_LAG_MS / 60_000} min allowed: ` +
        "the window must end when the evidence is signed",
    );
  }
  if (end - start > MAX_WINDOW_HOURS * 3_600_000) {
    problems.push(
      `${label} has a window of ${((end - start) / 3_600_000).toFixed(1)} hours (${record.window.start} → ` +
        `${record.window.end}), longer than the ${MAX_WINDOW_HOURS} hours allowed`,
    );
  }
  return problems;
}

function versionProblems(label: string, record: EvidenceRecord, imageVersion: string): string[] {
  return record.modelVersion === imageVersion
    ? []
    : [`${label} names version ${record.modelVersion} but the container image runs ${imageVersion}`];
}

/**
 * Why the record's artifact is not the one it may bind: a digest version's artifact must run
 * that digest, and the artifact of rollback evidence is the one of the promotion it embeds.
 */
function artifactBindingProblems(label: string, record: EvidenceRecord, embedded?: Artifact): string[] {
  const a = record.artifact;
  const problems: string[] = [];
  if (DIGEST.test(record.modelVersion) && a.digest !== record.modelVersion) {
    problems.push(`${label} names digest version ${record.modelVersion} but binds digest ${a.digest}`);
  }
  if (
    embedded !== undefined &&
    (embedded.registry !== a.registry || embedded.repository !== a.repository || embedded.digest !== a.digest)
  ) {
    problems.push(
      `${label} binds ${a.registry}/${a.repository}@${a.digest}, not the artifact of the promotion it returns to ` +
        `(${embedded.registry}/${embedded.repository}@${embedded.digest})`,
    );
  }
  return problems;
}

/** Evidence (JSON text or parsed) as signed evidence of EVIDENCE_FORMAT, or why it is not. */
function wellFormed(evidence: unknown): SignedEvidence | string {
  try {
    const value = typeof evidence === "string" ? (JSON.parse(evidence) as unknown) : evidence;
    const format = formatProblem(value, "promotion evidence");
    if (format !== undefined) {
      return format;
    }
    return typeof evidence === "string"
      ? parseSignedEvidence(evidence)
      : validateSigned(evidence, "evidence");
  } catch (err) {
    if (err instanceof SyntaxError) {
      return `promotion evidence is malformed: promotion evidence is not valid JSON: ${err.message}`;
    }
    if (err instanceof ContractError) {
      return `promotion evidence is malformed: ${err.message}`;
    }
    throw err;
  }
}

/**
 * Every reason production's stable version may not run with this evidence under the
 * target's strategies (stableChainFor, docs/canary.md "The canary chain in the evidence"); []
 * means it may. Applied to the stable's evidence once verifyEvidence finds nothing wrong, never
 * to the canary track's. Never throws for bad evidence: malformed evidence is the one problem.
 */
export function stableChainOfEvidence(evidence: unknown, policy: ChainPolicy): string[] {
  const signed = wellFormed(evidence);
  return typeof signed === "string" ? [signed] : stableChainFor(signed.record, policy);
}

/**
 * Every reason the evidence does not let `imageVersion` into production, each as a sentence
 * naming the item; [] means valid. Never throws for bad evidence, keys or thresholds: each is
 * a problem, and nothing unverifiable passes.
 *
 * Rules, in the order they are applied:
 * - the evidence is of EVIDENCE_FORMAT (else only that is reported) and well-formed;
 * - the thresholds to verify against are valid, an image version and a valid time are given;
 * - a usable Ed25519 key is configured and the signature verifies under it;
 * - the record names exactly the image's version;
 * - its artifact is the image's registry, repository and digest (when the image is given), a
 *   digest version's own digest, and for a rollback the artifact of the promotion it embeds;
 * - with `position`: it binds the stack and namespace being updated and follows production's
 *   last successful update, its version is not revoked since, and a rollback embeds the
 *   promotion that promoted its version here, within maxRollbackEvidenceAgeDays (position.ts);
 * - it was created within maxEvidenceAgeHours of `now` and not in the future;
 * - promotion: its window ends at or before createdAt,
 *   at most MAX_WINDOW_LAG_MS before, and is at most MAX_WINDOW_HOURS long (momentProblems);
 * - promotion: the measurements meet the thresholds, and the record carries an analysis that
 *   shows a pass under the policy config's analysis settings (analysisProblems);
 * - rollback: `rollbackOf` is signed promotion evidence for the same version, created before
 *   the rollback, whose measurements meet the thresholds and which carries an analysis;
 * - when the approval settings require signatures: the promotion evidence (for a rollback, the
 *   one it returns to) carries a quorum of signed approvals (approval-quorum.ts, approvalProblems).
 */
export function verifyEvidence(evidence: unknown, opts: VerifyOptions): string[] {
  const signed = wellFormed(evidence);
  if (typeof signed === "string") {
    return [signed];
  }
  let thresholds: Thresholds;
  try {
    thresholds = parseThresholds(opts.thresholds, "the thresholds to verify against");
  } catch (err) {
    if (err instanceof ContractError) {
      return [`promotion evidence cannot be checked: ${err.message}`];
    }
    throw err;
  }
  if (typeof opts.imageVersion !== "string" || opts.imageVersion.trim() === "") {
    return ["promotion evidence cannot be matched: the container image names no version"];
  }
  const now = opts.now;
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    return ["promotion evidence cannot be checked: the time of the update is not a valid date"];
  }

  const problems: string[] = [];
  const key = publicKeyFrom(opts.publicKeyPem);
  if (typeof key === "string") {
    problems.push(key);
  }
  const record = signed.record;
  const label = `${record.kind} evidence`;

  if (typeof key !== "string" && !signatureValid(signed, key)) {
    problems.push(`${label} carries a signature that does not verify under the configured public key`);
  }
  if (opts.position !== undefined) {
    problems.push(...targetProblems(signed, { ...opts.position, now }));
  }
  const versions = versionProblems(label, record, opts.imageVersion);
  problems.push(...versions);
  // Another version's evidence is refused as that; the artifact is compared for the same version.
  if (versions.length === 0) {
    const embedded = record.rollbackOf?.record;
    const returnedTo = embedded?.modelVersion === record.modelVersion ? embedded.artifact : undefined;
    problems.push(...artifactBindingProblems(label, record, returnedTo));
    if (opts.image !== undefined) problems.push(...artifactProblems(label, record.artifact, opts.image));
  }
  problems.push(...ageProblems(label, record.createdAt, now, thresholds.maxEvidenceAgeHours));

  if (record.kind === "promotion") {
    problems.push(...momentProblems(label, record));
    problems.push(...measuredProblems(label, record.measured, thresholds));
    if (record.analysis === undefined) {
      problems.push(`${label} ${NO_ANALYSIS}`);
    } else {
      problems.push(
        ...analysisProblems(
          label,
          record.analysis,
          opts.analysis ?? DEFAULT_ANALYSIS,
          thresholds,
          record.window.end,
        ),
      );
    }
    problems.push(...quorumProblems(label, record, opts, thresholds));
    return problems;
  }

  const earlier = record.rollbackOf;
  const inner = "the earlier promotion evidence in the rollback";
  if (earlier === undefined) {
    problems.push(`${label} does not embed the earlier promotion evidence it returns to (rollbackOf)`);
    return problems;
  }
  if (earlier.record.kind !== "promotion") {
    problems.push(
      `${label} must embed promotion evidence in rollbackOf, not ${earlier.record.kind} evidence`,
    );
    return problems;
  }
  if (typeof key !== "string" && !signatureValid(earlier, key)) {
    problems.push(`${inner} carries a signature that does not verify under the configured public key`);
  }
  problems.push(...versionProblems(inner, earlier.record, opts.imageVersion));
  if (Date.parse(earlier.record.createdAt) > Date.parse(record.createdAt)) {
    problems.push(
      `${inner} was created at ${earlier.record.createdAt}, after the rollback itself (${record.createdAt})`,
    );
  }
  problems.push(...measuredProblems(inner, earlier.record.measured, thresholds));
  if (earlier.record.analysis === undefined) problems.push(`${inner} ${NO_ANALYSIS}`);
  problems.push(...quorumProblems(inner, earlier.record, opts, thresholds));
  return problems;
}

function quorumProblems(
  label: string,
  record: EvidenceRecord,
  opts: VerifyOptions,
  thresholds: Thresholds,
): string[] {
  if (opts.approvals === undefined) return [];
  return approvalProblems(record.approvals, record, opts.approvals, {
    target: opts.target,
    thresholds,
    label,
  });
}
