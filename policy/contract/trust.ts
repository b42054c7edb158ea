/**
 * Trust roots every verifier agrees on without reading a file: the sandbox's demo evidence and
 * approver keys, pinned by fingerprint (its private half is committed, so only stacks of the sandbox project
 * may trust it), and which stacks are production whatever their config says. See README
 * ("Trust roots").
 */
import * as crypto from "crypto";

/** The project of the sandbox's (and the tests') stacks: the only ones that may trust a sandbox key. */
export const SANDBOX_PROJECT = "churn-model-sandbox";

/**
 * SHA-256 of the SPKI DER of the sandbox's demo keys, both named by policy/config/sandbox-*.json:
 * the evidence key (scripts/sandbox/demo-evidence-key.pem), then the approver key of
 * demo-approver (scripts/sandbox/demo-approver-key.pem). A test checks them against those files.
 */
export const SANDBOX_KEY_FINGERPRINTS: readonly string[] = [
  "f88af8b72915923253b5a668538a2b868060375eda131ce7c2689d7ae4e8479d",
  "79f1f02a36723276066a71fc3052eed5bac0b7c3c59748c9ac889cca304e6548",
];

/** The namespace of production: a workload there is production whatever its stack or labels say. */
export const PRODUCTION_NAMESPACE = "production";

/** SHA-256 (hex) of a public key's SPKI DER, or undefined when the PEM is no public key. */
export function keyFingerprint(pem: string): string | undefined {
  try {
    const der = crypto.createPublicKey(pem).export({ type: "spki", format: "der" });
    return crypto.createHash("sha256").update(der).digest("hex");
  } catch {
    return undefined;
  }
}

/** Whether a PEM key is one of the sandbox's demo keys (SANDBOX_KEY_FINGERPRINTS). */
export function isSandboxKey(pem: string | undefined): boolean {
  const fingerprint = pem === undefined ? undefined : keyFingerprint(pem);
  return fingerprint !== undefined && SANDBOX_KEY_FINGERPRINTS.includes(fingerprint);
}

/** The project a resource URN names (`urn:pulumi:<stack>::<project>::…`), or undefined. */
export function projectOfUrn(urn: string | undefined): string | undefined {
  const m = /^urn:pulumi:[^:]*::([^:]+)::/.exec(urn ?? "");
  return m?.[1];
}

/** The first approver a policy config lists with a sandbox key, if any (never trusted outside the sandbox). */
export function sandboxApprover(approvers: Readonly<Record<string, string>>): string | undefined {
  return Object.keys(approvers).find((id) => isSandboxKey(approvers[id]));
}
