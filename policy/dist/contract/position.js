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
exports.POSITION_ANNOTATION = exports.POSITION_OUTPUT = exports.ROLLBACK_CONFIG_SCHEMA = exports.DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS = exports.ROLLBACK_AGE_KEY = void 0;
exports.rollbackAgeOf = rollbackAgeOf;
exports.validateTarget = validateTarget;
exports.initialPosition = initialPosition;
exports.parsePosition = parsePosition;
exports.parsePositionText = parsePositionText;
exports.evidenceDigest = evidenceDigest;
exports.revocationOf = revocationOf;
exports.targetProblems = targetProblems;
exports.nextPosition = nextPosition;
exports.positionFor = positionFor;
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
const crypto = __importStar(require("crypto"));
const canonical_1 = require("./canonical");
const errors_1 = require("./errors");
const shape_1 = require("./shape");
/** The policy-config key (`promotion-evidence` section) bounding the age of a rollback's promotion. */
exports.ROLLBACK_AGE_KEY = "maxRollbackEvidenceAgeDays";
exports.DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS = 30;
/** The key's schema for the pack's config (the engine validates the policy config against it). */
exports.ROLLBACK_CONFIG_SCHEMA = {
    [exports.ROLLBACK_AGE_KEY]: {
        type: "number",
        exclusiveMinimum: 0,
        default: exports.DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS,
        description: "Oldest promotion a rollback may return to (the one that promoted the version), days.",
    },
};
/** `maxRollbackEvidenceAgeDays` of a `promotion-evidence` section (default 30), or the problem with it. */
function rollbackAgeOf(section) {
    const v = section[exports.ROLLBACK_AGE_KEY];
    if (v === undefined)
        return { days: exports.DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS, problems: [] };
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
        return {
            days: exports.DEFAULT_MAX_ROLLBACK_EVIDENCE_AGE_DAYS,
            problems: [`${exports.ROLLBACK_AGE_KEY} must be a finite number > 0 (got ${JSON.stringify(v)})`],
        };
    }
    return { days: v, problems: [] };
}
/** The stack output that holds production's position. */
exports.POSITION_OUTPUT = "promotionPosition";
/** The Deployment annotation that carries the position the program read (JSON). */
exports.POSITION_ANNOTATION = "churn-model/promotion-position";
const TARGET_KEYS = ["stack", "namespace", "follows"];
const POSITION_KEYS = ["stack", "sequence", "current", "revoked", "promotedBy"];
const FQ_STACK = /^[^/\s]+\/[^/\s]+\/[^/\s]+$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
function sequenceAt(value, at) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
        throw new errors_1.ContractError(`${at} must be a non-negative integer (got ${JSON.stringify(value)})`);
    }
    return value;
}
function fqStackAt(value, at) {
    const s = (0, shape_1.nonEmptyString)(value, at);
    if (!FQ_STACK.test(s)) {
        throw new errors_1.ContractError(`${at} must be a fully qualified stack name <org>/<project>/<stack> (got ${JSON.stringify(s)})`);
    }
    return s;
}
/** Checks a record's `target`; throws ContractError naming the field. */
function validateTarget(value, at) {
    const obj = (0, shape_1.objectAt)(value, at, TARGET_KEYS, TARGET_KEYS);
    fqStackAt(obj.stack, `${at}.stack`);
    (0, shape_1.nonEmptyString)(obj.namespace, `${at}.namespace`);
    sequenceAt(obj.follows, `${at}.follows`);
    return obj;
}
/** The initial position of a stack that has recorded none (before its first format-4 update). */
function initialPosition(stack) {
    return { stack, sequence: 0, current: null, revoked: [], promotedBy: {} };
}
/** Checks a position (output or annotation); throws ContractError naming the field. */
function parsePosition(value, at) {
    const obj = (0, shape_1.objectAt)(value, at, POSITION_KEYS, POSITION_KEYS);
    fqStackAt(obj.stack, `${at}.stack`);
    sequenceAt(obj.sequence, `${at}.sequence`);
    if (obj.current !== null && (typeof obj.current !== "string" || !DIGEST.test(obj.current))) {
        throw new errors_1.ContractError(`${at}.current must be an evidence digest sha256:<64 hex> or null`);
    }
    if (!Array.isArray(obj.revoked))
        throw new errors_1.ContractError(`${at}.revoked must be a list`);
    obj.revoked.forEach((r, i) => {
        const rev = (0, shape_1.objectAt)(r, `${at}.revoked[${i}]`, ["version", "sequence"], ["version", "sequence"]);
        (0, shape_1.nonEmptyString)(rev.version, `${at}.revoked[${i}].version`);
        sequenceAt(rev.sequence, `${at}.revoked[${i}].sequence`);
    });
    const by = obj.promotedBy;
    if (typeof by !== "object" || by === null || Array.isArray(by)) {
        throw new errors_1.ContractError(`${at}.promotedBy must be an object of version → evidence digest`);
    }
    for (const [v, d] of Object.entries(by)) {
        if (typeof d !== "string" || !DIGEST.test(d)) {
            throw new errors_1.ContractError(`${at}.promotedBy[${JSON.stringify(v)}] must be an evidence digest sha256:<64 hex>`);
        }
    }
    return obj;
}
/** The position as JSON text, or why it is not one (the pack reads the annotation with this). */
function parsePositionText(text, at) {
    let parsed;
    try {
        parsed = JSON.parse(text);
    }
    catch (err) {
        throw new errors_1.ContractError(`${at} is not valid JSON: ${err.message}`);
    }
    return parsePosition(parsed, at);
}
/** The digest that names one signed evidence: sha256 of its RFC 8785 canonical JSON. */
function evidenceDigest(signed) {
    return `sha256:${crypto.createHash("sha256").update((0, canonical_1.canonicalBytes)(signed)).digest("hex")}`;
}
/** The revocation of `version` in `position`, if any. */
function revocationOf(position, version) {
    return position.revoked.find((r) => r.version === version);
}
/**
 * Every reason signed evidence does not bind this target at this moment, each naming the
 * binding (target.stack, target.namespace, target.follows, revokedVersions, rollbackOf); []
 * when it does. Evidence production already runs (its digest is the position's `current`) is
 * re-applied without a new moment: a repeated `pulumi up` changes nothing.
 */
