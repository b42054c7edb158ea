/**
 * The program and production's position (stacks/position.ts): it reads the position its own
 * stack's last successful update recorded (a StackReference, mocked here), refuses evidence that
 * does not follow it, writes it on the Deployment for the pack and records the next one.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  evidenceDigest,
  initialPosition,
  nextPosition,
  POSITION_ANNOTATION,
  POSITION_OUTPUT,
  PromotionPosition,
  SignedEvidence,
} from "../../policy/contract";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import type { StackConfig } from "../../stacks/config";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { trustingPolicyConfig, writePolicyConfig } from "../fixtures/policy-configs";
import { recentPromotionRecord } from "../fixtures/recent-promotion";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import { installMocks, one, recorded, settle, stackOutputs } from "../helpers/pulumi-mocks";
import { REPO, source, stackConfigMap } from "../helpers/stack-config";

type ProgramModule = typeof import("../../stacks/program");
type ConfigModule = typeof import("../../stacks/config");

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const keys = generateEvidenceKeyPair();

describe("the program and production's position", function () {
  let program: ProgramModule;
  let config: ConfigModule;
  let tmp: string;
  let policyFile: string;

  before(async function () {
    installMocks();
    program = await import("../../stacks/program");
    config = await import("../../stacks/config");
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-position-"));
    policyFile = writePolicyConfig(
      path.join(tmp, "production.json"),
      trustingPolicyConfig(keys.publicKeyPem),
    );
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(function () {
    recorded.length = 0;
    delete stackOutputs[TEST_TARGET.stack];
  });

  function evidence(follows: number, version = "1.0.0"): SignedEvidence {
    const record = recentPromotionRecord({
      version,
      registry: "registry.internal.example.com/ml",
      thresholds: DESIGN_THRESHOLDS,
      target: { ...TEST_TARGET, follows },
    });
    return signEvidence(record, keys.privateKeyPem);
  }

  function production(e: SignedEvidence, extra: Record<string, string> = {}): StackConfig {
    const map = stackConfigMap("production");
    map.set("evidencePublicKey", keys.publicKeyPem);
    map.set("thresholdsFile", policyFile);
    map.set("modelVersion", e.record.modelVersion);
    map.set("promotionEvidence", JSON.stringify(e));
    for (const [k, v] of Object.entries(extra)) map.set(k, v);
    return config.readStackConfig(source(map), REPO);
  }

  function recordedPosition(position: unknown): void {
    stackOutputs[TEST_TARGET.stack] = { [POSITION_OUTPUT]: position };
  }

  async function refusal(cfg: StackConfig): Promise<string | undefined> {
    try {
      await program.program(cfg);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  it("deploys evidence following production's last update, and records the next position", async function () {
    const before: PromotionPosition = { ...initialPosition(TEST_TARGET.stack), sequence: 2 };
    recordedPosition(before);
    const e = evidence(2);
    const outputs = await settle(await program.program(production(e)));
    expect(outputs[POSITION_OUTPUT]).to.deep.equal(nextPosition(before, e, []));
    expect((outputs[POSITION_OUTPUT] as PromotionPosition).sequence).to.equal(3);
    expect((outputs[POSITION_OUTPUT] as PromotionPosition).promotedBy).to.deep.equal({
      "1.0.0": evidenceDigest(e),
    });
    // The pack compares the evidence with the position the program read.
    expect(JSON.parse(one(DEPLOYMENT).inputs.metadata.annotations[POSITION_ANNOTATION])).to.deep.equal(
      before,
    );
  });

  it("refuses evidence made before production's last update (a replay), declaring nothing", async function () {
    recordedPosition({ ...initialPosition(TEST_TARGET.stack), sequence: 3 });
    const message = await refusal(production(evidence(1)));
    expect(message).to.contain("production refuses model version 1.0.0: the promotion evidence is not valid");
    expect(message).to.contain(
      "promotion evidence binds target.follows 1, but production's last successful update is at promotion sequence 3",
    );
    expect(recorded).to.have.length(0);
  });

  it("starts from sequence 0 on a stack that has recorded no position", async function () {
    const outputs = await settle(await program.program(production(evidence(0))));
    expect((outputs[POSITION_OUTPUT] as PromotionPosition).sequence).to.equal(1);
  });

  it("refuses a position output it cannot read, naming it", async function () {
    recordedPosition({ stack: TEST_TARGET.stack, sequence: "2" });
    expect(await refusal(production(evidence(0)))).to.match(
      /^production refuses model version 1\.0\.0: the output promotionPosition of organization\/churn-model-sandbox\/unit/,
    );
  });

  it("records an operator's revocation in the position, which keeps it when the config key is edited", async function () {
    const e = evidence(0);
    const first = await settle(await program.program(production(e, { revokeVersions: '["0.9.0"]' })));
    const revoked = first[POSITION_OUTPUT] as PromotionPosition;
    expect(revoked.revoked).to.deep.equal([{ version: "0.9.0", sequence: 1 }]);
    recordedPosition(revoked);
    recorded.length = 0;
    // The key removed again: the position still revokes 0.9.0.
    const again = await settle(await program.program(production(e)));
    expect((again[POSITION_OUTPUT] as PromotionPosition).revoked).to.deep.equal([
      { version: "0.9.0", sequence: 1 },
    ]);
  });

  it("refuses to revoke the version the update deploys", async function () {
    expect(await refusal(production(evidence(0), { revokeVersions: '["1.0.0"]' }))).to.equal(
      "production refuses model version 1.0.0: churn-model:revokeVersions revokes it; roll back or promote " +
        "another version before revoking the one production runs",
    );
  });

  it("refuses a churn-model:revokeVersions that is not a list of versions, naming the key", function () {
    expect(() => production(evidence(0), { revokeVersions: '["not a version"]' })).to.throw(
      'churn-model:revokeVersions must be a JSON list of model versions (got "[\\"not a version\\"]")',
    );
  });
});
