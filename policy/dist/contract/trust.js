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
exports.PRODUCTION_NAMESPACE = exports.SANDBOX_KEY_FINGERPRINTS = exports.SANDBOX_PROJECT = void 0;
exports.keyFingerprint = keyFingerprint;
exports.isSandboxKey = isSandboxKey;
exports.projectOfUrn = projectOfUrn;
exports.sandboxApprover = sandboxApprover;
/**
 * Trust roots every verifier agrees on without reading a file: the sandbox's demo evidence and
 * approver keys, pinned by fingerprint (its private half is committed, so only stacks of the sandbox project
 * may trust it), and which stacks are production whatever their config says. See README
 * ("Trust roots").
 */
const crypto = __importStar(require("crypto"));
/** The project of the sandbox's (and the tests') stacks: the only ones that may trust a sandbox key. */
exports.SANDBOX_PROJECT = "churn-model-sandbox";
/**
 * SHA-256 of the SPKI DER of the sandbox's demo keys, both named by policy/config/sandbox-*.json:
 * the evidence key (scripts/sandbox/demo-evidence-key.pem), then the approver key of
 * demo-approver (scripts/sandbox/demo-approver-key.pem). A test checks them against those files.
 */
exports.SANDBOX_KEY_FINGERPRINTS = [
    "f88af8b72915923253b5a668538a2b868060375eda131ce7c2689d7ae4e8479d",
    "79f1f02a36723276066a71fc3052eed5bac0b7c3c59748c9ac889cca304e6548",
];
/** The namespace of production: a workload there is production whatever its stack or labels say. */
exports.PRODUCTION_NAMESPACE = "production";
/** SHA-256 (hex) of a public key's SPKI DER, or undefined when the PEM is no public key. */
function keyFingerprint(pem) {
    try {
        const der = crypto.createPublicKey(pem).export({ type: "spki", format: "der" });
        return crypto.createHash("sha256").update(der).digest("hex");
    }
    catch {
        return undefined;
    }
}
/** Whether a PEM key is one of the sandbox's demo keys (SANDBOX_KEY_FINGERPRINTS). */
function isSandboxKey(pem) {
    const fingerprint = pem === undefined ? undefined : keyFingerprint(pem);
    return fingerprint !== undefined && exports.SANDBOX_KEY_FINGERPRINTS.includes(fingerprint);
}
/** The project a resource URN names (`urn:pulumi:<stack>::<project>::…`), or undefined. */
function projectOfUrn(urn) {
    const m = /^urn:pulumi:[^:]*::([^:]+)::/.exec(urn ?? "");
    return m?.[1];
}
/** The first approver a policy config lists with a sandbox key, if any (never trusted outside the sandbox). */
function sandboxApprover(approvers) {
    return Object.keys(approvers).find((id) => isSandboxKey(approvers[id]));
}
