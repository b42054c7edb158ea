/**
 * The real engine (pulumi CLI, the Node.js language host, the Kubernetes provider built by
 * the toolchain) runs the real program on both stacks' config, with the provider rendering
 * manifests to a directory instead of applying them to a cluster.
 */
import { handMadePromotionRecord, SANDBOX_PRODUCTION_TARGET } from "../fixtures/evidence-records";
import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { versionLabel } from "../../policy/contract";
import { upsertStack } from "../../scripts/promotion/engine";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";
import { parseStagingOutputs } from "../../scripts/promotion/outputs";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { loadThresholds } from "../../scripts/promotion/thresholds";
import { makeProjectDir } from "../../scripts/sandbox/project";
import { makeLocalBackend, REPO_ROOT } from "../../scripts/toolchain/env";
import { trustingPolicyConfig, writePolicyConfig } from "../fixtures/policy-configs";

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
}

function readManifests(dir: string): Manifest[] {
  const out: Manifest[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".yaml"))
        out.push(...(yaml.loadAll(fs.readFileSync(p, "utf8")) as Manifest[]));
    }
  };
  walk(dir);
  return out.filter(Boolean);
}

describe("the real engine on both stacks (manifests rendered to a directory)", function () {
  this.timeout(600_000);
  let tmp: string;
  let env: Record<string, string>;
  let projectDir: string;
  const render = (stack: string) => path.join(tmp, `render-${stack}`);
  const keys = generateEvidenceKeyPair();

  function evidenceFor(version: string): string {
    const thresholds = loadThresholds(path.join(REPO_ROOT, "policy/config/production.json"));
    return JSON.stringify(
      signEvidence(
        handMadePromotionRecord({
          target: SANDBOX_PRODUCTION_TARGET,
          version,
          thresholds,
          hours: 48,
          requests: 100_000,
          approver: "integration-test",
        }),
        keys.privateKeyPem,
      ),
    );
  }

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-engine-"));
    fs.mkdirSync(path.join(tmp, "state"));
    env = { PULUMI_BACKEND_URL: makeLocalBackend(path.join(tmp, "state")) };
    const policyFile = writePolicyConfig(
      path.join(tmp, "production-policy.json"),
      trustingPolicyConfig(keys.publicKeyPem),
    );
    projectDir = makeProjectDir(path.join(tmp, "project"), {
      staging: { renderYamlToDirectory: render("staging") },
      production: {
        renderYamlToDirectory: render("production"),
        evidencePublicKey: keys.publicKeyPem,
        thresholdsFile: policyFile,
        promotionEvidence: evidenceFor("1.0.0"),
      },
    });
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("deploys staging: one Deployment at the configured image, no PodDisruptionBudget, outputs readable", async function () {
    const stack = await upsertStack("staging", { projectDir, env });
    const up = await stack.up({ color: "never" });
    expect(up.summary.result).to.equal("succeeded");
    const manifests = readManifests(render("staging"));
    const deployments = manifests.filter((m) => m.kind === "Deployment");
    expect(deployments).to.have.length(1);
    expect(deployments[0].metadata.namespace).to.equal("staging");
    expect(deployments[0].spec!.replicas).to.equal(1);
    expect(deployments[0].spec!.template.spec.containers[0].image).to.equal(
      "registry.internal.example.com/ml/churn-model:1.1.0",
    );
    expect(manifests.filter((m) => m.kind === "PodDisruptionBudget")).to.have.length(0);
    const outputs = await stack.outputs();
    expect(outputs.modelVersion.value).to.equal("1.1.0");
    expect(outputs.metricsSelector.value).to.deep.equal({ namespace: "staging", version: "1.1.0" });
    expect(Date.parse(outputs.deployedAt.value)).to.be.greaterThan(Date.now() - 600_000);
  });

  it("keeps deployedAt on a re-run and moves it when the version changes", async function () {
    const stack = await upsertStack("staging", { projectDir, env });
    const before = (await stack.outputs()).deployedAt.value as string;
    await new Promise((r) => setTimeout(r, 1100));
    await stack.up({ color: "never" });
    expect((await stack.outputs()).deployedAt.value).to.equal(before);

    await stack.setConfig("churn-model:modelVersion", { value: "1.2.0" });
    await stack.up({ color: "never" });
    const after = await stack.outputs();
    expect(after.modelVersion.value).to.equal("1.2.0");
    expect(Date.parse(after.deployedAt.value)).to.be.greaterThan(Date.parse(before));
    const records = readManifests(render("staging")).filter((m) => m.kind === "ConfigMap");
    expect(records.map((m) => m.metadata.name)).to.deep.equal(["churn-model-release-1-2-0"]);
  });

  it("stages build-metadata and digest versions with outputs the promotion reads (one mapping to tag, label and selector)", async function () {
    const stack = await upsertStack("staging", { projectDir, env });
    const digest = `sha256:${"ab".repeat(32)}`;
    const cases: [string, string, string][] = [
      ["1.2.0+b7", "registry.internal.example.com/ml/churn-model:1.2.0_b7", "1.2.0_b7"],
      [digest, `registry.internal.example.com/ml/churn-model@${digest}`, versionLabel(digest)],
    ];
    for (const [version, image, label] of cases) {
      await stack.setConfig("churn-model:modelVersion", { value: version });
      await stack.up({ color: "never" });
      const deployment = readManifests(render("staging")).find((m) => m.kind === "Deployment")!;
      expect(deployment.spec!.template.spec.containers[0].image).to.equal(image);
      expect(deployment.spec!.template.metadata.labels["app.kubernetes.io/version"]).to.equal(label);
      const values = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, o]) => [k, o.value]));
      const outputs = parseStagingOutputs(values, "staging outputs");
      expect(outputs.modelVersion).to.equal(version);
      expect(outputs.metricsSelector).to.deep.equal({ namespace: "staging", version: label });
    }
  });

  it("deploys production with valid evidence: PodDisruptionBudget, three replicas, evidence annotation", async function () {
    const stack = await upsertStack("production", { projectDir, env, createProduction: true });
    const up = await stack.up({ color: "never" });
    expect(up.summary.result).to.equal("succeeded");
    const manifests = readManifests(render("production"));
    const deployment = manifests.find((m) => m.kind === "Deployment")!;
    expect(deployment.spec!.replicas).to.equal(3);
    // By the digest the evidence binds (what staging ran), at the version's tag.
    expect(deployment.spec!.template.spec.containers[0].image).to.equal(
      `registry.internal.example.com/ml/churn-model:1.0.0@${sandboxArtifact("registry.internal.example.com/ml/churn-model:1.0.0").digest}`,
    );
    expect(
      JSON.parse(deployment.metadata.annotations!["churn-model/promotion-evidence"]).record.modelVersion,
    ).to.equal("1.0.0");
    const pdbs = manifests.filter((m) => m.kind === "PodDisruptionBudget");
    expect(pdbs).to.have.length(1);
    expect(pdbs[0].spec!.selector.matchLabels).to.deep.equal(deployment.spec!.selector.matchLabels);
  });

  it("refuses valid evidence with churn-model:registry set to another account's registry, naming the binding", async function () {
    const stack = await upsertStack("production", { projectDir, env, createProduction: true });
    const before = await stack.exportStack();
    const registry = await stack.getConfig("churn-model:registry");
    await stack.setConfig("churn-model:registry", {
      value: "999999999999.dkr.ecr.eu-west-1.amazonaws.com/ml",
    });
    let message = "";
    const started = Date.now();
    try {
      await stack.up({ color: "never" });
    } catch (err) {
      message = String(err);
    } finally {
      await stack.setConfig("churn-model:registry", registry);
    }
    console.log(`      the refused update took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(message).to.contain(
      "production refuses model version 1.0.0: the image it would run is not the artifact its evidence binds:",
    );
    expect(message).to.contain(
      "- its promotion evidence binds registry registry.internal.example.com, but the image " +
        "999999999999.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model:1.0.0@sha256:",
    );
    expect((await stack.exportStack()).deployment.resources.length).to.equal(
      before.deployment.resources.length,
    );
    const deployment = readManifests(render("production")).find((m) => m.kind === "Deployment")!;
    expect(deployment.spec!.template.spec.containers[0].image).to.match(
      /^registry\.internal\.example\.com\//,
    );
  });

  it("refuses a production update without evidence and leaves the stack as it was", async function () {
    const stack = await upsertStack("production", { projectDir, env, createProduction: true });
    const before = await stack.exportStack();
    await stack.removeConfig("churn-model:promotionEvidence");
    await stack.setConfig("churn-model:modelVersion", { value: "1.2.0" });
    let message = "";
    try {
      await stack.up({ color: "never" });
    } catch (err) {
      message = String(err);
    }
    expect(message).to.contain(
      "production refuses model version 1.2.0: churn-model:promotionEvidence is not set",
    );
    const after = await stack.exportStack();
    expect(after.deployment.resources.length).to.equal(before.deployment.resources.length);
    const deployment = readManifests(render("production")).find((m) => m.kind === "Deployment")!;
    expect(deployment.spec!.template.spec.containers[0].image).to.match(/:1\.0\.0@sha256:[0-9a-f]{64}$/);
  });
});
