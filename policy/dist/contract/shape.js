"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.RFC3339 = void 0;
exports.objectAt = objectAt;
exports.nonEmptyString = nonEmptyString;
exports.timestamp = timestamp;
/**
 * The shape checks the contract's strict readers share (evidence-schema.ts, approval.ts): an
 * object with only known fields, a non-empty string, an RFC3339 timestamp. Each throws
 * ContractError naming the path.
 */
const errors_1 = require("./errors");
exports.RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** `value` as an object with no field outside `keys`, and every one of `required`. */
function objectAt(value, at, keys, required = []) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new errors_1.ContractError(`${at} must be an object`);
    }
    const obj = value;
    const extra = Object.keys(obj).filter((k) => !keys.includes(k));
    if (extra.length > 0) {
        throw new errors_1.ContractError(`${at} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")}`);
    }
    const missing = required.filter((k) => !(k in obj));
    if (missing.length > 0) {
        throw new errors_1.ContractError(`${at} is missing ${missing.join(", ")}`);
    }
    return obj;
}
function nonEmptyString(value, at) {
    if (typeof value !== "string" || value.trim() === "") {
        throw new errors_1.ContractError(`${at} must be a non-empty string`);
    }
    return value;
}
function timestamp(value, at) {
    if (typeof value !== "string" || !exports.RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
        throw new errors_1.ContractError(`${at} must be an RFC3339 timestamp (got ${JSON.stringify(value)})`);
    }
    return value;
}
