/**
 * The pack against what the churn-model program actually declares (Pulumi mocks): the stacks
 * as configured pass every policy under their own policy config, and production without valid
 * evidence does not.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as os from "os";
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { policies } from "../../policy/pack";
import { signEvidence } from "../../scripts/promotion/evidence";
import type { StackConfig } from "../../stacks/config";
import { installMocks, recorded, settle } from "../helpers/pulumi-mocks";
import { REPO, source, stackConfigMap } from "../helpers/stack-config";
import { evidenceRecord, KEYS } from "./fixtures";
import { runResourcePolicy, runStackPolicy } from "./helper";
import { PolicyConfigFile, trustingPolicyConfig, writePolicyConfig } from "../fixtures/policy-configs";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { SANDBOX_PROJECT } from "../../policy/contract";

/** The project and stack the mocks run the program as (test/helpers/pulumi-mocks.ts). */
const MOCKED = { project: SANDBOX_PROJECT, stack: "unit" };

type ProgramModule = typeof import("../../stacks/program");
type ConfigModule = typeof import("../../stacks/config");

interface Finding {
  policy: string;
  message: string;
}

function policyConfig(file: string): PolicyConfigFile {
  return trustingPolicyConfig(KEYS.publicKeyPem, {}, file);
}

/** Every violation and preview note of the pack over the recorded resources. */
async function findings(file: string): Promise<Finding[]> {
  const config = policyConfig(file);
  const found: Finding[] = [];
  const stack = recorded.map((r) => ({
    type: r.type,
    name: r.name,
    props: { ...r.inputs, id: `${r.name}-id` },
  }));
  for (const p of policies) {
    const { enforcementLevel: _level, ...section } = config[p.name] ?? {};
    const outcomes =
      "validateStack" in p
        ? [await runStackPolicy(p as StackValidationPolicy, stack, section)]
        : await Promise.all(
            stack.map((r) => runResourcePolicy(p as ResourceValidationPolicy, { ...r, ...MOCKED }, section)),
          );
    for (const o of outcomes) {
      found.push(...o.violations.map((message) => ({ policy: p.name, message })));
      if (o.unknownAtPreview !== undefined) {
        found.push({ policy: p.name, message: o.unknownAtPreview });
      }
    }
  }
  return found;
}

describe("the policy pack on the churn-model program", function () {
  let program: ProgramModule;
  let config: ConfigModule;

  let programPolicyFile: string;

  before(async function () {
    // The program verifies with the policy config's key: give it one that trusts the test key.
    programPolicyFile = writePolicyConfig(
      path.join(fs.mkdtempSync(path.join(os.tmpdir(), "churn-compliance-")), "production.json"),
      policyConfig("production"),
    );
    installMocks();
    program = await import("../../stacks/program");
    config = await import("../../stacks/config");
  });

  after(function () {
    fs.rmSync(path.dirname(programPolicyFile), { recursive: true, force: true });
  });

  beforeEach(function () {
    recorded.length = 0;
  });

  function productionConfig(evidence: (version: string) => string): StackConfig {
    const map = stackConfigMap("production");
    map.set("evidencePublicKey", KEYS.publicKeyPem);
    map.set("thresholdsFile", programPolicyFile);
    map.set("promotionEvidence", evidence(map.get("modelVersion")!));
    return config.readStackConfig(source(map), REPO);
  }

  const validEvidence = (version: string) =>
    JSON.stringify(
      signEvidence(
        evidenceRecord(version, {
          image: `registry.internal.example.com/ml/churn-model:${version}`,
          target: TEST_TARGET,
        }),
        KEYS.privateKeyPem,
      ),
    );

  it("finds nothing to refuse in Pulumi.production.yaml with valid evidence", async function () {
    await settle(await program.program(productionConfig(validEvidence)));
    expect(recorded.map((r) => r.type)).to.include("kubernetes:policy/v1:PodDisruptionBudget");
    expect(await findings("production")).to.deep.equal([]);
  });

  it("finds nothing to refuse in Pulumi.staging.yaml, which carries no evidence", async function () {
    await settle(await program.program(config.readStackConfig(source(stackConfigMap("staging")), REPO)));
    expect(await findings("staging")).to.deep.equal([]);
  });

  it("finds nothing to refuse in staging with the AWS registry and artifact bucket", async function () {
    const map = stackConfigMap("staging");
    map.set("aws", JSON.stringify({ enabled: true, region: "eu-west-1", registryOwner: "self" }));
    await settle(await program.program(config.readStackConfig(source(map), REPO)));
    expect(recorded.map((r) => r.type)).to.include.members([
      "aws:ecr/repository:Repository",
      "aws:s3/bucket:Bucket",
    ]);
    expect(await findings("staging")).to.deep.equal([]);
  });

  it("refuses the program's production Deployment when the policy config is stricter than its evidence", async function () {
    // The program checks evidence against the same thresholds file; a stricter policy config
    // (as a policy group may apply) still refuses in the engine.
    await settle(await program.program(productionConfig(validEvidence)));
    const config = policyConfig("production");
    config["promotion-evidence"].minAccuracy = 0.95;
    const deployment = recorded.find((r) => r.type === "kubernetes:apps/v1:Deployment")!;
    const { enforcementLevel: _level, ...section } = config["promotion-evidence"];
    const outcome = await runResourcePolicy(
      policies.find((p) => p.name === "promotion-evidence") as ResourceValidationPolicy,
      { type: deployment.type, name: deployment.name, props: deployment.inputs, ...MOCKED },
      section,
    );
    // Both the measured value and the analysis' pessimistic bound miss it.
    const lower = evidenceRecord("1.0.0").analysis!.bounds.accuracy[0];
    expect(outcome.violations).to.deep.equal([
      'Deployment "churn-model": promotion evidence reports accuracy 0.91, below the minimum 0.95 (minAccuracy)',
      `Deployment "churn-model": promotion evidence: accuracy's lower bound ${lower} is below the minimum 0.95`,
    ]);
  });
});
