/**
 * Promotion evidence: the signed record that lets a model version into production.
 *
 * The promotion runner writes a record (version, image, staging metrics, window, staging
 * update, approver, time), encodes it canonically and signs it with Ed25519. Only the runner
 * holds the private key (CHURN_EVIDENCE_PRIVATE_KEY or CHURN_EVIDENCE_PRIVATE_KEY_FILE); the
 * public key sits in the policy config and the production stack config, so whoever verifies
 * never needs the secret and cannot forge. The policy pack, the program and the promotion CLI
 * all verify with `verifyEvidence`; this module therefore imports nothing from Pulumi.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { DEFAULT_ANALYSIS, type AnalysisSettings } from "./analysis-config";
import { analysisProblems, analysisShapeProblem, type AnalysisRecord } from "./analysis-evidence";
import { BadInput } from "./errors";
import { parseThresholds, Thresholds } from "./thresholds";

/** The Deployment annotation that carries the SignedEvidence JSON. */
export const EVIDENCE_ANNOTATION = "churn-model/promotion-evidence";

/** Environment variable holding the Ed25519 signing key as PKCS8 PEM. */
export const PRIVATE_KEY_ENV = "CHURN_EVIDENCE_PRIVATE_KEY";

/** Environment variable naming a file that holds the Ed25519 signing key as PKCS8 PEM. */
export const PRIVATE_KEY_FILE_ENV = "CHURN_EVIDENCE_PRIVATE_KEY_FILE";

/** How far in the future a createdAt may lie before it counts as forged or mis-clocked. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

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
  kind: "promotion" | "rollback";
  modelVersion: string;
  image: string;
  measured: Measured;
  /** The evaluation window, RFC3339. */
  window: { start: string; end: string };
  /** The thresholds the gate used (extra policy-config keys allowed). Informational only: verification never trusts them. */
  thresholds: Thresholds;
  staging: { stack: string; updateVersion: number | null; deployedAt: string };
  approver: string;
  /** RFC3339. */
  createdAt: string;
  /** Kind "rollback": the earlier signed promotion evidence of the version returned to. */
  rollbackOf?: SignedEvidence;
  /** How the gate decided: method, counts, bounds and per-interval outcomes (docs/analysis.md). */
  analysis?: AnalysisRecord;
}

export interface SignedEvidence {
  record: EvidenceRecord;
  /** Base64 Ed25519 signature over canonicalJson(record). */
  signature: string;
}

export interface VerifyOptions {
  /** The Ed25519 verification key, SPKI PEM. Absent: nothing verifies. */
  publicKeyPem: string | undefined;
  /** The thresholds the measurements must meet (from the policy config, never from the evidence). */
  thresholds: Thresholds;
  /** The model version the container image runs: a semver tag or `sha256:<hex>`. */
  imageVersion: string;
  /** The moment of the update. */
  now: Date;
  /** The analysis settings of the policy config; default the defaults. */
  analysis?: AnalysisSettings;
}

// ------------------------------------------------------------------------------------------
// Canonical encoding

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level and no whitespace.
 * Throws BadInput on values JSON cannot carry faithfully: non-finite numbers, undefined,
 * functions, symbols, bigints and non-plain objects (Date, Map, class instances).
 */
export function canonicalJson(value: unknown): string {
  return encode(value, "$");
}

function encode(value: unknown, at: string): string {
  if (value === null) {
    return "null";
  }
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new BadInput(`cannot encode ${at}: ${value} is not a finite number`);
      }
      return JSON.stringify(value);
    case "object":
      break;
    default:
      throw new BadInput(`cannot encode ${at}: a value of type ${typeof value} has no JSON form`);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v, i) => encode(v, `${at}[${i}]`)).join(",")}]`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new BadInput(`cannot encode ${at}: only plain objects have a canonical JSON form`);
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(obj[k], `${at}.${k}`)}`).join(",")}}`;
}

// ------------------------------------------------------------------------------------------
// Shape validation (BadInput naming the field)

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const SIGNATURE_BYTES = 64;

const MEASURED_KEYS: readonly (keyof Measured)[] = [
  "accuracy",
  "latencyP99Ms",
  "errorRate",
  "uptime",
  "soakHours",
  "requests",
  "labeledPredictions",
];
const RECORD_KEYS = [
  "kind",
  "modelVersion",
  "image",
  "measured",
  "window",
  "thresholds",
  "staging",
  "approver",
  "createdAt",
  "rollbackOf",
  "analysis",
];

function objectAt(value: unknown, at: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadInput(`${at} must be an object`);
  }
  const obj = value as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => !keys.includes(k));
  if (extra.length > 0) {
    throw new BadInput(`${at} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")}`);
  }
  return obj;
}

