"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MEASURED_KEYS = exports.SIGNATURE_BYTES = exports.EVIDENCE_FORMAT = void 0;
exports.formatProblem = formatProblem;
exports.validateRecord = validateRecord;
exports.validateSigned = validateSigned;
exports.parseSignedEvidence = parseSignedEvidence;
/**
 * The evidence record and its strict shape: every field required unless marked, no unknown
 * field, an explicit format version. See docs/evidence-format.md for the format as a
 * verifier in any language reads it.
 */
const analysis_record_1 = require("./analysis-record");
const artifact_1 = require("./artifact");
const approval_1 = require("./approval");
const canary_chain_1 = require("./canary-chain");
const errors_1 = require("./errors");
const shape_1 = require("./shape");
const thresholds_1 = require("./thresholds");
const position_1 = require("./position");
/** The evidence format this contract writes and reads; any other is refused. */
exports.EVIDENCE_FORMAT = 4;
exports.SIGNATURE_BYTES = 64;
exports.MEASURED_KEYS = [
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
function numberAt(value, at) {
    if (typeof value !== "number") {
        throw new errors_1.ContractError(`${at} must be a number (got ${JSON.stringify(value)})`);
    }
    return value;
}
/**
 * Why `value` is not evidence of EVIDENCE_FORMAT, or undefined when its format field is
 * ours. Looked at before anything else, so evidence of another format is named as such.
 */
function formatProblem(value, at) {
    const record = typeof value === "object" && value !== null ? value.record : undefined;
    const format = typeof record === "object" && record !== null ? record.format : undefined;
    if (format === exports.EVIDENCE_FORMAT) {
        return undefined;
    }
    if (format === undefined) {
        return `${at} names no format; this verifier reads evidence format ${exports.EVIDENCE_FORMAT} only (record.format)`;
    }
    return `${at} has format ${JSON.stringify(format)}, which this verifier does not read; it reads evidence format ${exports.EVIDENCE_FORMAT} only`;
}
/** Checks a record's shape; throws ContractError naming the first field that is wrong. */
function validateRecord(value, at) {
    const obj = (0, shape_1.objectAt)(value, at, RECORD_KEYS);
    if (obj.format !== exports.EVIDENCE_FORMAT) {
        throw new errors_1.ContractError(`${at}.format must be ${exports.EVIDENCE_FORMAT} (got ${JSON.stringify(obj.format)}); this verifier reads no other format`);
    }
    const kind = obj.kind;
    if (kind !== "promotion" && kind !== "rollback") {
        throw new errors_1.ContractError(`${at}.kind must be "promotion" or "rollback" (got ${JSON.stringify(kind)})`);
    }
    (0, shape_1.nonEmptyString)(obj.modelVersion, `${at}.modelVersion`);
    (0, shape_1.nonEmptyString)(obj.image, `${at}.image`);
    const artifact = (0, artifact_1.artifactShapeProblem)(obj.artifact, `${at}.artifact`);
    if (artifact !== undefined)
        throw new errors_1.ContractError(artifact);
    const measured = (0, shape_1.objectAt)(obj.measured, `${at}.measured`, exports.MEASURED_KEYS);
    for (const key of exports.MEASURED_KEYS) {
        numberAt(measured[key], `${at}.measured.${key}`);
    }
    const window = (0, shape_1.objectAt)(obj.window, `${at}.window`, ["start", "end"]);
    const start = (0, shape_1.timestamp)(window.start, `${at}.window.start`);
    const end = (0, shape_1.timestamp)(window.end, `${at}.window.end`);
    if (Date.parse(start) > Date.parse(end)) {
        throw new errors_1.ContractError(`${at}.window.start (${start}) must not be after ${at}.window.end (${end})`);
    }
    // Informational: the policy-config section the gate read, so keys beside the thresholds
    // (publicKey) may come along; the signature covers them like every other field.
    (0, thresholds_1.parseThresholds)(obj.thresholds, `${at}.thresholds`);
    const staging = (0, shape_1.objectAt)(obj.staging, `${at}.staging`, ["stack", "updateVersion", "deployedAt"]);
    (0, shape_1.nonEmptyString)(staging.stack, `${at}.staging.stack`);
    const uv = staging.updateVersion;
    if (uv !== null && (typeof uv !== "number" || !Number.isInteger(uv) || uv < 0)) {
        throw new errors_1.ContractError(`${at}.staging.updateVersion must be a non-negative integer or null`);
    }
    (0, shape_1.timestamp)(staging.deployedAt, `${at}.staging.deployedAt`);
    (0, position_1.validateTarget)(obj.target, `${at}.target`);
    if (obj.revokes !== undefined) {
        if (kind !== "rollback")
            throw new errors_1.ContractError(`${at}.revokes belongs to rollback evidence only`);
        (0, shape_1.nonEmptyString)(obj.revokes, `${at}.revokes`);
        if (obj.revokes === obj.modelVersion) {
            throw new errors_1.ContractError(`${at}.revokes names ${String(obj.revokes)}, the version the rollback returns to`);
        }
    }
    if (obj.analysis !== undefined) {
        const problem = (0, analysis_record_1.analysisShapeProblem)(obj.analysis);
        if (problem !== undefined)
            throw new errors_1.ContractError(`${at}.analysis ${problem}`);
    }
    if (obj.canary !== undefined) {
        const problem = (0, canary_chain_1.canaryShapeProblem)(obj.canary, `${at}.canary`);
        if (problem !== undefined)
            throw new errors_1.ContractError(problem);
    }
    (0, shape_1.nonEmptyString)(obj.approver, `${at}.approver`);
    (0, shape_1.timestamp)(obj.createdAt, `${at}.createdAt`);
    if (obj.approvals !== undefined) {
        if (kind !== "promotion") {
            throw new errors_1.ContractError(`${at}.approvals belong to promotion evidence only`);
        }
        if (!Array.isArray(obj.approvals)) {
            throw new errors_1.ContractError(`${at}.approvals must be a list of approval records`);
        }
        obj.approvals.forEach((a, i) => (0, approval_1.validateApproval)(a, `${at}.approvals[${i}]`));
    }
    if (kind === "rollback") {
        if (obj.rollbackOf === undefined) {
            throw new errors_1.ContractError(`${at}.rollbackOf is required for rollback evidence`);
        }
        validateSigned(obj.rollbackOf, `${at}.rollbackOf`);
        if (obj.canary !== undefined) {
            throw new errors_1.ContractError(`${at}.canary belongs to promotion evidence only`);
        }
    }
    else if ("rollbackOf" in obj) {
        throw new errors_1.ContractError(`${at}.rollbackOf belongs to rollback evidence only`);
    }
    return obj;
}
/** Checks signed evidence's shape; throws ContractError naming the first field that is wrong. */
function validateSigned(value, at) {
    const obj = (0, shape_1.objectAt)(value, at, ["record", "signature"]);
    validateRecord(obj.record, `${at}.record`);
    const sig = obj.signature;
    if (typeof sig !== "string" ||
        Buffer.from(sig, "base64").length !== exports.SIGNATURE_BYTES ||
        Buffer.from(sig, "base64").toString("base64") !== sig) {
        throw new errors_1.ContractError(`${at}.signature must be the base64 encoding of a ${exports.SIGNATURE_BYTES}-byte Ed25519 signature`);
    }
    return obj;
}
/** Parses SignedEvidence JSON; throws ContractError naming what is wrong. */
function parseSignedEvidence(json) {
    let parsed;
    try {
        parsed = JSON.parse(json);
    }
    catch (err) {
        throw new errors_1.ContractError(`promotion evidence is not valid JSON: ${err.message}`);
    }
    return validateSigned(parsed, "evidence");
}
