/**
 * Signing evidence: the record's RFC 8785 canonical JSON, UTF-8, signed with Ed25519 by the
 * runner's key. The shape and the encoding are the contract's (policy/contract).
 */
import * as crypto from "crypto";
import { canonicalJson, EvidenceRecord, SignedEvidence, validateRecord } from "../../policy/contract";
import { underContract } from "./contract-edge";
import { BadInput } from "./errors";
import { ed25519, privateKeyFrom } from "./evidence-keys";

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
  const canonical = underContract(() => {
    validateRecord(record, "record");
    return canonicalJson(record);
  });
  const signature = crypto.sign(null, Buffer.from(canonical, "utf8"), key).toString("base64");
  return { record: JSON.parse(canonical) as EvidenceRecord, signature };
}