function nonEmptyString(value: unknown, at: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new BadInput(`${at} must be a non-empty string`);
  }
  return value;
}

function timestamp(value: unknown, at: string): string {
  if (typeof value !== "string" || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw new BadInput(`${at} must be an RFC3339 timestamp (got ${JSON.stringify(value)})`);
  }
  return value;
}

function numberAt(value: unknown, at: string): number {
  if (typeof value !== "number") {
    throw new BadInput(`${at} must be a number (got ${JSON.stringify(value)})`);
  }
  return value;
}

function validateRecord(value: unknown, at: string): EvidenceRecord {
  const obj = objectAt(value, at, RECORD_KEYS);
  const kind = obj.kind;
  if (kind !== "promotion" && kind !== "rollback") {
    throw new BadInput(`${at}.kind must be "promotion" or "rollback" (got ${JSON.stringify(kind)})`);
  }
  nonEmptyString(obj.modelVersion, `${at}.modelVersion`);
  nonEmptyString(obj.image, `${at}.image`);

  const measured = objectAt(obj.measured, `${at}.measured`, MEASURED_KEYS);
  for (const key of MEASURED_KEYS) {
    numberAt(measured[key], `${at}.measured.${key}`);
  }

  const window = objectAt(obj.window, `${at}.window`, ["start", "end"]);
  const start = timestamp(window.start, `${at}.window.start`);
  const end = timestamp(window.end, `${at}.window.end`);
  if (Date.parse(start) > Date.parse(end)) {
    throw new BadInput(`${at}.window.start (${start}) must not be after ${at}.window.end (${end})`);
  }

  // Informational: the policy-config section the gate read, so keys beside the thresholds
  // (publicKey) may come along; the signature covers them like every other field.
  parseThresholds(obj.thresholds, `${at}.thresholds`);

  const staging = objectAt(obj.staging, `${at}.staging`, ["stack", "updateVersion", "deployedAt"]);
  nonEmptyString(staging.stack, `${at}.staging.stack`);
  const uv = staging.updateVersion;
  if (uv !== null && (typeof uv !== "number" || !Number.isInteger(uv) || uv < 0)) {
    throw new BadInput(`${at}.staging.updateVersion must be a non-negative integer or null`);
  }
  timestamp(staging.deployedAt, `${at}.staging.deployedAt`);

  if (obj.analysis !== undefined) {
    const problem = analysisShapeProblem(obj.analysis);
    if (problem !== undefined) throw new BadInput(`${at}.analysis ${problem}`);
  }
  nonEmptyString(obj.approver, `${at}.approver`);
  timestamp(obj.createdAt, `${at}.createdAt`);

  if (kind === "rollback") {
    if (obj.rollbackOf === undefined) {
      throw new BadInput(`${at}.rollbackOf is required for rollback evidence`);
    }
    validateSigned(obj.rollbackOf, `${at}.rollbackOf`);
  } else if ("rollbackOf" in obj) {
    throw new BadInput(`${at}.rollbackOf belongs to rollback evidence only`);
  }
  return obj as unknown as EvidenceRecord;
}

function validateSigned(value: unknown, at: string): SignedEvidence {
  const obj = objectAt(value, at, ["record", "signature"]);
  validateRecord(obj.record, `${at}.record`);
  const sig = obj.signature;
  if (
    typeof sig !== "string" ||
    Buffer.from(sig, "base64").length !== SIGNATURE_BYTES ||
    Buffer.from(sig, "base64").toString("base64") !== sig
  ) {
    throw new BadInput(
      `${at}.signature must be the base64 encoding of a ${SIGNATURE_BYTES}-byte Ed25519 signature`,
    );
  }
  return obj as unknown as SignedEvidence;
}

/** Parses SignedEvidence JSON; throws BadInput naming what is wrong. */
export function parseSignedEvidence(json: string): SignedEvidence {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new BadInput(`promotion evidence is not valid JSON: ${(err as Error).message}`);
  }
  return validateSigned(parsed, "evidence");
}

// ------------------------------------------------------------------------------------------
// Keys

function ed25519(key: crypto.KeyObject, what: string): crypto.KeyObject {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new BadInput(`${what} is a ${key.asymmetricKeyType ?? key.type} key; it must be Ed25519`);
  }
  return key;
}

function privateKeyFrom(pem: string, what: string): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new BadInput(`${what} is not a private key in PKCS8 PEM`);
  }
  return ed25519(key, what);
}

/**
 * The signing key from the environment: CHURN_EVIDENCE_PRIVATE_KEY (PKCS8 PEM; `\n` escapes
 * are accepted for single-line secrets) or CHURN_EVIDENCE_PRIVATE_KEY_FILE. Throws BadInput
 * when absent, ambiguous or invalid; no message ever contains key material.
 */
