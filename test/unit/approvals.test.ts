import { expect } from "chai";
import * as crypto from "crypto";
import {
  Approval,
  DEFAULT_THRESHOLDS,
  ApprovalPolicy,
  approvalProblems,
  ApprovalStatement,
  ApprovedRecord,
  ContractError,
  DecisionSubject,
  decisionDigest,
  outcomeChanges,
  parsePolicyConfig,
  signApproval,
  validateApproval,
} from "../../policy/contract";

function subject(over: Partial<DecisionSubject> = {}): DecisionSubject {
  return {
    modelVersion: "1.1.0",
    image: "registry.local/churn-model:1.1.0",
    staging: { stack: "staging", deployedAt: "2025-03-01T06:00:00.000Z" },
    window: { start: "2025-03-01T12:00:00.000Z", end: "2025-03-02T12:00:00.000Z" },
    outcome: "promote",
    checks: [
      { name: "accuracy", value: 0.91, status: "pass", mode: "enforce" },
      { name: "latency_p99", value: 180, status: "pass", mode: "enforce" },
      { name: "samples", value: 172800, status: "pass", mode: "enforce" },
    ],
    thresholds: { ...DEFAULT_THRESHOLDS } as unknown as Record<string, number>,
    ...over,
  };
}

function statement(s: DecisionSubject, over: Partial<ApprovalStatement> = {}): ApprovalStatement {
  return {
    format: 1,
    target: "production",
    decisionDigest: decisionDigest(s),
    decision: s,
    approver: "alice",
    approvedAt: "2025-03-02T11:00:00.000Z",
    expiresAt: "2025-03-03T11:00:00.000Z",
    ...over,
  };
}

