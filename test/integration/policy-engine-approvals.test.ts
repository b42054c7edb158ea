/**
 * Signed approvals in the real engine: `pulumi preview` of the production stack with the pack
 * under production.json made to require one signed approval (the test evidence key, approver
 * alice's key). Evidence the evidence key signed with alice's approval passes the program and
 * the pack; the same evidence without it, or with an approval forged under alice's name, is
 * refused by the pack on a program that skips its own check — the evidence key alone cannot
 * promote — and by the program itself.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Approval } from "../../policy/contract";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { loadThresholds } from "../../scripts/promotion/thresholds";
import { committedStackConfig } from "../../scripts/sandbox/project";
import { REPO_ROOT } from "../../scripts/toolchain/env";
import { approvalOf, spkiPem } from "../fixtures/approvals";
import { handMadePromotionRecord, SANDBOX_PRODUCTION_TARGET } from "../fixtures/evidence-records";
import { expectPackRefusal, expectPass, PreviewRig, Program, violation } from "../helpers/policy-preview";
import { expect } from "chai";

const POLICY_DIR = path.join(REPO_ROOT, "policy");
const PRODUCTION_CONFIG = path.join(POLICY_DIR, "config", "production.json");
const PRODUCTION = committedStackConfig("production");
const VERSION = PRODUCTION["churn-model:modelVersion"] as string;
const REGISTRY = PRODUCTION["churn-model:registry"] as string;
const ON = 'Deployment "churn-model": ';

describe("the policy pack in a real preview, signed approvals required (production.json, one of alice)", function () {
  this.timeout(600_000);
  const keys = generateEvidenceKeyPair();
  const alice = crypto.generateKeyPairSync("ed25519");
  const mallory = crypto.generateKeyPairSync("ed25519");
  let tmp: string;
  let rig: PreviewRig;
  let packConfig: string;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-pack-approvals-"));
    const file = JSON.parse(fs.readFileSync(PRODUCTION_CONFIG, "utf8")) as Record<
      string,
      Record<string, unknown>
    >;
    file["promotion-evidence"] = {
      ...file["promotion-evidence"],
      publicKey: keys.publicKeyPem,
      approvers: { alice: spkiPem(alice.publicKey) },
      minApprovals: 1,
      signaturesRequired: true,
    };
    file["image-pinning"].allowedRegistries = [REGISTRY];
    packConfig = path.join(tmp, "production-pack.json");
    fs.writeFileSync(packConfig, JSON.stringify(file, null, 2));
    rig = await PreviewRig.create(tmp);
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Evidence signed with the evidence key, carrying what `approvals` makes of its record. */
  function evidence(approvals: (record: ReturnType<typeof handMadePromotionRecord>) => Approval[]): string {
    const record = handMadePromotionRecord({
      target: SANDBOX_PRODUCTION_TARGET,
      version: VERSION,
      thresholds: loadThresholds(PRODUCTION_CONFIG),
      hours: 30,
      requests: 50_000,
      approver: "alice",
    });
    const image = `${REGISTRY}/churn-model:${VERSION}`;
    const withImage = { ...record, image };
    return JSON.stringify(
      signEvidence({ ...withImage, approvals: approvals(withImage) }, keys.privateKeyPem),
    );
  }

  const preview = (promotionEvidence: string, program: Program) =>
    rig.preview(
      rig.project(
        "production",
        { thresholdsFile: packConfig, evidencePublicKey: keys.publicKeyPem, promotionEvidence },
        program,
      ),
      "production",
      { dir: POLICY_DIR, config: packConfig },
    );

  it("passes evidence carrying alice's signed approval of its decision (program and pack)", async function () {
    const outcome = await preview(
      evidence((r) => [approvalOf(r, alice.privateKey)]),
      "stacks",
    );
    console.log(`      preview of production with an approved promotion: ${outcome.seconds.toFixed(1)} s`);
    expectPass(outcome);
  });

  it("refuses evidence the evidence key signed without any approval", async function () {
    expectPackRefusal(
      await preview(
        evidence(() => []),
        "bypass",
      ),
      [
        violation(
          "promotion-evidence",
          `${ON}promotion evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)`,
        ),
      ],
    );
  });

  it("refuses an approval forged under alice's name, and the program refuses it too", async function () {
    const forged = evidence((r) => [approvalOf(r, mallory.privateKey)]);
    const expected = [
      `${ON}promotion evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)`,
      `${ON}promotion evidence: approval 1 (alice) carries a signature that does not verify under alice's key`,
    ];
    expectPackRefusal(
      await preview(forged, "bypass"),
      expected.map((m) => violation("promotion-evidence", m)),
    );
    const byProgram = await preview(forged, "stacks");
    expect(byProgram.passed, byProgram.output).to.equal(false);
    expect(byProgram.errors.join("\n")).to.contain(
      "approval 1 (alice) carries a signature that does not verify",
    );
  });
});
