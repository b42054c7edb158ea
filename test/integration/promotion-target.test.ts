/**
 * Evidence bound to its target and moment, with the real engine and the policy pack (manifests
 * rendered to a directory): production records its position on each update, so a rolled-back
 * version's evidence restored from history, evidence for another stack or namespace, and rollback
 * evidence laundering an unrelated or year-old promotion are refused by the program — and, with
 * the program's own check bypassed, by the pack — naming the binding that failed.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { CommandError, Stack } from "@pulumi/pulumi/automation";
import { POSITION_OUTPUT, PromotionPosition } from "../../policy/contract";
import { upsertStack } from "../../scripts/promotion/engine";
import { generateEvidenceKeyPair, SignedEvidence, signEvidence } from "../../scripts/promotion/evidence";
import { rollbackRecord } from "../../scripts/promotion/record";
import { loadThresholds } from "../../scripts/promotion/thresholds";
import { makeProjectDir } from "../../scripts/sandbox/project";
import { makeLocalBackend, REPO_ROOT } from "../../scripts/toolchain/env";
import { SANDBOX_PRODUCTION_TARGET } from "../fixtures/evidence-records";
import { writePolicyConfig } from "../fixtures/policy-configs";
import { recentPromotionRecord } from "../fixtures/recent-promotion";
import { POLICY_DIR, PRODUCTION_REGISTRY, productionPackConfig } from "../helpers/policy-preview";

const DAY_MS = 86_400_000;

describe("the target and moment of evidence, with the real engine and the policy pack", function () {
  this.timeout(1_200_000);
  const keys = generateEvidenceKeyPair();
  let tmp: string;
  let env: Record<string, string>;
  let dir: string;
  let policyFile: string;
  let stack: Stack;

  function promotion(
    version: string,
    follows: number,
    over: { createdAt?: Date; stack?: string; namespace?: string } = {},
  ): SignedEvidence {
    const record = recentPromotionRecord({
      version,
      registry: PRODUCTION_REGISTRY,
      thresholds: loadThresholds(policyFile),
      createdAt: over.createdAt,
      target: {
        stack: over.stack ?? SANDBOX_PRODUCTION_TARGET.stack,
        namespace: over.namespace ?? SANDBOX_PRODUCTION_TARGET.namespace,
        follows,
      },
    });
    return signEvidence(record, keys.privateKeyPem);
  }

  function rollback(to: SignedEvidence, follows: number, from?: string): SignedEvidence {
    const target = { ...SANDBOX_PRODUCTION_TARGET, follows };
    return signEvidence(rollbackRecord(to, "promotion-runner", new Date(), target, from), keys.privateKeyPem);
  }

  /** `pulumi up` of production with `evidence` and the pack; the error's text when refused. */
  async function up(evidence: SignedEvidence): Promise<string | undefined> {
    await stack.setConfig("churn-model:modelVersion", { value: evidence.record.modelVersion });
    await stack.setConfig("churn-model:promotionEvidence", { value: JSON.stringify(evidence) });
    try {
      await stack.up({ color: "never", policyPacks: [POLICY_DIR], policyPackConfigs: [policyFile] });
      return undefined;
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      return err.message;
    }
  }

  /** The same, through the program that skips its own check: only the pack refuses (a preview). */
  async function packAlone(evidence: SignedEvidence): Promise<string> {
    const file = path.join(dir, "Pulumi.yaml");
    const settings = fs.readFileSync(file, "utf8");
    const doc = yaml.load(settings) as Record<string, unknown>;
    // TypeScript run by the language host, unlike the compiled program (Pulumi.yaml `main`).
    const runtime = { name: "nodejs", options: { typescript: true } };
    fs.writeFileSync(file, yaml.dump({ ...doc, runtime, main: "test/helpers/policy-bypass-program.ts" }));
    await stack.setConfig("churn-model:modelVersion", { value: evidence.record.modelVersion });
    await stack.setConfig("churn-model:promotionEvidence", { value: JSON.stringify(evidence) });
    try {
      await stack.preview({ color: "never", policyPacks: [POLICY_DIR], policyPackConfigs: [policyFile] });
      return "";
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      return err.message;
    } finally {
      fs.writeFileSync(file, settings);
    }
  }

  async function position(): Promise<PromotionPosition> {
    return (await stack.outputs())[POSITION_OUTPUT].value as PromotionPosition;
  }

  // Production's history: 1.1.0 promoted, 1.4.0 promoted, 1.4.0 rolled back to 1.1.0.
  let p110: SignedEvidence;
  let p140: SignedEvidence;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-target-"));
    fs.mkdirSync(path.join(tmp, "state"));
    env = { PULUMI_BACKEND_URL: makeLocalBackend(path.join(tmp, "state")) };
    policyFile = writePolicyConfig(
      path.join(tmp, "production-policy.json"),
      productionPackConfig(keys.publicKeyPem),
    );
    dir = makeProjectDir(path.join(tmp, "project"), {
      production: {
        renderYamlToDirectory: path.join(tmp, "render"),
        evidencePublicKey: keys.publicKeyPem,
        thresholdsFile: policyFile,
      },
    });
    fs.symlinkSync(path.join(REPO_ROOT, "test"), path.join(dir, "test"));
    stack = await upsertStack("production", { projectDir: dir, env, createProduction: true });

    p110 = promotion("1.1.0", 0);
    expect(await up(p110)).to.equal(undefined);
    expect((await position()).sequence).to.equal(1);
    p140 = promotion("1.4.0", 1);
    expect(await up(p140)).to.equal(undefined);
    // 1.4.0's rollback triggers fired: production returns to 1.1.0 and revokes 1.4.0.
    expect(await up(rollback(p110, 2, "1.4.0"))).to.equal(undefined);
    const at = await position();
    expect(at.sequence).to.equal(3);
    expect(at.revoked).to.deep.equal([{ version: "1.4.0", sequence: 3 }]);
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("refuses 1.4.0 with its old evidence restored from history after the rollback", async function () {
    const refused = await up(p140);
    expect(refused).to.contain("production refuses model version 1.4.0: the promotion evidence is not valid");
    expect(refused).to.contain(
      "promotion evidence binds target.follows 1, but production's last successful update is at promotion sequence 3",
    );
    expect(refused).to.contain("which production revoked at promotion sequence 3 (revokedVersions)");
    const pack = await packAlone(p140);
    expect(pack).to.contain(
      "promotion evidence binds target.follows 1, but production's last successful update",
    );
    expect((await position()).sequence).to.equal(3);
  });

  it("refuses evidence for another stack or another namespace", async function () {
    const otherStack = promotion("1.5.0", 3, { stack: "organization/churn-model-sandbox/production-eu" });
    const refusedStack = await up(otherStack);
    expect(refusedStack).to.contain(
      "promotion evidence binds target.stack organization/churn-model-sandbox/production-eu, but the stack being updated is organization/churn-model-sandbox/production",
    );
    expect(await packAlone(otherStack)).to.contain(
      "promotion evidence binds target.stack organization/churn-model-sandbox/production-eu, but the stack being updated is",
    );
    const otherNamespace = promotion("1.5.0", 3, { namespace: "production-shadow" });
    expect(await up(otherNamespace)).to.contain(
      "promotion evidence binds target.namespace production-shadow, but the workload is deployed to namespace production",
    );
    expect(await packAlone(otherNamespace)).to.contain(
      "promotion evidence binds target.namespace production-shadow",
    );
  });

  it("refuses rollback evidence laundering an unrelated or a year-old promotion of the version", async function () {
    // Genuinely signed, same version, never the one that promoted 1.1.0 here.
    const unrelated = rollback(promotion("1.1.0", 0, { createdAt: new Date(Date.now() - 2 * DAY_MS) }), 3);
    const refused = await up(unrelated);
    expect(refused).to.contain("rollback evidence embeds a promotion of 1.1.0 (rollbackOf, ");
    expect(refused).to.contain(
      "that is not the one that promoted 1.1.0 to organization/churn-model-sandbox/production",
    );
    expect(await packAlone(unrelated)).to.contain("that is not the one that promoted 1.1.0 to");
    const yearOld = rollback(promotion("1.0.0", 0, { createdAt: new Date(Date.now() - 365 * DAY_MS) }), 3);
    expect(await up(yearOld)).to.contain("older than the maximum 30 days (maxRollbackEvidenceAgeDays)");
  });

  it("lets a fresh promotion of the rolled-back version through the gate's evidence", async function () {
    expect(await up(promotion("1.4.0", 3))).to.equal(undefined);
    expect((await position()).sequence).to.equal(4);
  });
});
