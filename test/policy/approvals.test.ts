import { expect } from "chai";
import * as crypto from "crypto";
import { Approval, EvidenceRecord } from "../../policy/contract";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import { signEvidence } from "../../scripts/promotion/evidence";
import { deployment, DEPLOYMENT, EVIDENCE_CONFIG, evidenceRecord, hoursAgo, imageOf, KEYS } from "./fixtures";
import { runResourcePolicy } from "./helper";
import { approvalOf, spkiPem, subjectOf } from "../fixtures/approvals";

const SUBJECT = 'Deployment "churn-model"';

const alice = crypto.generateKeyPairSync("ed25519");
const bob = crypto.generateKeyPairSync("ed25519");
const mallory = crypto.generateKeyPairSync("ed25519");

const STRICT = {
  ...EVIDENCE_CONFIG,
  approvers: { alice: spkiPem(alice.publicKey), bob: spkiPem(bob.publicKey) },
  minApprovals: 1,
  signaturesRequired: true,
};

function evidenceWith(approvals: (record: EvidenceRecord) => Approval[], version = "1.2.0"): string {
  const record = evidenceRecord(version);
  return JSON.stringify(signEvidence({ ...record, approvals: approvals(record) }, KEYS.privateKeyPem));
}

function run(evidence: string | null, config: Record<string, unknown> = STRICT) {
  return runResourcePolicy(
    promotionEvidence,
    { type: DEPLOYMENT, props: deployment({ evidence }), name: "production-deployment" },
    config,
  );
}

describe("policy promotion-evidence with signed approvals required", () => {
  it("passes evidence carrying a verifying approval by a listed approver", async () => {
    const outcome = await run(evidenceWith((r) => [approvalOf(r, alice.privateKey)]));
    expect(outcome.violations).to.deep.equal([]);
  });

  it("refuses evidence without approvals: the evidence key alone cannot promote", async () => {
    const outcome = await run(evidenceWith(() => []));
    expect(outcome.violations).to.deep.equal([
      `${SUBJECT}: promotion evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)`,
    ]);
  });

  it("passes the same evidence when the config does not require signatures", async () => {
    const outcome = await run(
      evidenceWith(() => []),
      { ...EVIDENCE_CONFIG },
    );
    expect(outcome.violations).to.deep.equal([]);
  });

  it("refuses a forged approval, one under another approver's name and one by an unlisted key", async () => {
    const outcome = await run(
      evidenceWith((r) => [
        approvalOf(r, mallory.privateKey),
        approvalOf(r, alice.privateKey, "bob"),
        approvalOf(r, mallory.privateKey, "mallory"),
      ]),
    );
    expect(outcome.violations).to.deep.equal([
      `${SUBJECT}: promotion evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)`,
      `${SUBJECT}: promotion evidence: approval 1 (alice) carries a signature that does not verify under alice's key`,
      `${SUBJECT}: promotion evidence: approval 2 (bob) carries a signature that does not verify under bob's key`,
      `${SUBJECT}: promotion evidence: approval 3 (mallory) is by an approver the policy config does not list`,
    ]);
  });

  it("refuses a genuine approval replayed for another decision", async () => {
    const old = evidenceRecord("1.1.0");
    const forOld = approvalOf(old, alice.privateKey);
    const outcome = await run(evidenceWith(() => [forOld]));
    expect(outcome.violations).to.have.length(2);
    expect(outcome.violations[1]).to.include(
      `${SUBJECT}: promotion evidence: approval 1 (alice) approves version 1.1.0, not 1.2.0; ` +
        `approves image ${imageOf("1.1.0")}, not ${imageOf("1.2.0")}`,
    );
  });

  it("refuses a genuine approval of the same version for another target stack or made under other thresholds", async () => {
    const outcome = await run(
      evidenceWith((r) => [
        approvalOf(r, alice.privateKey, "alice", { target: "staging" }),
        approvalOf(
          r,
          alice.privateKey,
          "alice",
          {},
          subjectOf(r, {
            thresholds: { ...r.thresholds, minAccuracy: 0.5 } as unknown as Record<string, number>,
          }),
        ),
      ]),
    );
    const record = evidenceRecord("1.2.0");
    expect(outcome.violations).to.deep.equal([
      `${SUBJECT}: promotion evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)`,
      `${SUBJECT}: promotion evidence: approval 1 (alice) is for stack staging, not production`,
      `${SUBJECT}: promotion evidence: approval 2 (alice) approves a decision made with other thresholds (minAccuracy 0.5, not ${record.thresholds.minAccuracy})`,
    ]);
  });

  it("refuses an approval that expired before the evidence was signed", async () => {
    const outcome = await run(
      evidenceWith((r) => [
        approvalOf(r, alice.privateKey, "alice", { approvedAt: hoursAgo(30), expiresAt: hoursAgo(6) }),
      ]),
    );
    expect(outcome.violations[1]).to.include("approval 1 (alice) expired at");
    expect(outcome.violations[1]).to.include("before the evidence was signed");
  });

  it("needs minApprovals distinct approvers", async () => {
    const two = { ...STRICT, minApprovals: 2 };
    const once = await run(
      evidenceWith((r) => [approvalOf(r, alice.privateKey), approvalOf(r, alice.privateKey)]),
      two,
    );
    expect(once.violations[0]).to.include(
      "carries 1 verifying signed approval from distinct approvers; the policy config requires 2",
    );
    const both = await run(
      evidenceWith((r) => [approvalOf(r, alice.privateKey), approvalOf(r, bob.privateKey, "bob")]),
      two,
    );
    expect(both.violations).to.deep.equal([]);
  });

  it("refuses every promotion when its approval settings are invalid", async () => {
    const outcome = await run(
      evidenceWith((r) => [approvalOf(r, alice.privateKey)]),
      {
        ...STRICT,
        approvers: { alice: "not a key" },
      },
    );
    expect(outcome.violations).to.have.length(1);
    expect(outcome.violations[0]).to.include("no promotion evidence can pass");
    expect(outcome.violations[0]).to.include("approvers.alice must be an Ed25519 public key");
  });

  it("judges rollback evidence by the approvals of the promotion evidence it returns to", async () => {
    const earlier = evidenceRecord("1.2.0", { createdAt: hoursAgo(3), approver: "alice" });
    const approved = signEvidence(
      {
        ...earlier,
        approvals: [approvalOf(earlier, alice.privateKey, "alice", { approvedAt: hoursAgo(4) })],
      },
      KEYS.privateKeyPem,
    );
    const unapproved = signEvidence(earlier, KEYS.privateKeyPem);
    const rollback = (of: typeof approved) =>
      JSON.stringify(
        signEvidence(
          { ...evidenceRecord("1.2.0"), kind: "rollback", rollbackOf: of, createdAt: hoursAgo(1) },
          KEYS.privateKeyPem,
        ),
      );
    expect((await run(rollback(approved))).violations).to.deep.equal([]);
    expect((await run(rollback(unapproved))).violations).to.deep.equal([
      `${SUBJECT}: the earlier promotion evidence in the rollback carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)`,
    ]);
  });
});
