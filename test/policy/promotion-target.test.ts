/**
 * The pack compares the evidence's target (format 4) with what it sees: the URN's project and
 * stack, the workload's namespace, and production's position the program wrote on it
 * (POSITION_ANNOTATION). Each refusal names the binding that failed.
 */
import { expect } from "chai";
import { evidenceDigest, initialPosition, nextPosition, POSITION_ANNOTATION } from "../../policy/contract";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import { signEvidence, SignedEvidence } from "../../scripts/promotion/evidence";
import { rollbackRecord } from "../../scripts/promotion/record";
import {
  deployment,
  DEPLOYMENT,
  EVIDENCE_CONFIG,
  evidenceRecord,
  hoursAgo,
  KEYS,
  PRODUCTION_STACK,
  TARGET,
} from "./fixtures";
import { runResourcePolicy } from "./helper";

const SUBJECT = 'Deployment "churn-model"';

function signed(version: string, overrides: Parameters<typeof evidenceRecord>[1] = {}): SignedEvidence {
  return signEvidence(evidenceRecord(version, overrides), KEYS.privateKeyPem);
}

async function violations(
  props: Record<string, unknown>,
  fixture: { project?: string; stack?: string } = {},
) {
  return (
    await runResourcePolicy(promotionEvidence, { type: DEPLOYMENT, props, ...fixture }, EVIDENCE_CONFIG)
  ).violations;
}

describe("policy promotion-evidence: the target and the moment", function () {
  const p120 = signed("1.2.0");

  it("passes evidence for this stack, namespace and production's last successful update", async function () {
    expect(await violations(deployment({ evidence: JSON.stringify(p120) }))).to.deep.equal([]);
  });

  it("refuses evidence made for another stack (the URN's), naming target.stack", async function () {
    expect(
      await violations(deployment({ evidence: JSON.stringify(p120) }), { stack: "production-eu" }),
    ).to.deep.equal([
      `${SUBJECT}: promotion evidence binds target.stack ${PRODUCTION_STACK}, but the stack being updated is ` +
        "<org>/churn-model-cd/production-eu",
    ]);
  });

  it("refuses evidence made for another namespace, naming target.namespace", async function () {
    const other = signed("1.2.0", { target: { ...TARGET, namespace: "production-shadow" } });
    expect(await violations(deployment({ evidence: JSON.stringify(other) }))).to.deep.equal([
      `${SUBJECT}: promotion evidence binds target.namespace production-shadow, but the workload is deployed ` +
        "to namespace production",
    ]);
  });

  it("refuses evidence that does not follow production's last successful update, naming target.follows", async function () {
    const position = { ...initialPosition(PRODUCTION_STACK), sequence: 4 };
    expect(await violations(deployment({ evidence: JSON.stringify(p120), position }))).to.deep.equal([
      `${SUBJECT}: promotion evidence binds target.follows 0, but production's last successful update is at ` +
        "promotion sequence 4: the evidence was made for another moment (every promotion, rollback and " +
        "revocation since voids earlier evidence)",
    ]);
  });

  it("refuses a production workload without production's position, naming the annotation", async function () {
    expect(await violations(deployment({ evidence: JSON.stringify(p120), position: null }))).to.deep.equal([
      `${SUBJECT} runs in production without production's position: the annotation ${POSITION_ANNOTATION} ` +
        "must hold the promotion sequence the program read from the stack's last successful update " +
        "(target.follows cannot be checked without it)",
    ]);
  });

  it("refuses a version production revoked, when its evidence predates the revocation", async function () {
    const position = {
      ...initialPosition(PRODUCTION_STACK),
      sequence: 3,
      current: evidenceDigest(p120),
      revoked: [{ version: "1.2.0", sequence: 3 }],
    };
    // Even the evidence production ran last: a revocation voids it.
    expect(await violations(deployment({ evidence: JSON.stringify(p120), position }))).to.deep.equal([
      `${SUBJECT}: promotion evidence is for version 1.2.0, which production revoked at promotion sequence 3 ` +
        "(revokedVersions): only a fresh promotion through the gate brings it back",
    ]);
    const fresh = signed("1.2.0", { target: { ...TARGET, follows: 3 } });
    expect(await violations(deployment({ evidence: JSON.stringify(fresh), position }))).to.deep.equal([]);
  });

  describe("rollback provenance", function () {
    const earlier = signed("1.1.0", { createdAt: hoursAgo(24 * 5) });
    const promoted = nextPosition(initialPosition(PRODUCTION_STACK), earlier, []);
    const rollbackTo = (embedded: SignedEvidence) =>
      JSON.stringify(
        signEvidence(
          {
            ...rollbackRecord(embedded, "promotion-runner", new Date(), { ...TARGET, follows: 1 }),
            createdAt: hoursAgo(1),
          },
          KEYS.privateKeyPem,
        ),
      );

    it("passes a rollback to the promotion that promoted the version here", async function () {
      expect(
        await violations(deployment({ version: "1.1.0", evidence: rollbackTo(earlier), position: promoted })),
      ).to.deep.equal([]);
    });

    it("refuses a rollback laundering another genuinely signed promotion of the version, naming rollbackOf", async function () {
      const unrelated = signed("1.1.0", { createdAt: hoursAgo(24 * 6), target: { ...TARGET, follows: 9 } });
      const found = await violations(
        deployment({ version: "1.1.0", evidence: rollbackTo(unrelated), position: promoted }),
      );
      expect(found).to.have.length(1);
      expect(found[0]).to.contain(`${SUBJECT}: rollback evidence embeds a promotion of 1.1.0 (rollbackOf, `);
      expect(found[0]).to.contain(`that is not the one that promoted 1.1.0 to ${PRODUCTION_STACK}`);
    });

    it("refuses a rollback to a promotion older than maxRollbackEvidenceAgeDays", async function () {
      const old = signed("1.1.0", { createdAt: hoursAgo(24 * 365) });
      const position = nextPosition(initialPosition(PRODUCTION_STACK), old, []);
      const found = await violations(deployment({ version: "1.1.0", evidence: rollbackTo(old), position }));
      expect(found).to.have.length(1);
      expect(found[0]).to.match(
        /rollback evidence returns to a promotion created at .*, 365\.0 days ago, older than the maximum 30 days \(maxRollbackEvidenceAgeDays\)$/,
      );
    });
  });
});
