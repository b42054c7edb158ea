"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.APPROVER_ID = exports.APPROVAL_FORMAT = void 0;
exports.decisionDigest = decisionDigest;
exports.approvalSigningBytes = approvalSigningBytes;
exports.validateApproval = validateApproval;
exports.parseApproval = parseApproval;
exports.approverPublicKey = approverPublicKey;
exports.approvalSignatureValid = approvalSignatureValid;
exports.signApproval = signApproval;
/**
 * Approvals bound to the numbers: what an approver approved (the decision: version, image,
 * staging deployment, window, every check's value and outcome, thresholds), named by a digest,
 * who, when, until when; optionally signed with the approver's own Ed25519 key over the same
 * RFC 8785 canonical bytes as the evidence. Pure. See docs/approvals.md.
 */
const crypto = __importStar(require("crypto"));
const canonical_1 = require("./canonical");
const errors_1 = require("./errors");
const shape_1 = require("./shape");
/** The approval format this contract writes and reads; any other is refused. */
exports.APPROVAL_FORMAT = 1;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** What an approver ID may be: an e-mail, a user name, a URI-like ID. */
exports.APPROVER_ID = /^[A-Za-z0-9][A-Za-z0-9._@+:/-]{0,199}$/;
const OUTCOMES = ["pass", "inconclusive", "error", "fail"];
const MODES = ["enforce", "dryRun"];
/** `sha256:<hex>` of the decision's canonical bytes. */
function decisionDigest(subject) {
    return `sha256:${crypto.createHash("sha256").update((0, canonical_1.canonicalBytes)(subject)).digest("hex")}`;
}
/** The bytes an approver signs. */
function approvalSigningBytes(statement) {
    return (0, canonical_1.canonicalBytes)(statement);
}
/** An object with exactly `keys`. */
function objectAt(value, at, keys) {
    return (0, shape_1.objectAt)(value, at, keys, keys);
}
function validateCheck(value, at) {
    const check = objectAt(value, at, ["name", "value", "status", "mode"]);
    (0, shape_1.nonEmptyString)(check.name, `${at}.name`);
    if (check.value !== null && (typeof check.value !== "number" || !Number.isFinite(check.value))) {
        throw new errors_1.ContractError(`${at}.value must be a finite number or null`);
    }
    if (typeof check.status !== "string" || !OUTCOMES.includes(check.status)) {
        throw new errors_1.ContractError(`${at}.status must be one of ${OUTCOMES.join(", ")}`);
    }
    if (typeof check.mode !== "string" || !MODES.includes(check.mode)) {
        throw new errors_1.ContractError(`${at}.mode must be enforce or dryRun`);
    }
    return check;
}
function validateSubject(value, at) {
    const obj = objectAt(value, at, [
        "modelVersion",
        "image",
        "staging",
        "window",
        "outcome",
        "checks",
        "thresholds",
    ]);
    (0, shape_1.nonEmptyString)(obj.modelVersion, `${at}.modelVersion`);
    (0, shape_1.nonEmptyString)(obj.image, `${at}.image`);
    const staging = objectAt(obj.staging, `${at}.staging`, ["stack", "deployedAt"]);
    (0, shape_1.nonEmptyString)(staging.stack, `${at}.staging.stack`);
    (0, shape_1.timestamp)(staging.deployedAt, `${at}.staging.deployedAt`);
    const window = objectAt(obj.window, `${at}.window`, ["start", "end"]);
    (0, shape_1.timestamp)(window.start, `${at}.window.start`);
    (0, shape_1.timestamp)(window.end, `${at}.window.end`);
    if (obj.outcome !== "promote" && obj.outcome !== "reject") {
        throw new errors_1.ContractError(`${at}.outcome must be "promote" or "reject"`);
    }
    if (!Array.isArray(obj.checks) || obj.checks.length === 0) {
        throw new errors_1.ContractError(`${at}.checks must be a non-empty list`);
    }
    const names = new Set();
    obj.checks.forEach((c, i) => {
        const check = validateCheck(c, `${at}.checks[${i}]`);
        if (names.has(check.name))
            throw new errors_1.ContractError(`${at}.checks names ${check.name} twice`);
        names.add(check.name);
    });
    const thresholds = obj.thresholds;
    if (typeof thresholds !== "object" || thresholds === null || Array.isArray(thresholds)) {
        throw new errors_1.ContractError(`${at}.thresholds must be an object of numbers`);
    }
    for (const [k, v] of Object.entries(thresholds)) {
        if (typeof v !== "number" || !Number.isFinite(v)) {
            throw new errors_1.ContractError(`${at}.thresholds.${k} must be a finite number`);
        }
    }
    return obj;
}
/**
 * Checks an approval's shape, its format and that its digest is its decision's; throws
 * ContractError naming the first field that is wrong. Says nothing about its signature.
 */