function keyPair(): { priv: crypto.KeyObject; pub: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
  return { priv: privateKey, pub: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

const RECORD: ApprovedRecord = {
  modelVersion: "1.1.0",
  image: "registry.local/churn-model:1.1.0",
  staging: { stack: "staging", deployedAt: "2025-03-01T06:00:00Z" },
  createdAt: "2025-03-02T12:00:00.000Z",
};

describe("decision digests", function () {
  it("name the decision whatever the key order, and change with any number, outcome or threshold", function () {
    const d = decisionDigest(subject());
    expect(d).to.match(/^sha256:[0-9a-f]{64}$/);
    const reordered = JSON.parse(JSON.stringify(subject(), Object.keys(subject()).reverse()));
    expect(decisionDigest({ ...reordered, ...subject() })).to.equal(d);
    const changes: Partial<DecisionSubject>[] = [
      { modelVersion: "1.1.1" },
      { image: "registry.local/churn-model:1.1.1" },
      { window: { start: "2025-03-01T12:00:00.000Z", end: "2025-03-02T12:00:01.000Z" } },
      {
        checks: [
          { name: "accuracy", value: 0.9100001, status: "pass", mode: "enforce" },
          ...subject().checks.slice(1),
        ],
      },
      {
        checks: [
          { name: "accuracy", value: 0.91, status: "fail", mode: "enforce" },
          ...subject().checks.slice(1),
        ],
      },
      { thresholds: { ...subject().thresholds, minAccuracy: 0.8 } },
      { staging: { stack: "staging", deployedAt: "2025-03-01T07:00:00.000Z" } },
    ];
    for (const c of changes) expect(decisionDigest(subject(c)), JSON.stringify(c)).to.not.equal(d);
  });

  it("is stable: the SHA-256 of the RFC 8785 bytes, as Python's json with sorted keys gives it here", function () {
    // python3: hashlib.sha256(json.dumps(subject, sort_keys=True, separators=(",", ":")).encode())
    expect(decisionDigest(JSON.parse(JSON.stringify(subject())))).to.equal(
      "sha256:9ffb15ee13f2c4c83ca391a488baa69d5f0dc8781a7cda7a74d937be06ea89aa",
    );
  });
});

describe("approval records", function () {
  it("validate when the digest is their decision's", function () {
    const a: Approval = { statement: statement(subject()), signature: null };
    expect(validateApproval(JSON.parse(JSON.stringify(a)), "approval")).to.deep.equal(a);
  });

  it("refuse numbers changed after the digest was taken, another format, unknown fields and a bad expiry", function () {
    const s = statement(subject());
    const cases: [unknown, string][] = [
      [
        {
          statement: {
            ...s,
            decision: subject({
              checks: [{ name: "accuracy", value: 0.5, status: "pass", mode: "enforce" }],
            }),
          },
          signature: null,
        },
        "decisionDigest is not the digest of its decision",
      ],
      [{ statement: { ...s, format: 2 }, signature: null }, "format must be 1"],
      [{ statement: s, signature: null, note: "x" }, "has unknown field note"],
      [
        { statement: { ...s, expiresAt: s.approvedAt }, signature: null },
        "expiresAt must be after its approvedAt",
      ],
      [
        { statement: s, signature: "abc" },
        "signature must be null or the base64 of a 64-byte Ed25519 signature",
      ],
      [{ statement: { ...s, approver: "jane doe" }, signature: null }, "is not an approver ID"],
    ];
    for (const [value, message] of cases) {
      expect(() => validateApproval(value, "approval"), message).to.throw(ContractError, message);
    }
  });
});

describe("outcome changes between the approved decision and the one just before the update", function () {
  it("are none when only values moved", function () {
    const later = subject({
      window: { start: "2025-03-01T13:00:00.000Z", end: "2025-03-02T13:00:00.000Z" },
      checks: subject().checks.map((c) => ({ ...c, value: c.value === null ? null : c.value * 1.01 })),
    });
    expect(outcomeChanges(subject(), later)).to.deep.equal([]);
  });

  it("name a check that now fails, another version, image, staging deployment and thresholds", function () {
    const worse = subject({
      outcome: "reject",
      checks: [
        { name: "accuracy", value: 0.5, status: "fail", mode: "enforce" },
        ...subject().checks.slice(1),
      ],
    });
    expect(outcomeChanges(subject(), worse)).to.deep.equal([
      "the gate now decides reject, the approval is for promote",
      "check accuracy is now fail at 0.5; the approval is for pass at 0.91",
    ]);
    const other = subject({
      modelVersion: "1.2.0",
      image: "registry.local/churn-model:1.2.0",
      staging: { stack: "staging", deployedAt: "2025-03-01T08:00:00.000Z" },
      thresholds: { ...subject().thresholds, minAccuracy: 0.5 },
      checks: subject().checks.slice(0, 2),
    });
    expect(outcomeChanges(subject(), other)).to.deep.equal([
      "the version is 1.2.0, the approval is for 1.1.0",
      "the image is registry.local/churn-model:1.2.0, the approval is for registry.local/churn-model:1.1.0",
      "staging's deployment is staging at 2025-03-01T08:00:00.000Z, the approval is for staging at 2025-03-01T06:00:00.000Z",
      "threshold minAccuracy is 0.5, the approval is for 0.85",
      "check samples of the approved decision is gone",
    ]);
  });
});

describe("signed approvals and the quorum", function () {
  const alice = keyPair();
  const bob = keyPair();
  const mallory = keyPair();
  const policy = (over: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({
    approvers: { alice: alice.pub, bob: bob.pub },
    minApprovals: 1,
    signaturesRequired: true,
    ...over,
  });
  const signed = (by: { priv: crypto.KeyObject }, over: Partial<ApprovalStatement> = {}, s = subject()) =>
    signApproval(statement(s, over), by.priv);

  it("counts an approval signed by a listed approver for this decision", function () {
    expect(approvalProblems([signed(alice)], RECORD, policy(), { target: "production" })).to.deep.equal([]);
  });

  it("checks nothing when signatures are not required", function () {
    expect(
      approvalProblems([{ junk: true }], RECORD, policy({ signaturesRequired: false }), {
        target: "production",
      }),
    ).to.deep.equal([]);
    expect(
      approvalProblems(undefined, RECORD, policy({ signaturesRequired: false }), { target: "production" }),
    ).to.deep.equal([]);
  });

  it("refuses no approvals, an unsigned one, a forged one, one by an unlisted approver and a tampered one", function () {
    expect(approvalProblems(undefined, RECORD, policy(), { target: "production" })).to.deep.equal([
      "the evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)",
    ]);
    const unsigned: Approval = { statement: statement(subject()), signature: null };
    const forged = signed(mallory); // claims to be alice
    const stranger = signed(mallory, { approver: "mallory" });
    const original = signed(alice);
    const better = subject({
      checks: [
        { name: "accuracy", value: 0.99, status: "pass", mode: "enforce" },
        ...subject().checks.slice(1),
      ],
    });
    const tampered: Approval = {
      statement: { ...original.statement, decision: better, decisionDigest: decisionDigest(better) },
      signature: original.signature,
    };
    const problems = approvalProblems([unsigned, forged, stranger, tampered], RECORD, policy(), {
      target: "production",
    });
    expect(problems).to.deep.equal([
      "the evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)",
      "the evidence: approval 1 (alice) is not signed",
      "the evidence: approval 2 (alice) carries a signature that does not verify under alice's key",
      "the evidence: approval 3 (mallory) is by an approver the policy config does not list",
      "the evidence: approval 4 (alice) carries a signature that does not verify under alice's key",
    ]);
  });

  it("refuses a good approval replayed for another decision, another target or after it expired", function () {
    const forOld = signed(
      alice,
      {},
      subject({ modelVersion: "1.0.0", image: "registry.local/churn-model:1.0.0" }),
    );
    const forStaging = signed(alice, { target: "staging" });
    const expired = signed(alice, { expiresAt: "2025-03-02T11:30:00.000Z" });
    const rejected = signed(
      alice,
      {},
      subject({
        outcome: "reject",
        checks: [{ name: "accuracy", value: 0.5, status: "fail", mode: "enforce" }],
      }),
    );
    const redeployed = { ...RECORD, staging: { stack: "staging", deployedAt: "2025-03-01T09:00:00Z" } };
    expect(approvalProblems([forOld], RECORD, policy(), { target: "production" })[1]).to.equal(
      "the evidence: approval 1 (alice) approves version 1.0.0, not 1.1.0; approves image registry.local/churn-model:1.0.0, not registry.local/churn-model:1.1.0",
    );
    expect(approvalProblems([forStaging], RECORD, policy(), { target: "production" })[1]).to.include(
      "is for stack staging, not production",
    );
    expect(approvalProblems([expired], RECORD, policy(), { target: "production" })[1]).to.include(
      "expired at 2025-03-02T11:30:00.000Z, before the evidence was signed",
    );
    expect(approvalProblems([rejected], RECORD, policy(), { target: "production" })[1]).to.include(
      "approves a decision that did not pass the gate",
    );
    expect(approvalProblems([signed(alice)], redeployed, policy(), { target: "production" })[1]).to.include(
      "approves the staging deployment of 2025-03-01T06:00:00.000Z, not that of 2025-03-01T09:00:00Z",
    );
  });

  it("refuses an approval of the same version made under other thresholds than the verifier's", function () {
    const lax = subject({ thresholds: { ...subject().thresholds, minAccuracy: 0.5 } });
    const ctx = { target: "production", thresholds: DEFAULT_THRESHOLDS };
    expect(approvalProblems([signed(alice, {}, lax)], RECORD, policy(), ctx)[1]).to.equal(
      "the evidence: approval 1 (alice) approves a decision made with other thresholds (minAccuracy 0.5, not 0.85)",
    );
    expect(approvalProblems([signed(alice)], RECORD, policy(), ctx)).to.deep.equal([]);
  });

  it("counts a decision whose only non-pass is a dry-run check, never one with an enforced non-pass", function () {
    const dry = subject({
      checks: [...subject().checks, { name: "uptime", value: 0.5, status: "fail", mode: "dryRun" }],
    });
    expect(
      approvalProblems([signed(alice, {}, dry)], RECORD, policy(), { target: "production" }),
    ).to.deep.equal([]);
    const doubt = subject({
      checks: [...subject().checks, { name: "uptime", value: null, status: "inconclusive", mode: "enforce" }],
    });
    expect(
      approvalProblems([signed(alice, {}, doubt)], RECORD, policy(), { target: "production" })[1],
    ).to.include("approves a decision that did not pass the gate");
  });

  it("needs minApprovals distinct approvers: one approver twice is one", function () {
    const p = policy({ minApprovals: 2 });
    expect(approvalProblems([signed(alice), signed(alice)], RECORD, p, { target: "production" })[0]).to.equal(
      "the evidence carries 1 verifying signed approval from distinct approvers; the policy config requires 2 (minApprovals)",
    );
    expect(
      approvalProblems([signed(alice), signed(bob, { approver: "bob" })], RECORD, p, {
        target: "production",
      }),
    ).to.deep.equal([]);
  });
});

describe("the approval settings of a policy config", function () {
  const alice = keyPair();
  const config = (over: Record<string, unknown>) =>
    parsePolicyConfig({ "promotion-evidence": { ...DEFAULT_THRESHOLDS, ...over } }, "policy config x.json");

  it("default to no approvers, one approval, signatures not required", function () {
    expect(config({}).approvals).to.deep.equal({ approvers: {}, minApprovals: 1, signaturesRequired: false });
  });

  it("name every wrong key", function () {
    expect(() =>
      config({
        approvers: { alice: "not a key", "bad id": alice.pub },
        minApprovals: 0,
        signaturesRequired: "yes",
      }),
    ).to.throw(
      ContractError,
      'policy config x.json: "promotion-evidence".approvers.alice must be an Ed25519 public key in SPKI PEM (-----BEGIN PUBLIC KEY-----); ' +
        '"promotion-evidence".approvers: "bad id" is not an approver ID; "promotion-evidence".minApprovals must be a whole number from 1 to 100 (got 0); ' +
        '"promotion-evidence".signaturesRequired must be true or false (got "yes")',
    );
  });

  it("refuse requiring more approvals than there are approvers", function () {
    expect(() =>
      config({ approvers: { alice: alice.pub }, minApprovals: 2, signaturesRequired: true }),
    ).to.throw(
      ContractError,
      "signaturesRequired needs at least minApprovals (2) approvers with keys; approvers lists 1",
    );
  });
});
