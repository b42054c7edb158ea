import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BadInput } from "../../scripts/promotion/errors";
import {
  canonicalJson,
  EVIDENCE_ANNOTATION,
  EvidenceRecord,
  generateEvidenceKeyPair,
  parseSignedEvidence,
  privateKeyFromEnv,
  signEvidence,
  SignedEvidence,
  verifyEvidence,
} from "../../scripts/promotion/evidence";
import { Thresholds } from "../../scripts/promotion/thresholds";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { withHandMadeAnalysis } from "../fixtures/evidence-records";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";

const NOW = new Date("2025-06-01T12:00:00Z");
const SIGNATURE_PROBLEM =
  "promotion evidence carries a signature that does not verify under the configured public key";

const THRESHOLDS: Thresholds = DESIGN_THRESHOLDS;

/** A record; its window ends 2 min before its createdAt (the moment it is signed at) unless given. */
function record(overrides: Partial<EvidenceRecord> = {}): EvidenceRecord {
  const createdAt = overrides.createdAt ?? "2025-06-01T07:00:00Z";
  const end = Date.parse(createdAt) - 2 * 60_000;
  const healthy = withHandMadeAnalysis({
    format: 4,
    target: TEST_TARGET,
    kind: "promotion",
    modelVersion: "1.2.0",
    image: "registry.internal.example.com/ml/churn-model:1.2.0",
    artifact: sandboxArtifact("registry.internal.example.com/ml/churn-model:1.2.0"),
    measured: {
      accuracy: 0.91,
      latencyP99Ms: 120,
      errorRate: 0.002,
      uptime: 0.9995,
      soakHours: 30,
      requests: 50000,
      labeledPredictions: 1500,
    },
    window: { start: new Date(end - 24 * 3_600_000).toISOString(), end: new Date(end).toISOString() },
    thresholds: { ...THRESHOLDS },
    staging: { stack: "staging", updateVersion: 42, deployedAt: "2025-05-30T06:00:00Z" },
    approver: "alice@example.com",
    createdAt,
    ...(overrides.window !== undefined ? { window: overrides.window } : {}),
  });
  return { ...healthy, ...overrides };
}

const keys = generateEvidenceKeyPair();
const otherKeys = generateEvidenceKeyPair();

function verify(evidence: unknown, opts: Partial<Parameters<typeof verifyEvidence>[1]> = {}): string[] {
  return verifyEvidence(evidence, {
    publicKeyPem: keys.publicKeyPem,
    thresholds: THRESHOLDS,
    imageVersion: "1.2.0",
    now: NOW,
    ...opts,
  });
}

function signed(overrides: Partial<EvidenceRecord> = {}, privateKeyPem = keys.privateKeyPem): SignedEvidence {
  return signEvidence(record(overrides), privateKeyPem);
}

/** Re-encodes evidence after changing one field, keeping the original signature. */
function tampered(evidence: SignedEvidence, change: (r: Record<string, unknown>) => void): string {
  const copy = JSON.parse(JSON.stringify(evidence)) as { record: Record<string, unknown>; signature: string };
  change(copy.record);
  return JSON.stringify(copy);
}

describe("canonicalJson", () => {
  it("sorts object keys at every level and writes no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: "x" } })).to.equal(
      '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}',
    );
  });

  it("encodes the same value identically whatever the key insertion order", () => {
    const one = { modelVersion: "1.2.0", measured: { uptime: 1, accuracy: 0.9 }, approver: "a" };
    const two = { approver: "a", measured: { accuracy: 0.9, uptime: 1 }, modelVersion: "1.2.0" };
    expect(canonicalJson(one)).to.equal(canonicalJson(two));
  });

  it("escapes strings exactly as JSON does and writes -0 as 0", () => {
    expect(canonicalJson({ s: 'a"b\\c\n\u00e9', n: -0 })).to.equal('{"n":0,"s":"a\\"b\\\\c\\n\u00e9"}');
  });

  it("orders keys by code unit, upper case before lower case", () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, _: 4 })).to.equal('{"B":2,"_":4,"a":3,"b":1}');
  });

  it("rejects NaN and infinite numbers, naming where they are", () => {
    expect(() => canonicalJson({ m: { accuracy: NaN } })).to.throw(
      BadInput,
      "cannot encode $.m.accuracy: NaN is not a finite number",
    );
    expect(() => canonicalJson([1, Infinity])).to.throw(
      BadInput,
      "cannot encode $[1]: Infinity is not a finite number",
    );
  });

  it("rejects undefined in objects and arrays", () => {
    expect(() => canonicalJson({ a: undefined })).to.throw(
      BadInput,
      "cannot encode $.a: a value of type undefined has no JSON form",
    );
    expect(() => canonicalJson([undefined])).to.throw(BadInput, "cannot encode $[0]");
  });

  it("rejects non-plain objects, functions and bigints", () => {
    expect(() => canonicalJson({ d: new Date(0) })).to.throw(BadInput, "only plain objects");
    expect(() => canonicalJson({ f: () => 1 })).to.throw(BadInput, "type function");
    expect(() => canonicalJson({ n: BigInt(1) })).to.throw(BadInput, "type bigint");
  });
});