function validateApproval(value, at) {
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
    if (statement.format !== exports.APPROVAL_FORMAT) {
        throw new errors_1.ContractError(`${at}.statement.format must be ${exports.APPROVAL_FORMAT} (got ${JSON.stringify(statement.format)}); this verifier reads no other approval format`);
    }
    (0, shape_1.nonEmptyString)(statement.target, `${at}.statement.target`);
    const approver = (0, shape_1.nonEmptyString)(statement.approver, `${at}.statement.approver`);
    if (!exports.APPROVER_ID.test(approver)) {
        throw new errors_1.ContractError(`${at}.statement.approver ${JSON.stringify(approver)} is not an approver ID`);
    }
    const approvedAt = (0, shape_1.timestamp)(statement.approvedAt, `${at}.statement.approvedAt`);
    const expiresAt = (0, shape_1.timestamp)(statement.expiresAt, `${at}.statement.expiresAt`);
    if (Date.parse(expiresAt) <= Date.parse(approvedAt)) {
        throw new errors_1.ContractError(`${at}.statement.expiresAt must be after its approvedAt`);
    }
    const subject = validateSubject(statement.decision, `${at}.statement.decision`);
    const digest = statement.decisionDigest;
    if (typeof digest !== "string" || !DIGEST.test(digest)) {
        throw new errors_1.ContractError(`${at}.statement.decisionDigest must be sha256:<64 hex>`);
    }
    if (digest !== decisionDigest(subject)) {
        throw new errors_1.ContractError(`${at}.statement.decisionDigest is not the digest of its decision`);
    }
    const sig = obj.signature;
    if (sig !== null &&
        (typeof sig !== "string" ||
            Buffer.from(sig, "base64").length !== 64 ||
            Buffer.from(sig, "base64").toString("base64") !== sig)) {
        throw new errors_1.ContractError(`${at}.signature must be null or the base64 of a 64-byte Ed25519 signature`);
    }
    return obj;
}
/** Parses an approval's JSON; throws ContractError naming `source`. */
function parseApproval(text, source) {
    let parsed;
    try {
        parsed = JSON.parse(text);
    }
    catch (err) {
        throw new errors_1.ContractError(`${source} is not valid JSON: ${err.message}`);
    }
    return validateApproval(parsed, source);
}
/** An Ed25519 public key from SPKI PEM, or undefined when it is none. */
function approverPublicKey(pem) {
    if (typeof pem !== "string" || pem.includes("PRIVATE KEY"))
        return undefined;
    try {
        const key = crypto.createPublicKey({ key: pem, format: "pem" });
        return key.asymmetricKeyType === "ed25519" ? key : undefined;
    }
    catch {
        return undefined;
    }
}
/** Whether the approval's signature verifies under `publicKeyPem`. */
function approvalSignatureValid(approval, publicKeyPem) {
    const key = approverPublicKey(publicKeyPem);
    if (key === undefined || approval.signature === null)
        return false;
    try {
        return crypto.verify(null, approvalSigningBytes(approval.statement), key, Buffer.from(approval.signature, "base64"));
    }
    catch {
        return false;
    }
}
/** Signs a statement with the approver's Ed25519 private key. */
function signApproval(statement, privateKey) {
    if (privateKey.asymmetricKeyType !== "ed25519") {
        throw new errors_1.ContractError(`the approver key is a ${privateKey.asymmetricKeyType ?? "symmetric"} key; it must be Ed25519`);
    }
    const signature = crypto.sign(null, approvalSigningBytes(statement), privateKey).toString("base64");
    return { statement, signature };
}
