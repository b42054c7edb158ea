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
exports.isUnknownValueError = isUnknownValueError;
exports.unknownPath = unknownPath;
exports.orWhenUnknown = orWhenUnknown;
exports.record = record;
exports.list = list;
exports.text = text;
exports.num = num;
/**
 * Reading resource properties as policies receive them: plain JSON, wrapped by
 * @pulumi/policy in a proxy that throws UnknownValueError when a policy reads a value that
 * is unknown during preview. The engine turns an uncaught UnknownValueError into an advisory
 * note ("can't run policy … during preview") and runs resource policies again during the
 * update, when the values are known. Policies that must not let an unknown through at preview
 * (promotion-evidence) catch the error themselves and report a violation.
 */
const policySdk = __importStar(require("@pulumi/policy"));
/** The SDK exports UnknownValueError at runtime; its type declarations omit it. */
const UnknownValueError = policySdk
    .UnknownValueError;
/** True when `err` is the SDK's signal that a policy read a value unknown during preview. */
function isUnknownValueError(err) {
    return err instanceof UnknownValueError;
}
/** The property path of an unknown value, e.g. `spec.template.spec.containers[0].image`. */
function unknownPath(err) {
    let out = "";
    for (const p of err.props) {
        const s = String(p);
        out += /^\d+$/.test(s) ? `[${s}]` : out === "" ? s : `.${s}`;
    }
    return out;
}
/** The value `read` returns, or `fallback` when it reads a value unknown during preview. */
function orWhenUnknown(read, fallback) {
    try {
        return read();
    }
    catch (err) {
        if (isUnknownValueError(err)) {
            return fallback;
        }
        throw err;
    }
}
/** `v` as a JSON object, or undefined. */
function record(v) {
    return typeof v === "object" && v !== null && !Array.isArray(v)
        ? v
        : undefined;
}
/** `v` as an array, or an empty one. */
function list(v) {
    return Array.isArray(v) ? v : [];
}
/** `v` as a string, or undefined. */
function text(v) {
    return typeof v === "string" ? v : undefined;
}
/** `v` as a number, or undefined. */
function num(v) {
    return typeof v === "number" ? v : undefined;
}