export function privateKeyFromEnv(env: NodeJS.ProcessEnv = process.env): crypto.KeyObject {
  const inline = env[PRIVATE_KEY_ENV];
  const file = env[PRIVATE_KEY_FILE_ENV];
  const hasInline = inline !== undefined && inline.trim() !== "";
  const hasFile = file !== undefined && file.trim() !== "";
  if (hasInline && hasFile) {
    throw new BadInput(`set only one of ${PRIVATE_KEY_ENV} and ${PRIVATE_KEY_FILE_ENV}, not both`);
  }
  if (hasInline) {
    const pem = inline.includes("\n") ? inline : inline.replace(/\\n/g, "\n");
    return privateKeyFrom(pem, PRIVATE_KEY_ENV);
  }
  if (hasFile) {
    let pem: string;
    try {
      pem = fs.readFileSync(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "read error";
      throw new BadInput(`${PRIVATE_KEY_FILE_ENV} names ${file}, which cannot be read (${code})`);
    }
    return privateKeyFrom(pem, `${PRIVATE_KEY_FILE_ENV} (${file})`);
  }
  throw new BadInput(
    `no evidence signing key: set ${PRIVATE_KEY_ENV} to an Ed25519 private key in PKCS8 PEM, ` +
      `or ${PRIVATE_KEY_FILE_ENV} to a file holding one`,
  );
}

/** A fresh Ed25519 key pair: SPKI PEM public key, PKCS8 PEM private key. */
export function generateEvidenceKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519", {
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

// ------------------------------------------------------------------------------------------
// Signing

function signingKey(privateKey: crypto.KeyObject | string): crypto.KeyObject {
  const what = "the evidence signing key";
  if (typeof privateKey === "string") {
    return privateKeyFrom(privateKey, what);
  }
  if (privateKey.type !== "private") {
    throw new BadInput(`${what} must be a private key`);
  }
  return ed25519(privateKey, what);
}

/** Signs a well-formed record; throws BadInput for a malformed record or a non-Ed25519 key. */
export function signEvidence(record: EvidenceRecord, privateKey: crypto.KeyObject | string): SignedEvidence {
  const key = signingKey(privateKey);
  validateRecord(record, "record");
  const canonical = canonicalJson(record);
  const signature = crypto.sign(null, Buffer.from(canonical, "utf8"), key).toString("base64");
  return { record: JSON.parse(canonical) as EvidenceRecord, signature };
}

// ------------------------------------------------------------------------------------------
// Verification

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

function publicKeyFrom(pem: string | undefined): crypto.KeyObject | string {
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

function signatureValid(signed: SignedEvidence, key: crypto.KeyObject): boolean {
  try {
    const data = Buffer.from(canonicalJson(signed.record), "utf8");
    return crypto.verify(null, data, key, Buffer.from(signed.signature, "base64"));
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

function versionProblems(label: string, record: EvidenceRecord, imageVersion: string): string[] {
  return record.modelVersion === imageVersion
    ? []
    : [`${label} names version ${record.modelVersion} but the container image runs ${imageVersion}`];
}

/**
 * Every reason the evidence does not let `imageVersion` into production, each as a sentence
 * naming the item; [] means valid. Never throws for bad evidence, keys or thresholds: each is
 * a problem, and nothing unverifiable passes.
 *
 * Promotion evidence: signature valid under the given key, names exactly the image's version,
 * measurements meet the given thresholds, created within maxEvidenceAgeHours of `now` and not
 * in the future. Rollback evidence: signed, fresh and naming the version like promotion
 * evidence, with no fresh measurements; instead `rollbackOf` must be signed promotion evidence
 * for the same version whose measurements meet the thresholds (its age is not checked: it was
 * valid when production ran that version) and which predates the rollback.
 */
export function verifyEvidence(evidence: unknown, opts: VerifyOptions): string[] {
  let signed: SignedEvidence;
  try {
    signed =
      typeof evidence === "string" ? parseSignedEvidence(evidence) : validateSigned(evidence, "evidence");
  } catch (err) {
    if (err instanceof BadInput) {
      return [`promotion evidence is malformed: ${err.message}`];
    }
    throw err;
  }
  let thresholds: Thresholds;
  try {
    thresholds = parseThresholds(opts.thresholds, "the thresholds to verify against");
  } catch (err) {
    if (err instanceof BadInput) {
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
  problems.push(...versionProblems(label, record, opts.imageVersion));
  problems.push(...ageProblems(label, record.createdAt, now, thresholds.maxEvidenceAgeHours));

  if (record.kind === "promotion") {
    problems.push(...measuredProblems(label, record.measured, thresholds));
    if (record.analysis !== undefined) {
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
  return problems;
}