function targetProblems(signed, check) {
    const record = signed.record;
    const label = `${record.kind} evidence`;
    const { position } = check;
    const target = record.target;
    const problems = [];
    const where = check.stack ?? position.stack;
    if (target.stack !== where) {
        problems.push(`${label} binds target.stack ${target.stack}, but the stack being updated is ${where}`);
    }
    else if (check.stackSuffix !== undefined && !where.endsWith(`/${check.stackSuffix}`)) {
        problems.push(`${label} binds target.stack ${target.stack}, but the stack being updated is <org>/${check.stackSuffix}`);
    }
    if (target.namespace !== check.namespace) {
        problems.push(`${label} binds target.namespace ${target.namespace}, but the workload is deployed to namespace ${check.namespace}`);
    }
    const digest = evidenceDigest(signed);
    const rerun = digest === position.current;
    if (!rerun && target.follows !== position.sequence) {
        problems.push(`${label} binds target.follows ${target.follows}, but production's last successful update is at ` +
            `promotion sequence ${position.sequence}: the evidence was made for another moment (every promotion, ` +
            "rollback and revocation since voids earlier evidence)");
    }
    const revoked = revocationOf(position, record.modelVersion);
    // A rollback returns with the promotion it embeds: that one must postdate the revocation.
    const promotedAt = record.rollbackOf?.record.target.follows ?? target.follows;
    if (revoked !== undefined && promotedAt < revoked.sequence) {
        problems.push(`${label} is for version ${record.modelVersion}, which production revoked at promotion sequence ` +
            `${revoked.sequence} (revokedVersions): only a fresh promotion through the gate brings it back`);
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
function provenanceProblems(label, embedded, check) {
    const version = embedded.record.modelVersion;
    const promoted = check.position.promotedBy[version];
    const digest = evidenceDigest(embedded);
    const problems = [];
    if (promoted !== digest) {
        problems.push(`${label} embeds a promotion of ${version} (rollbackOf, ${digest.slice(0, 19)}…) that is not the one ` +
            `that promoted ${version} to ${check.position.stack} (${promoted === undefined ? "production records none" : `production records ${promoted.slice(0, 19)}…`})`);
    }
    const ageMs = check.now.getTime() - Date.parse(embedded.record.createdAt);
    const maxMs = check.maxRollbackEvidenceAgeDays * 86_400_000;
    if (ageMs > maxMs) {
        problems.push(`${label} returns to a promotion created at ${embedded.record.createdAt}, ${(ageMs / 86_400_000).toFixed(1)} ` +
            `days ago, older than the maximum ${check.maxRollbackEvidenceAgeDays} days (maxRollbackEvidenceAgeDays)`);
    }
    return problems;
}
/**
 * Production's position after an update that applies `applied` and revokes `revoke` (the
 * rollback's `revokes` and the operator's `churn-model:revokeVersions`): the sequence advances
 * when new evidence is applied or the revocation list grows, which voids every earlier evidence.
 */
function nextPosition(position, applied, revoke) {
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
        promotedBy: fresh && applied.record.kind === "promotion"
            ? { ...position.promotedBy, [applied.record.modelVersion]: digest }
            : position.promotedBy,
    };
}
/** The position as a Deployment of `version` carries it: promotedBy reduced to that version. */
function positionFor(position, version) {
    const by = position.promotedBy[version];
    return { ...position, promotedBy: by === undefined ? {} : { [version]: by } };
}
