/**
 * Approvals bound to the numbers: what an approver approved (the decision: version, image,
 * staging deployment, window, every check's value and outcome, thresholds), named by a digest,
 * who, when, until when; optionally signed with the approver's own Ed25519 key over the same
 * RFC 8785 canonical bytes as the evidence. Pure. See docs/approvals.md.
 */
import * as crypto from "crypto";
import type { CheckMode } from "./analysis";
import type { Outcome } from "./analysis-record";
import { canonicalBytes } from "./canonical";
import { ContractError } from "./errors";
import { nonEmptyString as str, objectAt as shapeObject, timestamp } from "./shape";

/** The approval format this contract writes and reads; any other is refused. */
export const APPROVAL_FORMAT = 1;

/** One check of the approved decision: its value and its outcome. */
export interface ApprovedCheck {
  name: string;
  /** null: no finite number was measured. */
  value: number | null;
  status: Outcome;
  mode: CheckMode;
}

/** The decision an approval is for. Its digest is what the approver saw beside the numbers. */
export interface DecisionSubject {
  modelVersion: string;
  image: string;
  /** The staging stack and when the version went live there (a redeploy is a new decision). */
  staging: { stack: string; deployedAt: string };
  /** The evaluation window, RFC3339. */
  window: { start: string; end: string };
  outcome: "promote" | "reject";
  checks: ApprovedCheck[];
  /** The gate thresholds the decision used (the policy config's, THRESHOLD_KEYS). */
  thresholds: Record<string, number>;
}

export interface ApprovalStatement {
  format: typeof APPROVAL_FORMAT;
  /** The stack the approval lets the decision into. */
  target: string;
  /** `sha256:<hex>` of the canonical bytes of `decision`. */
  decisionDigest: string;
  decision: DecisionSubject;
  /** The approver's ID: a key of the policy config's `approvers` when signed. */
  approver: string;
  /** RFC3339. */
  approvedAt: string;
  /** RFC3339: the approval counts for updates up to this time. */
  expiresAt: string;
}

export interface Approval {
  statement: ApprovalStatement;
  /** Base64 Ed25519 signature over the canonical bytes of `statement`; null when unsigned. */
  signature: string | null;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** What an approver ID may be: an e-mail, a user name, a URI-like ID. */
export const APPROVER_ID = /^[A-Za-z0-9][A-Za-z0-9._@+:/-]{0,199}$/;
const OUTCOMES: readonly string[] = ["pass", "inconclusive", "error", "fail"];
const MODES: readonly string[] = ["enforce", "dryRun"];

/** `sha256:<hex>` of the decision's canonical bytes. */
export function decisionDigest(subject: DecisionSubject): string {
  return `sha256:${crypto.createHash("sha256").update(canonicalBytes(subject)).digest("hex")}`;
}

/** The bytes an approver signs. */
export function approvalSigningBytes(statement: ApprovalStatement): Buffer {
  return canonicalBytes(statement);
}

/** An object with exactly `keys`. */
function objectAt(value: unknown, at: string, keys: readonly string[]): Record<string, unknown> {
  return shapeObject(value, at, keys, keys);
}

function validateCheck(value: unknown, at: string): ApprovedCheck {
  const check = objectAt(value, at, ["name", "value", "status", "mode"]);
  str(check.name, `${at}.name`);
  if (check.value !== null && (typeof check.value !== "number" || !Number.isFinite(check.value))) {
    throw new ContractError(`${at}.value must be a finite number or null`);
  }
  if (typeof check.status !== "string" || !OUTCOMES.includes(check.status)) {
    throw new ContractError(`${at}.status must be one of ${OUTCOMES.join(", ")}`);
  }
  if (typeof check.mode !== "string" || !MODES.includes(check.mode)) {
    throw new ContractError(`${at}.mode must be enforce or dryRun`);
  }
  return check as unknown as ApprovedCheck;
}

function validateSubject(value: unknown, at: string): DecisionSubject {
  const obj = objectAt(value, at, [
    "modelVersion",
    "image",
    "staging",
    "window",
    "outcome",
    "checks",
    "thresholds",
  ]);
  str(obj.modelVersion, `${at}.modelVersion`);
  str(obj.image, `${at}.image`);
  const staging = objectAt(obj.staging, `${at}.staging`, ["stack", "deployedAt"]);
  str(staging.stack, `${at}.staging.stack`);
  timestamp(staging.deployedAt, `${at}.staging.deployedAt`);
  const window = objectAt(obj.window, `${at}.window`, ["start", "end"]);
  timestamp(window.start, `${at}.window.start`);
  timestamp(window.end, `${at}.window.end`);
  if (obj.outcome !== "promote" && obj.outcome !== "reject") {
    throw new ContractError(`${at}.outcome must be "promote" or "reject"`);
  }
  if (!Array.isArray(obj.checks) || obj.checks.length === 0) {
    throw new ContractError(`${at}.checks must be a non-empty list`);
  }
  const names = new Set<string>();
  obj.checks.forEach((c: unknown, i: number) => {
    const check = validateCheck(c, `${at}.checks[${i}]`);
    if (names.has(check.name)) throw new ContractError(`${at}.checks names ${check.name} twice`);
    names.add(check.name);
  });
  const thresholds = obj.thresholds;
  if (typeof thresholds !== "object" || thresholds === null || Array.isArray(thresholds)) {
    throw new ContractError(`${at}.thresholds must be an object of numbers`);
  }
  for (const [k, v] of Object.entries(thresholds)) {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new ContractError(`${at}.thresholds.${k} must be a finite number`);
    }
  }
  return obj as unknown as DecisionSubject;
}

