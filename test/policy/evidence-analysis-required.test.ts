/**
 * Promotion evidence must carry its analysis, and one no weaker than the policy config's
 * method: the verifier, the policy pack and the program each refuse a record without one (or a
 * rollback returning to such a record), and a record judged by a weaker method.
 */
import { TEST_TARGET } from "../fixtures/evidence-records";
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_ANALYSIS, NO_ANALYSIS, verifyEvidence } from "../../policy/contract";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import { EvidenceRecord, signEvidence } from "../../scripts/promotion/evidence";
import type { StackConfig } from "../../stacks/config";
import { withHandMadeAnalysis } from "../fixtures/evidence-records";
import { installMocks, recorded } from "../helpers/pulumi-mocks";
import { REPO, source, stackConfigMap } from "../helpers/stack-config";
import {
  deployment,
  DEPLOYMENT,
  EVIDENCE_CONFIG,
  evidenceRecord,
  hoursAgo,
  KEYS,
  rollbackEvidenceFor,
  THRESHOLDS,
} from "./fixtures";
import { runResourcePolicy } from "./helper";
import { trustingPolicyConfig, writePolicyConfig } from "../fixtures/policy-configs";

const SUBJECT = 'Deployment "churn-model"';
const REFUSAL = `promotion evidence ${NO_ANALYSIS}`;

/** `record` without its analysis, as evidence written by hand or by an older tool would be. */
function bare(record: EvidenceRecord): EvidenceRecord {
  const { analysis: _analysis, ...rest } = record;
  return rest;
}

const signed = (record: EvidenceRecord) => JSON.stringify(signEvidence(record, KEYS.privateKeyPem));

/** The same record analysed at a lower confidence than the policy's 0.95. */
function weaker(record: EvidenceRecord): EvidenceRecord {
  return withHandMadeAnalysis(record, { ...DEFAULT_ANALYSIS, confidence: 0.9 });
}
const WEAKER = "promotion evidence: was judged at confidence 0.9, weaker than the policy's 0.95";

/** A rollback to 1.2.0 whose embedded promotion evidence carries no analysis. */
function rollbackToBare(): string {
  const earlier = signEvidence(
    bare(evidenceRecord("1.2.0", { createdAt: hoursAgo(24 * 30) })),
    KEYS.privateKeyPem,
  );
  return signed(
    evidenceRecord("1.2.0", { kind: "rollback", approver: "promotion-runner", rollbackOf: earlier }),
  );
}

describe("promotion evidence without its analysis, or with a weaker one", function () {
  describe("the verifier", function () {
    const verify = (evidence: string) =>
      verifyEvidence(evidence, {
        publicKeyPem: KEYS.publicKeyPem,
        thresholds: THRESHOLDS,
        imageVersion: "1.2.0",
        now: new Date(),
      });

    it("accepts the fixture's evidence with its analysis", function () {
      expect(verify(signed(evidenceRecord("1.2.0")))).to.deep.equal([]);
    });

    it("refuses promotion evidence that carries no analysis", function () {
      expect(verify(signed(bare(evidenceRecord("1.2.0"))))).to.deep.equal([REFUSAL]);
    });

    it("refuses a rollback returning to promotion evidence that carries no analysis", function () {
      expect(verify(rollbackEvidenceFor("1.2.0"))).to.deep.equal([]);
      expect(verify(rollbackToBare())).to.deep.equal([
        `the earlier promotion evidence in the rollback ${NO_ANALYSIS}`,
      ]);
    });

    it("refuses an analysis judged by a weaker method than the policy config's", function () {
      expect(verify(signed(weaker(evidenceRecord("1.2.0"))))).to.deep.equal([WEAKER]);
    });
  });

  describe("the policy pack", function () {
    const run = (evidence: string) =>
      runResourcePolicy(
        promotionEvidence,
        { type: DEPLOYMENT, props: deployment({ evidence }), name: "production-deployment" },
        EVIDENCE_CONFIG,
      );

    it("refuses a production Deployment whose evidence carries no analysis", async function () {
      expect((await run(signed(bare(evidenceRecord("1.2.0"))))).violations).to.deep.equal([
        `${SUBJECT}: ${REFUSAL}`,
      ]);
    });

    it("refuses evidence whose analysis names a lower confidence than its config", async function () {
      expect((await run(signed(evidenceRecord("1.2.0")))).violations).to.deep.equal([]);
      expect((await run(signed(weaker(evidenceRecord("1.2.0"))))).violations).to.deep.equal([
        `${SUBJECT}: ${WEAKER}`,
      ]);
    });
  });

  describe("the program", function () {
    let program: typeof import("../../stacks/program");
    let config: typeof import("../../stacks/config");
    let policyFile: string;

    before(async function () {
      policyFile = writePolicyConfig(
        path.join(fs.mkdtempSync(path.join(os.tmpdir(), "churn-no-analysis-")), "production.json"),
        trustingPolicyConfig(KEYS.publicKeyPem),
      );
      installMocks();
      program = await import("../../stacks/program");
      config = await import("../../stacks/config");
    });

    after(function () {
      fs.rmSync(path.dirname(policyFile), { recursive: true, force: true });
    });

    function production(record: (version: string) => EvidenceRecord): StackConfig {
      const map = stackConfigMap("production");
      const version = map.get("modelVersion")!;
      map.set("evidencePublicKey", KEYS.publicKeyPem);
      map.set("thresholdsFile", policyFile);
      map.set("promotionEvidence", signed(record(version)));
      return config.readStackConfig(source(map), REPO);
    }

    async function refusal(cfg: StackConfig): Promise<string | undefined> {
      recorded.length = 0;
      try {
        await program.program(cfg);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    }

    // Bound to the stack the mocks run the program as.
    const image = (v: string) => ({
      image: `registry.internal.example.com/ml/churn-model:${v}`,
      target: TEST_TARGET,
    });

    it("declares production with evidence that carries its analysis", async function () {
      expect(await refusal(production((v) => evidenceRecord(v, image(v))))).to.equal(undefined);
    });

    it("refuses evidence that carries no analysis, declaring nothing", async function () {
      const message = await refusal(production((v) => bare(evidenceRecord(v, image(v)))));
      expect(message).to.match(/the promotion evidence is not valid/);
      expect(message).to.contain(REFUSAL);
      expect(recorded).to.have.length(0);
    });

    it("refuses evidence whose analysis names a weaker method, declaring nothing", async function () {
      const message = await refusal(production((v) => weaker(evidenceRecord(v, image(v)))));
      expect(message).to.contain(WEAKER);
      expect(recorded).to.have.length(0);
    });
  });
});
