/**
 * Promotion evidence as the promotion tools use it: the contract's record, encoding and
 * verification (policy/contract), the runner's key loading (evidence-keys.ts) and signing
 * (evidence-signing.ts), with contract errors as BadInput. See docs/evidence-format.md.
 */
import * as contract from "../../policy/contract";
import { underContract } from "./contract-edge";

export type {
  EvidenceRecord,
  Measured,
  PromotionPosition,
  PromotionTarget,
  SignedEvidence,
  VerifyOptions,
} from "../../policy/contract";
export {
  EVIDENCE_ANNOTATION,
  EVIDENCE_FORMAT,
  MAX_CLOCK_SKEW_MS,
  MAX_WINDOW_LAG_MS,
  verifyEvidence,
} from "../../policy/contract";
export {
  generateEvidenceKeyPair,
  PRIVATE_KEY_ENV,
  PRIVATE_KEY_FILE_ENV,
  privateKeyFromEnv,
} from "./evidence-keys";
export { signEvidence } from "./evidence-signing";

/** RFC 8785 canonical JSON; throws BadInput for a value JSON cannot carry. */
export function canonicalJson(value: unknown): string {
  return underContract(() => contract.canonicalJson(value));
}

/** Parses SignedEvidence JSON; throws BadInput naming what is wrong. */
export function parseSignedEvidence(json: string): contract.SignedEvidence {
  return underContract(() => contract.parseSignedEvidence(json));
}