describe("canonicalJson is RFC 8785 (JCS)", () => {
  it("writes the RFC's example of numbers, strings and literals exactly as §3.2.2 gives it", () => {
    // RFC 8785 §3.2.2: the input, parsed, and the canonical output.
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalJson(input)).to.equal(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("sorts member names by UTF-16 code units as §3.2.3 shows", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    expect(Object.keys(JSON.parse(canonicalJson(input)) as object)).to.have.length(7);
    const order = [...canonicalJson(input).matchAll(/"([^"]*)":"([^"]*)"/g)].map((m) => m[2]);
    expect(order).to.deep.equal([
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
    ]);
  });

  it("writes numbers by ECMAScript's rules at the exponent boundaries", () => {
    expect(canonicalJson([1e21, 1e20, 1e-6, 1e-7, 0.1 + 0.2, -1.5e-10, 5e-324])).to.equal(
      "[1e+21,100000000000000000000,0.000001,1e-7,0.30000000000000004,-1.5e-10,5e-324]",
    );
  });

  it("refuses a string holding a lone surrogate (I-JSON), naming where it is", () => {
    expect(() => canonicalJson({ approver: "a\ud800b" })).to.throw(
      BadInput,
      "cannot encode $.approver: the string holds a lone UTF-16 surrogate",
    );
  });
});

describe("the evidence format version", () => {
  it("writes format 4 into every record it signs", () => {
    expect(signed().record.format).to.equal(4);
  });

  it("refuses evidence of an unknown format, naming the format", () => {
    const e = signed();
    expect(verify({ ...e, record: { ...e.record, format: 2 } })).to.deep.equal([
      "promotion evidence has format 2, which this verifier does not read; it reads evidence format 4 only",
    ]);
    expect(verify({ ...e, record: { ...e.record, format: 5 } })).to.deep.equal([
      "promotion evidence has format 5, which this verifier does not read; it reads evidence format 4 only",
    ]);
  });

  it("refuses format 3 evidence (no target), naming the format", () => {
    const e = signed();
    const { target: _target, ...format3 } = e.record;
    expect(verify({ ...e, record: { ...format3, format: 3 } })).to.deep.equal([
      "promotion evidence has format 3, which this verifier does not read; it reads evidence format 4 only",
    ]);
  });

  it("refuses evidence without a format field (the earlier, unversioned format)", () => {
    const e = signed();
    const { format: _format, ...unversioned } = e.record;
    expect(verify({ ...e, record: unversioned })).to.deep.equal([
      "promotion evidence names no format; this verifier reads evidence format 4 only (record.format)",
    ]);
  });

  it("refuses to sign a record of another format", () => {
    expect(() => signed({ format: 2 as unknown as 4 })).to.throw(
      BadInput,
      "record.format must be 4 (got 2); this verifier reads no other format",
    );
  });
});

describe("signEvidence and verifyEvidence", () => {
  it("accepts freshly signed promotion evidence given as an object", () => {
    expect(verify(signed())).to.deep.equal([]);
  });

  it("accepts the same evidence given as its JSON string", () => {
    expect(verify(JSON.stringify(signed()))).to.deep.equal([]);
  });

  it("signs the canonical encoding with a 64-byte base64 signature", () => {
    const ev = signed();
    const sig = Buffer.from(ev.signature, "base64");
    expect(sig).to.have.length(64);
    const pub = crypto.createPublicKey(keys.publicKeyPem);
    expect(crypto.verify(null, Buffer.from(canonicalJson(record())), pub, sig)).to.equal(true);
  });

  it("returns a copy of the record that later changes to the input do not reach", () => {
    const input = record();
    const ev = signEvidence(input, keys.privateKeyPem);
    input.modelVersion = "9.9.9";
    expect(ev.record.modelVersion).to.equal("1.2.0");
  });

  it("accepts evidence exactly at every threshold", () => {
    const ev = signed({
      measured: {
        accuracy: 0.85,
        latencyP99Ms: 250,
        errorRate: 0.01,
        uptime: 0.999,
        soakHours: 24,
        requests: 1000,
        labeledPredictions: 200,
      },
    });
    expect(verify(ev)).to.deep.equal([]);
  });

  it("accepts a thresholds section that carries the policy config's other keys", () => {
    const thresholds = { ...THRESHOLDS, publicKey: keys.publicKeyPem } as Thresholds;
    expect(verify(signed({ thresholds }))).to.deep.equal([]);
  });

  it("refuses to sign a record whose thresholds section lacks a threshold", () => {
    const { minUptime: _dropped, ...thresholds } = THRESHOLDS;
    expect(() =>
      signEvidence(record({ thresholds: thresholds as unknown as Thresholds }), keys.privateKeyPem),
    ).to.throw(BadInput, 'record.thresholds: "promotion-evidence": minUptime is missing');
  });

  it("refuses to sign a record with a missing field", () => {
    const bad = record() as Partial<EvidenceRecord>;
    delete bad.approver;
    expect(() => signEvidence(bad as EvidenceRecord, keys.privateKeyPem)).to.throw(
      BadInput,
      "record.approver must be a non-empty string",
    );
  });

  it("refuses to sign with a public key", () => {
    expect(() => signEvidence(record(), crypto.createPublicKey(keys.publicKeyPem))).to.throw(
      BadInput,
      "the evidence signing key must be a private key",
    );
  });

  it("refuses to sign with a key that is not Ed25519", () => {
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    expect(() => signEvidence(record(), privateKey)).to.throw(
      BadInput,
      "the evidence signing key is a ec key; it must be Ed25519",
    );
  });
});

describe("verifyEvidence against tampering", () => {
  const base = signed();
  const leafChanges: [string, (r: Record<string, unknown>) => void][] = [
    ["modelVersion", (r) => (r.modelVersion = "1.2.1")],
    ["image", (r) => (r.image = "registry.internal.example.com/ml/churn-model:1.2.1")],
    ["measured.accuracy", (r) => ((r.measured as Record<string, number>).accuracy = 0.92)],
    ["measured.latencyP99Ms", (r) => ((r.measured as Record<string, number>).latencyP99Ms = 121)],
    ["measured.errorRate", (r) => ((r.measured as Record<string, number>).errorRate = 0.001)],
    ["measured.uptime", (r) => ((r.measured as Record<string, number>).uptime = 0.9996)],
    ["measured.soakHours", (r) => ((r.measured as Record<string, number>).soakHours = 31)],
    ["measured.requests", (r) => ((r.measured as Record<string, number>).requests = 50001)],
    [
      "measured.labeledPredictions",
      (r) => ((r.measured as Record<string, number>).labeledPredictions = 1501),
    ],
    ["window.start", (r) => ((r.window as Record<string, string>).start = "2025-05-31T06:00:01Z")],
    ["window.end", (r) => ((r.window as Record<string, string>).end = "2025-06-01T06:00:01Z")],
    ["thresholds.minAccuracy", (r) => ((r.thresholds as Record<string, number>).minAccuracy = 0.8)],
    ["staging.stack", (r) => ((r.staging as Record<string, unknown>).stack = "staging2")],
    ["staging.updateVersion", (r) => ((r.staging as Record<string, unknown>).updateVersion = 43)],
    [
      "staging.deployedAt",
      (r) => ((r.staging as Record<string, unknown>).deployedAt = "2025-05-30T06:00:01Z"),
    ],
    ["approver", (r) => (r.approver = "mallory@example.com")],
    ["createdAt", (r) => (r.createdAt = "2025-06-01T07:00:01Z")],
  ];
  for (const [field, change] of leafChanges) {
    it(`fails the signature when ${field} is changed`, () => {
      expect(verify(tampered(base, change))).to.include(SIGNATURE_PROBLEM);
    });
  }

  it("fails when promotion evidence is relabelled as a rollback", () => {
    expect(verify(tampered(base, (r) => (r.kind = "rollback")))).to.deep.equal([
      "promotion evidence is malformed: evidence.record.rollbackOf is required for rollback evidence",
    ]);
  });

  it("fails the signature when a field is added to the record", () => {
    expect(verify(tampered(base, (r) => (r.note = "x")))).to.deep.equal([
      "promotion evidence is malformed: evidence.record has unknown field note",
    ]);
  });

  it("never passes evidence with any single byte of its JSON changed", function () {
    // Some 3 000 verifications: bounded work, but slow on a loaded machine.
    this.timeout(180_000);
    // One interval's window, so every byte is tried in bounded time.
    const { end } = record().window;
    const oneHour = withHandMadeAnalysis({
      ...record(),
      window: { start: new Date(Date.parse(end) - 3_600_000).toISOString(), end },
    });
    const small = signEvidence(oneHour, keys.privateKeyPem);
    expect(verify(small)).to.deep.equal([]);
    const json = JSON.stringify(small);
    const original = canonicalJson(small);
    const passed: number[] = [];
    for (let i = 0; i < json.length; i++) {
      const c = json.charCodeAt(i);
      const replacement = c >= 48 && c <= 57 ? 48 + ((c - 48 + 1) % 10) : c ^ 1;
      const changed = json.slice(0, i) + String.fromCharCode(replacement) + json.slice(i + 1);
      // The 17th digit of a number (the analysis' bounds and counts) may change the text but not
      // the double it reads as: the same record, not a tampered one.
      const same = (() => {
        try {
          return canonicalJson(JSON.parse(changed)) === original;
        } catch {
          return false;
        }
      })();
      if (!same && verify(changed).length === 0) {
        passed.push(i);
      }
    }
    expect(passed, `byte positions whose change still verified`).to.deep.equal([]);
  });

  it("rejects a signature re-encoded with different unused base64 bits", () => {
    const sig = base.signature;
    const last = sig[sig.length - 3];
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const idx = alphabet.indexOf(last);
    const sibling = alphabet[idx ^ 1];
    const forged = { ...base, signature: sig.slice(0, -3) + sibling + sig.slice(-2) };
    expect(Buffer.from(forged.signature, "base64").equals(Buffer.from(sig, "base64"))).to.equal(true);
    expect(verify(forged)).to.deep.equal([
      "promotion evidence is malformed: evidence.signature must be the base64 encoding of a 64-byte Ed25519 signature",
    ]);
  });
});

describe("verifyEvidence keys", () => {
  it("fails evidence signed with another key", () => {
    expect(verify(signed({}, otherKeys.privateKeyPem))).to.deep.equal([SIGNATURE_PROBLEM]);
  });

  it("fails when no public key is configured", () => {
    const expected = [
      "no evidence verification key is configured (an Ed25519 public key in SPKI PEM), so no evidence can be verified",
    ];
    expect(verify(signed(), { publicKeyPem: undefined })).to.deep.equal(expected);
    expect(verify(signed(), { publicKeyPem: "  " })).to.deep.equal(expected);
  });

  it("fails when the public key is garbled", () => {
    const garbled = keys.publicKeyPem.replace(/[A-Za-z]{6}/, "AAAAAA");
    expect(verify(signed(), { publicKeyPem: garbled })).to.deep.equal([
      "the evidence verification key is not a valid public key in SPKI PEM",
    ]);
  });

  it("fails when the configured key is a private key", () => {
    expect(verify(signed(), { publicKeyPem: keys.privateKeyPem })).to.deep.equal([
      "the evidence verification key is a private key; configure only the public key (SPKI PEM)",
    ]);
  });

  it("fails when the configured key is not Ed25519", () => {
    const { publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(verify(signed(), { publicKeyPem: pem })).to.deep.equal([
      "the evidence verification key is a ec key; it must be Ed25519",
    ]);
  });

  it("still reports the other problems when no key is configured", () => {
    const problems = verify(signed({ modelVersion: "1.1.0" }), { publicKeyPem: undefined });
    expect(problems).to.have.length(2);
    expect(problems[1]).to.equal("promotion evidence names version 1.1.0 but the container image runs 1.2.0");
  });
});

describe("verifyEvidence freshness and version", () => {
  it("fails evidence older than maxEvidenceAgeHours", () => {
    expect(verify(signed({ createdAt: "2025-05-29T11:00:00Z" }))).to.deep.equal([
      "promotion evidence was created at 2025-05-29T11:00:00Z, 73.0 hours ago, older than the maximum 72 hours (maxEvidenceAgeHours)",
    ]);
  });

  it("refuses a window that ends after the evidence was created (a future --at)", () => {
    const ev = signed({ window: { start: "2025-06-01T07:00:00Z", end: "2025-06-02T03:00:00Z" } });
    expect(verify(ev, { now: new Date("2025-06-02T04:00:00Z") })).to.deep.equal([
      "promotion evidence has a window ending at 2025-06-02T03:00:00Z, after the evidence was created (createdAt 2025-06-01T07:00:00Z): metrics are judged up to the moment of signing, never beyond it",
    ]);
  });

  it("refuses a window that ended more than 10 min before the evidence was created (a past --at)", () => {
    const ev = signed({ window: { start: "2025-05-31T06:49:00Z", end: "2025-06-01T06:49:00Z" } });
    expect(verify(ev)).to.deep.equal([
      "promotion evidence has a window ending at 2025-06-01T06:49:00Z, 11.0 min before the evidence was created (createdAt 2025-06-01T07:00:00Z), more than the 10 min allowed: the window must end when the evidence is signed",
    ]);
    const edge = signed({ window: { start: "2025-05-31T06:50:00Z", end: "2025-06-01T06:50:00Z" } });
    expect(verify(edge), "exactly 10 min is allowed").to.deep.equal([]);
  });

  it("refuses a window longer than 31 days", () => {
    const ev = signed({ window: { start: "2025-04-30T06:00:00Z", end: "2025-06-01T06:58:00Z" } });
    expect(verify(ev)).to.deep.equal([
      "promotion evidence has a window of 769.0 hours (2025-04-30T06:00:00Z → 2025-06-01T06:58:00Z), longer than the 744 hours allowed",
    ]);
  });

  it("accepts evidence exactly maxEvidenceAgeHours old", () => {
    expect(verify(signed({ createdAt: "2025-05-29T12:00:00Z" }))).to.deep.equal([]);
  });

  it("fails evidence created in the future beyond the clock skew", () => {
    expect(verify(signed({ createdAt: "2025-06-01T12:10:00Z" }))).to.deep.equal([
      "promotion evidence was created at 2025-06-01T12:10:00Z, which is in the future (now 2025-06-01T12:00:00.000Z)",
    ]);
  });

  it("accepts evidence a few minutes ahead of the clock", () => {
    expect(verify(signed({ createdAt: "2025-06-01T12:04:00Z" }))).to.deep.equal([]);
  });

  it("fails evidence that names another version than the image runs", () => {
    expect(verify(signed(), { imageVersion: "1.3.0" })).to.deep.equal([
      "promotion evidence names version 1.2.0 but the container image runs 1.3.0",
    ]);
  });

  it("matches a digest version exactly", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const artifact = sandboxArtifact(`registry.internal.example.com/ml/churn-model@${digest}`);
    expect(verify(signed({ modelVersion: digest, artifact }), { imageVersion: digest })).to.deep.equal([]);
    expect(
      verify(signed({ modelVersion: digest, artifact }), { imageVersion: `sha256:${"b".repeat(64)}` }),
    ).to.deep.equal([
      `promotion evidence names version ${digest} but the container image runs sha256:${"b".repeat(64)}`,
    ]);
  });

  it("fails when the image names no version", () => {
    expect(verify(signed(), { imageVersion: "" })).to.deep.equal([
      "promotion evidence cannot be matched: the container image names no version",
    ]);
  });
});

describe("verifyEvidence thresholds", () => {
  const cases: [keyof EvidenceRecord["measured"], number, string][] = [
    ["accuracy", 0.84, "promotion evidence reports accuracy 0.84, below the minimum 0.85 (minAccuracy)"],
    [
      "latencyP99Ms",
      251,
      "promotion evidence reports p99 latency 251 ms, above the maximum 250 ms (maxLatencyP99Ms)",
    ],
    [
      "errorRate",
      0.011,
      "promotion evidence reports error rate 0.011, above the maximum 0.01 (maxErrorRate)",
    ],
    ["uptime", 0.998, "promotion evidence reports uptime 0.998, below the minimum 0.999 (minUptime)"],
    [
      "soakHours",
      23.5,
      "promotion evidence reports soak time 23.5 hours, below the minimum 24 hours (minSoakHours)",
    ],
    ["requests", 999, "promotion evidence reports request count 999, below the minimum 1000 (minRequests)"],
    [
      "labeledPredictions",
      199,
      "promotion evidence reports labeled prediction count 199, below the minimum 200 (minLabeledPredictions)",
    ],
  ];
  for (const [key, value, message] of cases) {
    it(`fails when ${key} is ${value}`, () => {
      const measured = { ...record().measured, [key]: value };
      expect(verify(signed({ measured }))).to.deep.equal([message]);
    });
  }

  it("judges by the given thresholds, never by those written in the evidence", () => {
    const ev = signed({
      measured: { ...record().measured, accuracy: 0.6 },
      thresholds: { ...THRESHOLDS, minAccuracy: 0.5 },
    });
    expect(verify(ev)).to.deep.equal([
      "promotion evidence reports accuracy 0.6, below the minimum 0.85 (minAccuracy)",
    ]);
  });

  it("reports a non-finite measurement and never verifies it", () => {
    const ev = signed();
    const withNaN = { ...ev, record: { ...ev.record, measured: { ...ev.record.measured, accuracy: NaN } } };
    const problems = verify(withNaN);
    expect(problems).to.include(SIGNATURE_PROBLEM);
    expect(problems).to.include("promotion evidence reports accuracy NaN, which is not a finite number");
  });

  it("fails everything when the thresholds to verify against are invalid", () => {
    expect(verify(signed(), { thresholds: { ...THRESHOLDS, minAccuracy: NaN } })).to.deep.equal([
      "promotion evidence cannot be checked: the thresholds to verify against: " +
        '"promotion-evidence": minAccuracy must be a finite number ≥ 0 (got null)',
    ]);
  });
});

describe("verifyEvidence rollbacks", () => {
  const earlier = signed({ createdAt: "2025-04-01T07:00:00Z" });
  function rollback(
    overrides: Partial<EvidenceRecord> = {},
    privateKeyPem = keys.privateKeyPem,
  ): SignedEvidence {
    return signed(
      {
        kind: "rollback",
        measured: { ...record().measured, soakHours: 0, requests: 0, labeledPredictions: 0, accuracy: 0 },
        approver: "promotion-runner",
        createdAt: "2025-06-01T11:00:00Z",
        rollbackOf: earlier,
        ...overrides,
      },
      privateKeyPem,
    );
  }

  it("accepts a fresh rollback to a version production ran with valid evidence, however old", () => {
    expect(verify(rollback())).to.deep.equal([]);
  });

  it("fails a rollback that embeds no earlier evidence", () => {
    const rb = rollback() as { record: Partial<EvidenceRecord>; signature: string };
    delete rb.record.rollbackOf;
    expect(verify(rb)).to.deep.equal([
      "promotion evidence is malformed: evidence.record.rollbackOf is required for rollback evidence",
    ]);
  });

  it("fails a rollback to a never-promoted version", () => {
    const other = signed({ modelVersion: "1.1.0", createdAt: "2025-04-01T07:00:00Z" });
    expect(verify(rollback({ rollbackOf: other }))).to.deep.equal([
      "the earlier promotion evidence in the rollback names version 1.1.0 but the container image runs 1.2.0",
    ]);
  });

  it("fails a rollback whose earlier evidence was tampered with", () => {
    const forged = JSON.parse(JSON.stringify(earlier)) as SignedEvidence;
    forged.record.measured.accuracy = 0.99;
    expect(verify(rollback({ rollbackOf: forged }))).to.deep.equal([
      "the earlier promotion evidence in the rollback carries a signature that does not verify under the configured public key",
    ]);
  });

  it("fails a rollback whose earlier evidence was signed with another key", () => {
    const foreign = signed({ createdAt: "2025-04-01T07:00:00Z" }, otherKeys.privateKeyPem);
    expect(verify(rollback({ rollbackOf: foreign }))).to.deep.equal([
      "the earlier promotion evidence in the rollback carries a signature that does not verify under the configured public key",
    ]);
  });

  it("fails a rollback whose earlier evidence misses today's thresholds", () => {
    const weak = signed({
      createdAt: "2025-04-01T07:00:00Z",
      measured: { ...record().measured, uptime: 0.99 },
    });
    expect(verify(rollback({ rollbackOf: weak }))).to.deep.equal([
      "the earlier promotion evidence in the rollback reports uptime 0.99, below the minimum 0.999 (minUptime)",
    ]);
  });

  it("fails a rollback that embeds rollback evidence instead of promotion evidence", () => {
    expect(verify(rollback({ rollbackOf: rollback({ createdAt: "2025-05-01T00:00:00Z" }) }))).to.deep.equal([
      "rollback evidence must embed promotion evidence in rollbackOf, not rollback evidence",
    ]);
  });

  it("fails a rollback whose earlier evidence postdates it", () => {
    const later = signed({ createdAt: "2025-06-01T11:30:00Z" });
    expect(verify(rollback({ rollbackOf: later }))).to.deep.equal([
      "the earlier promotion evidence in the rollback was created at 2025-06-01T11:30:00Z, after the rollback itself (2025-06-01T11:00:00Z)",
    ]);
  });

  it("fails a stale rollback", () => {
    expect(verify(rollback({ createdAt: "2025-05-20T00:00:00Z" }))).to.deep.equal([
      "rollback evidence was created at 2025-05-20T00:00:00Z, 300.0 hours ago, older than the maximum 72 hours (maxEvidenceAgeHours)",
    ]);
  });

  it("fails a rollback signed with another key even when the earlier evidence is valid", () => {
    expect(verify(rollback({}, otherKeys.privateKeyPem))).to.deep.equal([
      "rollback evidence carries a signature that does not verify under the configured public key",
    ]);
  });

  it("fails a rollback naming another version than the image runs", () => {
    expect(verify(rollback(), { imageVersion: "1.3.0" })).to.deep.equal([
      "rollback evidence names version 1.2.0 but the container image runs 1.3.0",
      "the earlier promotion evidence in the rollback names version 1.2.0 but the container image runs 1.3.0",
    ]);
  });

  it("refuses to sign promotion evidence that carries rollbackOf", () => {
    expect(() => signEvidence(record({ rollbackOf: earlier }), keys.privateKeyPem)).to.throw(
      BadInput,
      "record.rollbackOf belongs to rollback evidence only",
    );
  });
});

describe("parseSignedEvidence", () => {
  const good = JSON.stringify(signed());

  it("parses what signEvidence produced", () => {
    expect(parseSignedEvidence(good).record.modelVersion).to.equal("1.2.0");
  });

  it("names invalid JSON", () => {
    expect(() => parseSignedEvidence("{not json")).to.throw(BadInput, "promotion evidence is not valid JSON");
  });

  it("names a missing signature", () => {
    const obj = JSON.parse(good) as Record<string, unknown>;
    delete obj.signature;
    expect(() => parseSignedEvidence(JSON.stringify(obj))).to.throw(
      BadInput,
      "evidence.signature must be the base64 encoding of a 64-byte Ed25519 signature",
    );
  });

  it("names a measurement that is not a number", () => {
    const obj = JSON.parse(good) as { record: { measured: Record<string, unknown> } };
    obj.record.measured.uptime = "0.9995";
    expect(() => parseSignedEvidence(JSON.stringify(obj))).to.throw(
      BadInput,
      'evidence.record.measured.uptime must be a number (got "0.9995")',
    );
  });

  it("names a timestamp that is not RFC3339", () => {
    const obj = JSON.parse(good) as { record: Record<string, unknown> };
    obj.record.createdAt = "2025-06-01 07:00";
    expect(() => parseSignedEvidence(JSON.stringify(obj))).to.throw(
      BadInput,
      'evidence.record.createdAt must be an RFC3339 timestamp (got "2025-06-01 07:00")',
    );
  });

  it("names a window that ends before it starts", () => {
    const obj = JSON.parse(good) as { record: { window: Record<string, string> } };
    obj.record.window.start = "2025-06-02T00:00:00Z";
    expect(() => parseSignedEvidence(JSON.stringify(obj))).to.throw(
      BadInput,
      "evidence.record.window.start (2025-06-02T00:00:00Z) must not be after evidence.record.window.end",
    );
  });

  it("names an unknown kind", () => {
    const obj = JSON.parse(good) as { record: Record<string, unknown> };
    obj.record.kind = "hotfix";
    expect(() => parseSignedEvidence(JSON.stringify(obj))).to.throw(
      BadInput,
      'evidence.record.kind must be "promotion" or "rollback" (got "hotfix")',
    );
  });

  it("names a staging update version that is not an integer", () => {
    const obj = JSON.parse(good) as { record: { staging: Record<string, unknown> } };
    obj.record.staging.updateVersion = 1.5;
    expect(() => parseSignedEvidence(JSON.stringify(obj))).to.throw(
      BadInput,
      "evidence.record.staging.updateVersion must be a non-negative integer or null",
    );
  });

  it("accepts a staging update version of null", () => {
    const ev = signed({
      staging: { stack: "staging", updateVersion: null, deployedAt: "2025-05-30T06:00:00Z" },
    });
    expect(verify(JSON.stringify(ev))).to.deep.equal([]);
  });
});

describe("privateKeyFromEnv", () => {
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "evidence-key-"));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads a PKCS8 PEM from CHURN_EVIDENCE_PRIVATE_KEY", () => {
    const key = privateKeyFromEnv({ CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem });
    expect(verify(signEvidence(record(), key))).to.deep.equal([]);
  });

  it("accepts a single-line key with \\n escapes", () => {
    const oneLine = keys.privateKeyPem.trim().replace(/\n/g, "\\n");
    const key = privateKeyFromEnv({ CHURN_EVIDENCE_PRIVATE_KEY: oneLine });
    expect(verify(signEvidence(record(), key))).to.deep.equal([]);
  });

  it("reads the key from the file CHURN_EVIDENCE_PRIVATE_KEY_FILE names", () => {
    const file = path.join(dir, "key.pem");
    fs.writeFileSync(file, keys.privateKeyPem, { mode: 0o600 });
    const key = privateKeyFromEnv({ CHURN_EVIDENCE_PRIVATE_KEY_FILE: file });
    expect(verify(signEvidence(record(), key))).to.deep.equal([]);
  });

  it("says which variables to set when neither is", () => {
    expect(() => privateKeyFromEnv({})).to.throw(
      BadInput,
      "no evidence signing key: set CHURN_EVIDENCE_PRIVATE_KEY to an Ed25519 private key in PKCS8 PEM, " +
        "or CHURN_EVIDENCE_PRIVATE_KEY_FILE to a file holding one",
    );
  });

  it("refuses both variables at once", () => {
    expect(() =>
      privateKeyFromEnv({
        CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem,
        CHURN_EVIDENCE_PRIVATE_KEY_FILE: "/x",
      }),
    ).to.throw(
      BadInput,
      "set only one of CHURN_EVIDENCE_PRIVATE_KEY and CHURN_EVIDENCE_PRIVATE_KEY_FILE, not both",
    );
  });

  it("rejects an invalid key without echoing it", () => {
    const secretish = "-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTES\n-----END PRIVATE KEY-----\n";
    let message = "";
    try {
      privateKeyFromEnv({ CHURN_EVIDENCE_PRIVATE_KEY: secretish });
    } catch (err) {
      expect(err).to.be.instanceOf(BadInput);
      message = (err as Error).message;
    }
    expect(message).to.equal("CHURN_EVIDENCE_PRIVATE_KEY is not a private key in PKCS8 PEM");
  });

  it("rejects a private key that is not Ed25519", () => {
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(() => privateKeyFromEnv({ CHURN_EVIDENCE_PRIVATE_KEY: pem })).to.throw(
      BadInput,
      "CHURN_EVIDENCE_PRIVATE_KEY is a ec key; it must be Ed25519",
    );
  });

  it("names an unreadable key file by its path", () => {
    const missing = path.join(dir, "absent.pem");
    expect(() => privateKeyFromEnv({ CHURN_EVIDENCE_PRIVATE_KEY_FILE: missing })).to.throw(
      BadInput,
      `CHURN_EVIDENCE_PRIVATE_KEY_FILE names ${missing}, which cannot be read (ENOENT)`,
    );
  });
});

describe("generateEvidenceKeyPair", () => {
  it("returns an SPKI public key and a PKCS8 private key of one Ed25519 pair", () => {
    const pair = generateEvidenceKeyPair();
    expect(pair.publicKeyPem).to.match(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(pair.privateKeyPem).to.match(/^-----BEGIN PRIVATE KEY-----\n/);
    const ev = signEvidence(record(), pair.privateKeyPem);
    expect(verify(ev, { publicKeyPem: pair.publicKeyPem })).to.deep.equal([]);
    expect(crypto.createPublicKey(pair.publicKeyPem).asymmetricKeyType).to.equal("ed25519");
  });

  it("names the annotation the program and the policy agree on", () => {
    expect(EVIDENCE_ANNOTATION).to.equal("churn-model/promotion-evidence");
  });
});