/**
 * Checks an approval's shape, its format and that its digest is its decision's; throws
 * ContractError naming the first field that is wrong. Says nothing about its signature.
 */
export function validateApproval(value: unknown, at: string): Approval {
  const obj = objectAt(value, at, ["statement", "signature"]);
  const statement = objectAt(obj.statement, `${at}.statement`, [
    "format",
    "target",
    "decisionDigest",
    "decision",
    "approver",
    "approvedAt",
    "expiresAt",
  ]);
  if (statement.format !== APPROVAL_FORMAT) {
    throw new ContractError(
      `${at}.statement.format must be ${APPROVAL_FORMAT} (got ${JSON.stringify(statement.format)}); this verifier reads no other approval format`,
    );
  }
  str(statement.target, `${at}.statement.target`);
  const approver = str(statement.approver, `${at}.statement.approver`);
  if (!APPROVER_ID.test(approver)) {
    throw new ContractError(`${at}.statement.approver ${JSON.stringify(approver)} is not an approver ID`);
  }
  const approvedAt = timestamp(statement.approvedAt, `${at}.statement.approvedAt`);
  const expiresAt = timestamp(statement.expiresAt, `${at}.statement.expiresAt`);
  if (Date.parse(expiresAt) <= Date.parse(approvedAt)) {
    throw new ContractError(`${at}.statement.expiresAt must be after its approvedAt`);
  }
  const subject = validateSubject(statement.decision, `${at}.statement.decision`);
  const digest = statement.decisionDigest;
  if (typeof digest !== "string" || !DIGEST.test(digest)) {
    throw new ContractError(`${at}.statement.decisionDigest must be sha256:<64 hex>`);
  }
  if (digest !== decisionDigest(subject)) {
    throw new ContractError(`${at}.statement.decisionDigest is not the digest of its decision`);
  }
  const sig = obj.signature;
  if (
    sig !== null &&
    (typeof sig !== "string" ||
      Buffer.from(sig, "base64").length !== 64 ||
      Buffer.from(sig, "base64").toString("base64") !== sig)
  ) {
    throw new ContractError(`${at}.signature must be null or the base64 of a 64-byte Ed25519 signature`);
  }
  return obj as unknown as Approval;
}

/** Parses an approval's JSON; throws ContractError naming `source`. */
export function parseApproval(text: string, source: string): Approval {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ContractError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  return validateApproval(parsed, source);
}

/** An Ed25519 public key from SPKI PEM, or undefined when it is none. */
export function approverPublicKey(pem: unknown): crypto.KeyObject | undefined {
  if (typeof pem !== "string" || pem.includes("PRIVATE KEY")) return undefined;
  try {
    const key = crypto.createPublicKey({ key: pem, format: "pem" });
    return key.asymmetricKeyType === "ed25519" ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the approval's signature verifies under `publicKeyPem`. */
export function approvalSignatureValid(approval: Approval, publicKeyPem: string): boolean {
  const key = approverPublicKey(publicKeyPem);
  if (key === undefined || approval.signature === null) return false;
  try {
    return crypto.verify(
      null,
      approvalSigningBytes(approval.statement),
      key,
      Buffer.from(approval.signature, "base64"),
    );
  } catch {
    return false;
  }
}

/** Signs a statement with the approver's Ed25519 private key. */
export function signApproval(statement: ApprovalStatement, privateKey: crypto.KeyObject): Approval {
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new ContractError(
      `the approver key is a ${privateKey.asymmetricKeyType ?? "symmetric"} key; it must be Ed25519`,
    );
  }
  const signature = crypto.sign(null, approvalSigningBytes(statement), privateKey).toString("base64");
  return { statement, signature };
}
