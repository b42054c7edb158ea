/**
 * Format 4's target binding (policy/contract/position.ts): evidence names the production stack,
 * namespace and the promotion sequence it follows; production's position voids earlier evidence
 * (replay after a rollback), keeps revocations, and a rollback must return with the promotion
 * that promoted its version here, within maxRollbackEvidenceAgeDays.
 */
import { expect } from "chai";
import {
  evidenceDigest,
  initialPosition,
  nextPosition,
  parsePolicyConfig,
  PromotionPosition,
  SignedEvidence,
  verifyEvidence,
} from "../../policy/contract";
import { EvidenceRecord, generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { rollbackRecord } from "../../scripts/promotion/record";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { recentPromotionRecord } from "../fixtures/recent-promotion";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";

const keys = generateEvidenceKeyPair();
const REGISTRY = "registry.internal.example.com/ml";
const NOW = new Date("2026-03-01T12:00:00Z");
const DAY = 86_400_000;

function promotion(
  version: string,
  target: EvidenceRecord["target"] = TEST_TARGET,
  at = NOW,
): SignedEvidence {
  const record = recentPromotionRecord({
    version,
    registry: REGISTRY,
    thresholds: DESIGN_THRESHOLDS,
    createdAt: at,
  });
  return signEvidence({ ...record, target }, keys.privateKeyPem);
}

function rollback(to: SignedEvidence, target: EvidenceRecord["target"], from?: string): SignedEvidence {
  return signEvidence(rollbackRecord(to, "promotion-runner", NOW, target, from), keys.privateKeyPem);
}

function verify(
  evidence: SignedEvidence,
  position: PromotionPosition,
  opts: { namespace?: string; stack?: string; maxDays?: number } = {},
): string[] {
  return verifyEvidence(evidence, {
    publicKeyPem: keys.publicKeyPem,
    thresholds: DESIGN_THRESHOLDS,
    imageVersion: evidence.record.modelVersion,
    now: NOW,
    position: {
      position,
      stack: opts.stack ?? position.stack,
      namespace: opts.namespace ?? TEST_TARGET.namespace,
      maxRollbackEvidenceAgeDays: opts.maxDays ?? 30,
    },
  });
}

const START = initialPosition(TEST_TARGET.stack);

describe("the target evidence binds (format 4)", function () {
  it("accepts evidence for this stack, namespace and production's last successful update", function () {
    expect(verify(promotion("1.1.0"), START)).to.deep.equal([]);
  });

  it("refuses evidence for another stack, naming target.stack", function () {
    const other = promotion("1.1.0", {
      ...TEST_TARGET,
      stack: "organization/churn-model-sandbox/production-eu",
    });
    expect(verify(other, START)).to.deep.equal([
      "promotion evidence binds target.stack organization/churn-model-sandbox/production-eu, but the stack " +
        "being updated is organization/churn-model-sandbox/unit",
    ]);
  });

  it("refuses evidence for another namespace, naming target.namespace", function () {
    expect(verify(promotion("1.1.0"), START, { namespace: "production-2" })).to.deep.equal([
      "promotion evidence binds target.namespace production, but the workload is deployed to namespace production-2",
    ]);
  });

  it("refuses evidence that follows another update than production's last one, naming target.follows", function () {
    const later = { ...START, sequence: 2 };
    expect(verify(promotion("1.1.0"), later)).to.deep.equal([
      "promotion evidence binds target.follows 0, but production's last successful update is at promotion " +
        "sequence 2: the evidence was made for another moment (every promotion, rollback and revocation since " +
        "voids earlier evidence)",
    ]);
  });

  it("accepts the evidence production already runs again (a repeated update changes nothing)", function () {
    const e = promotion("1.1.0");
    const after = nextPosition(START, e, []);
    expect(after.sequence).to.equal(1);
    expect(verify(e, after)).to.deep.equal([]);
    expect(nextPosition(after, e, [])).to.deep.equal(after);
  });
});

describe("replay after a rollback", function () {
  // 1.1.0 promoted (0 → 1), 1.4.0 promoted (1 → 2), 1.4.0 fails and is rolled back (2 → 3).
  const p110 = promotion("1.1.0");
  const at1 = nextPosition(START, p110, []);
  const p140 = promotion("1.4.0", { ...TEST_TARGET, follows: 1 });
  const at2 = nextPosition(at1, p140, []);
  const back = rollback(p110, { ...TEST_TARGET, follows: 2 }, "1.4.0");
  const at3 = nextPosition(at2, back, []);

  it("records the rollback: the sequence advances and the version rolled back from is revoked", function () {
    expect(verify(back, at2)).to.deep.equal([]);
    expect(at3.sequence).to.equal(3);
    expect(at3.revoked).to.deep.equal([{ version: "1.4.0", sequence: 3 }]);
    expect(at3.promotedBy).to.deep.equal({ "1.1.0": evidenceDigest(p110), "1.4.0": evidenceDigest(p140) });
  });

  it("refuses 1.4.0's old evidence restored from history, naming the moment and the revocation", function () {
    const problems = verify(p140, at3);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.contain(
      "binds target.follows 1, but production's last successful update is at promotion sequence 3",
    );
    expect(problems[1]).to.equal(
      "promotion evidence is for version 1.4.0, which production revoked at promotion sequence 3 " +
        "(revokedVersions): only a fresh promotion through the gate brings it back",
    );
  });

  it("lets a fresh promotion of the revoked version through", function () {
    expect(verify(promotion("1.4.0", { ...TEST_TARGET, follows: 3 }), at3)).to.deep.equal([]);
  });

  it("refuses a rollback to a revoked version returning with its pre-revocation promotion", function () {
    const to140 = rollback(p140, { ...TEST_TARGET, follows: 3 });
    expect(verify(to140, at3)).to.include(
      "rollback evidence is for version 1.4.0, which production revoked at promotion sequence 3 " +
        "(revokedVersions): only a fresh promotion through the gate brings it back",
    );
  });

  it("records an operator's revocation, which voids the version's earlier evidence", function () {
    const revoked = nextPosition(at1, p110, ["1.0.0"]);
    expect(revoked.sequence).to.equal(2);
    expect(revoked.revoked).to.deep.equal([{ version: "1.0.0", sequence: 2 }]);
    // Revoking again adds nothing and moves nothing.
    expect(nextPosition(revoked, p110, ["1.0.0"])).to.deep.equal(revoked);
  });
});

describe("rollback provenance", function () {
  const p110 = promotion("1.1.0");
  const at1 = nextPosition(START, p110, []);

  it("refuses rollback evidence embedding a promotion that is not the one that promoted the version here", function () {
    // Genuinely signed, same version, but never applied to this stack (e.g. made for another target).
    const unrelated = promotion("1.1.0", { ...TEST_TARGET, stack: "organization/other/production" });
    const problems = verify(rollback(unrelated, { ...TEST_TARGET, follows: 1 }), at1);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(
      /^rollback evidence embeds a promotion of 1\.1\.0 \(rollbackOf, sha256:.{12}…\) that is not the one that promoted 1\.1\.0 to organization\/churn-model-sandbox\/unit \(production records sha256:/,
    );
  });

  it("refuses rollback evidence returning to a promotion older than maxRollbackEvidenceAgeDays", function () {
    const old = promotion("1.1.0", TEST_TARGET, new Date(NOW.getTime() - 40 * DAY));
    const at = nextPosition(START, old, []);
    const problems = verify(rollback(old, { ...TEST_TARGET, follows: 1 }), at);
    expect(problems).to.deep.equal([
      `rollback evidence returns to a promotion created at ${old.record.createdAt}, 40.0 days ago, older than ` +
        "the maximum 30 days (maxRollbackEvidenceAgeDays)",
    ]);
    expect(verify(rollback(old, { ...TEST_TARGET, follows: 1 }), at, { maxDays: 45 })).to.deep.equal([]);
  });

  it("refuses a rollback to a version this stack never promoted", function () {
    const never = promotion("0.9.0");
    const problems = verify(rollback(never, { ...TEST_TARGET, follows: 1 }), at1);
    expect(problems[0]).to.contain(
      "that is not the one that promoted 0.9.0 to organization/churn-model-sandbox/unit (production records none)",
    );
  });
});

describe("maxRollbackEvidenceAgeDays in the policy config", function () {
  const section = (extra: Record<string, unknown>) => ({
    "promotion-evidence": { ...DESIGN_THRESHOLDS, ...extra },
  });

  it("defaults to 30 days and takes a positive number of days", function () {
    expect(parsePolicyConfig(section({}), "cfg").maxRollbackEvidenceAgeDays).to.equal(30);
    expect(
      parsePolicyConfig(section({ maxRollbackEvidenceAgeDays: 7 }), "cfg").maxRollbackEvidenceAgeDays,
    ).to.equal(7);
  });

  it("refuses a value that is not a positive number, naming the key", function () {
    for (const bad of [0, -1, "30", null]) {
      expect(() => parsePolicyConfig(section({ maxRollbackEvidenceAgeDays: bad }), "cfg")).to.throw(
        `"promotion-evidence".maxRollbackEvidenceAgeDays must be a finite number > 0 (got ${JSON.stringify(bad)})`,
      );
    }
  });
});

describe("the format 4 record's target", function () {
  it("is required and strict: a record without it, or with a stack that is not fully qualified, is malformed", function () {
    const e = promotion("1.1.0");
    const { target: _t, ...without } = e.record;
    const check = (record: unknown) =>
      verifyEvidence(
        { record, signature: e.signature },
        {
          publicKeyPem: keys.publicKeyPem,
          thresholds: DESIGN_THRESHOLDS,
          imageVersion: "1.1.0",
          now: NOW,
        },
      );
    expect(check(without)).to.deep.equal([
      "promotion evidence is malformed: evidence.record.target must be an object",
    ]);
    expect(check({ ...e.record, target: { ...TEST_TARGET, stack: "production" } })).to.deep.equal([
      'promotion evidence is malformed: evidence.record.target.stack must be a fully qualified stack name <org>/<project>/<stack> (got "production")',
    ]);
    expect(check({ ...e.record, target: { ...TEST_TARGET, follows: -1 } })).to.deep.equal([
      "promotion evidence is malformed: evidence.record.target.follows must be a non-negative integer (got -1)",
    ]);
  });
});
