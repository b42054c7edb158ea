"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.canonicalJson = canonicalJson;
exports.canonicalBytes = canonicalBytes;
/**
 * The JSON Canonicalization Scheme (RFC 8785, "JCS") for the values evidence holds: null,
 * booleans, strings, finite numbers, arrays and plain objects. The signature covers the UTF-8
 * bytes of this text, so any JCS implementation reproduces them. See docs/evidence-format.md.
 *
 * - Objects: members sorted by their names' UTF-16 code units (RFC 8785 §3.2.3), no whitespace.
 * - Strings: ECMAScript JSON.stringify escaping (RFC 8785 §3.2.2.2); lone surrogates are refused
 *   (I-JSON, RFC 7493).
 * - Numbers: ECMAScript Number-to-String (RFC 8785 §3.2.2.3), which JSON.stringify applies;
 *   NaN and ±Infinity are refused; -0 is written 0.
 */
const errors_1 = require("./errors");
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** The JCS text of `value`; throws ContractError naming the path of a value JSON cannot carry. */
function canonicalJson(value) {
    return encode(value, "$");
}
/** The bytes a signature covers: UTF-8 of canonicalJson(value). */
function canonicalBytes(value) {
    return Buffer.from(canonicalJson(value), "utf8");
}
function encodeString(s, at) {
    if (LONE_SURROGATE.test(s)) {
        throw new errors_1.ContractError(`cannot encode ${at}: the string holds a lone UTF-16 surrogate`);
    }
    return JSON.stringify(s);
}
/** UTF-16 code-unit order, as RFC 8785 requires (not locale, not code points). */
function byCodeUnits(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
function encode(value, at) {
    if (value === null) {
        return "null";
    }
    switch (typeof value) {
        case "boolean":
            return value ? "true" : "false";
        case "string":
            return encodeString(value, at);
        case "number":
            if (!Number.isFinite(value)) {
                throw new errors_1.ContractError(`cannot encode ${at}: ${value} is not a finite number`);
            }
            return JSON.stringify(value);
        case "object":
            break;
        default:
            throw new errors_1.ContractError(`cannot encode ${at}: a value of type ${typeof value} has no JSON form`);
    }
    if (Array.isArray(value)) {
        return `[${value.map((v, i) => encode(v, `${at}[${i}]`)).join(",")}]`;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
        throw new errors_1.ContractError(`cannot encode ${at}: only plain objects have a canonical JSON form`);
    }
    const obj = value;
    const keys = Object.keys(obj).sort(byCodeUnits);
    const members = [];
    for (const k of keys) {
        members.push(`${encodeString(k, `${at} (a member name)`)}:${encode(obj[k], `${at}.${k}`)}`);
    }
    return `{${members.join(",")}}`;
}
