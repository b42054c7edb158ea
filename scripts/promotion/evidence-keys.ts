/**
 * The evidence signing key, loaded from the runner's environment. Only the promotion runner
 * holds it; no message ever contains key material. See docs/evidence-format.md ("Keys").
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { BadInput } from "./errors";

/** Environment variable holding the Ed25519 signing key as PKCS8 PEM. */
export const PRIVATE_KEY_ENV = "CHURN_EVIDENCE_PRIVATE_KEY";

/** Environment variable naming a file that holds the Ed25519 signing key as PKCS8 PEM. */
export const PRIVATE_KEY_FILE_ENV = "CHURN_EVIDENCE_PRIVATE_KEY_FILE";

export function ed25519(key: crypto.KeyObject, what: string): crypto.KeyObject {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new BadInput(`${what} is a ${key.asymmetricKeyType ?? key.type} key; it must be Ed25519`);
  }
  return key;
}

export function privateKeyFrom(pem: string, what: string): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new BadInput(`${what} is not a private key in PKCS8 PEM`);
  }
  return ed25519(key, what);
}

/**
 * The signing key from the environment: CHURN_EVIDENCE_PRIVATE_KEY (PKCS8 PEM; `\n` escapes
 * are accepted for single-line secrets) or CHURN_EVIDENCE_PRIVATE_KEY_FILE. Throws BadInput
 * when absent, ambiguous or invalid.
 */
export function privateKeyFromEnv(env: NodeJS.ProcessEnv = process.env): crypto.KeyObject {
  const inline = env[PRIVATE_KEY_ENV];
  const file = env[PRIVATE_KEY_FILE_ENV];
  const hasInline = inline !== undefined && inline.trim() !== "";
  const hasFile = file !== undefined && file.trim() !== "";
  if (hasInline && hasFile) {
    throw new BadInput(`set only one of ${PRIVATE_KEY_ENV} and ${PRIVATE_KEY_FILE_ENV}, not both`);
  }
  if (hasInline) {
    const pem = inline.includes("\n") ? inline : inline.replace(/\\n/g, "\n");
    return privateKeyFrom(pem, PRIVATE_KEY_ENV);
  }
  if (hasFile) {
    let pem: string;
    try {
      pem = fs.readFileSync(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "read error";
      throw new BadInput(`${PRIVATE_KEY_FILE_ENV} names ${file}, which cannot be read (${code})`);
    }
    return privateKeyFrom(pem, `${PRIVATE_KEY_FILE_ENV} (${file})`);
  }
  throw new BadInput(
    `no evidence signing key: set ${PRIVATE_KEY_ENV} to an Ed25519 private key in PKCS8 PEM, ` +
      `or ${PRIVATE_KEY_FILE_ENV} to a file holding one`,
  );
}

/** A fresh Ed25519 key pair: SPKI PEM public key, PKCS8 PEM private key. */
export function generateEvidenceKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519", {
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}
