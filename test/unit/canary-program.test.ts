import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { byType, installMocks, recorded, Recorded, settle, stackOutputs } from "../helpers/pulumi-mocks";
import { evidenceDigest, initialPosition, POSITION_OUTPUT, SignedEvidence } from "../../policy/contract";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { REPO, source, stackConfigMap } from "../helpers/stack-config";
import type { StackConfig } from "../../stacks/config";
import type { EvidenceRecord } from "../../scripts/promotion/evidence";
import { canaryPart } from "../fixtures/canary-evidence";
import { recentPromotionRecord } from "../fixtures/recent-promotion";
import { trustingPolicyConfig, writePolicyConfig } from "../fixtures/policy-configs";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";

type ProgramModule = typeof import("../../stacks/program");
type ConfigModule = typeof import("../../stacks/config");
type EvidenceModule = typeof import("../../scripts/promotion/evidence");

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const REGISTRY = "registry.internal.example.com/ml";

/** Does a matchLabels selector select a pod with these labels? */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe("the churn-model program with a canary", function () {
  let program: ProgramModule;
  let config: ConfigModule;
  let evidence: EvidenceModule;
  let keys: { publicKeyPem: string; privateKeyPem: string };
  let tmp: string;
  let policyFile: string;
  /** The same policy config accepting canary promotions only. */
  let canaryOnlyFile: string;

  before(async function () {
    installMocks();
    program = await import("../../stacks/program");
    config = await import("../../stacks/config");
    evidence = await import("../../scripts/promotion/evidence");
    keys = evidence.generateEvidenceKeyPair();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-canary-program-"));
    policyFile = writePolicyConfig(
      path.join(tmp, "production.json"),
      trustingPolicyConfig(keys.publicKeyPem),
    );
    canaryOnlyFile = writePolicyConfig(
      path.join(tmp, "production-canary-only.json"),
      trustingPolicyConfig(keys.publicKeyPem, { "promotion-evidence": { strategies: ["canary"] } }),
    );
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(function () {
    recorded.length = 0;
  });

  function signed(
    version: string,
    privateKeyPem = keys.privateKeyPem,
    extra: Partial<EvidenceRecord> = {},
  ): string {
    const thresholds = JSON.parse(fs.readFileSync(policyFile, "utf8"))["promotion-evidence"];
    const healthy = recentPromotionRecord({ version, registry: REGISTRY, thresholds });
    const record: EvidenceRecord = { ...healthy, ...extra };
    return JSON.stringify(evidence.signEvidence(record, privateKeyPem));
  }

  function productionConfig(
    canary?: Record<string, unknown>,
    replicas?: { min: number; max: number },
    stable?: { thresholdsFile: string; evidence: (version: string) => string },
  ): StackConfig {
    const map = stackConfigMap("production");
    map.set("evidencePublicKey", keys.publicKeyPem);
    map.set("thresholdsFile", stable?.thresholdsFile ?? policyFile);
    map.set("promotionEvidence", (stable?.evidence ?? signed)(map.get("modelVersion")!));
    if (replicas !== undefined) map.set("replicas", JSON.stringify(replicas));
    if (canary !== undefined) map.set("canary", JSON.stringify(canary));
    return config.readStackConfig(source(map), REPO);
  }

  async function declare(cfg: StackConfig): Promise<Record<string, unknown>> {
    return settle(await program.program(cfg));
  }

  function deployment(name: string): Recorded {
    const found = byType(DEPLOYMENT).filter((d) => d.inputs.metadata.name === name);
    expect(found, `Deployment ${name}`).to.have.length(1);
    return found[0];
  }

  async function refusal(cfg: StackConfig): Promise<string> {
    try {
      await program.program(cfg);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("expected the program to refuse");
  }

  describe("at 10 % of a 10..20 production", function () {
    let outputs: Record<string, unknown>;
    let cfg: StackConfig;

    beforeEach(async function () {
      cfg = productionConfig(
        { version: "1.1.0", weight: 10, promotionEvidence: signed("1.1.0") },
        { min: 10, max: 20 },
      );
      outputs = await declare(cfg);
    });

    it("declares a second Deployment churn-model-canary and nothing else new", function () {
      expect(
        byType(DEPLOYMENT)
          .map((d) => d.inputs.metadata.name)
          .sort(),
      ).to.deep.equal(["churn-model", "churn-model-canary"]);
      expect(deployment("churn-model-canary").name).to.equal("churn-model-canary-deployment");
      expect(byType(HPA)).to.have.length(1);
      expect(byType(PDB)).to.have.length(1);
      expect(byType(SERVICE)).to.have.length(1);
      // No release record for the canary: deployedAt stays the stable's.
      expect(byType(CONFIGMAP).map((c) => c.inputs.data.modelVersion)).to.deep.equal(["1.0.0"]);
    });

    it("sizes the canary 1 and the stable 9, as Argo rounds 10 % of 10", function () {
      expect(deployment("churn-model-canary").inputs.spec.replicas).to.equal(1);
      expect(deployment("churn-model").inputs.spec.replicas).to.equal(9);
    });

    it("forces the stable's size over the HPA's, which co-owns .spec.replicas (server-side apply)", function () {
      expect(deployment("churn-model").inputs.metadata.annotations["pulumi.com/patchForce"]).to.equal("true");
      // The canary has no autoscaler: nothing else writes its size.
      expect(deployment("churn-model-canary").inputs.metadata.annotations).to.not.have.property(
        "pulumi.com/patchForce",
      );
    });

    it("shrinks the stable's HPA with it and points it at the stable only", function () {
      const h = byType(HPA)[0].inputs.spec;
      expect(h).to.deep.include({ minReplicas: 9, maxReplicas: 18 });
      expect(h.scaleTargetRef.name).to.equal("churn-model");
    });

    it("runs the canary's version and image, with its own evidence", function () {
      const d = deployment("churn-model-canary").inputs;
      const c = d.spec.template.spec.containers[0];
      // Production runs the canary by the digest its evidence binds (staging's pods ran it).
      expect(c.image).to.equal(
        `${REGISTRY}/churn-model:1.1.0@${sandboxArtifact(`${REGISTRY}/churn-model:1.1.0`).digest}`,
      );
      expect(c.env.find((e: { name: string }) => e.name === "MODEL_VERSION").value).to.equal("1.1.0");
      expect(d.metadata.annotations["churn-model/model-version"]).to.equal("1.1.0");
      expect(d.metadata.annotations["churn-model/promotion-evidence"]).to.equal(
        cfg.canary?.promotionEvidence,
      );
      expect(deployment("churn-model").inputs.spec.template.spec.containers[0].image).to.equal(
        `${REGISTRY}/churn-model:1.0.0@${sandboxArtifact(`${REGISTRY}/churn-model:1.0.0`).digest}`,
      );
    });

    it("puts both tracks behind the Service, each Deployment selecting only its own pods", function () {
      const stable = deployment("churn-model").inputs;
      const canary = deployment("churn-model-canary").inputs;
      const service = byType(SERVICE)[0].inputs.spec.selector;
      const stableLabels = stable.spec.template.metadata.labels;
      const canaryLabels = canary.spec.template.metadata.labels;
      expect(selects(service, stableLabels)).to.equal(true);
      expect(selects(service, canaryLabels)).to.equal(true);
      expect(canary.spec.selector.matchLabels).to.deep.equal({ ...service, "churn-model/track": "canary" });
      expect(selects(canary.spec.selector.matchLabels, stableLabels)).to.equal(false);
      expect(canaryLabels).to.include({
        "app.kubernetes.io/version": "1.1.0",
        "churn-model/track": "canary",
      });
      expect(stableLabels).to.not.have.property("churn-model/track");
      expect(stableLabels["app.kubernetes.io/version"]).to.equal("1.0.0");
    });

    it("covers both tracks with the one PodDisruptionBudget", function () {
      const pdb = byType(PDB)[0].inputs.spec;
      expect(
        selects(pdb.selector.matchLabels, deployment("churn-model").inputs.spec.template.metadata.labels),
      ).to.equal(true);
      expect(
        selects(
          pdb.selector.matchLabels,
          deployment("churn-model-canary").inputs.spec.template.metadata.labels,
        ),
      ).to.equal(true);
      expect(pdb.maxUnavailable).to.equal(1);
    });

    it("gives the canary the stable's pod in every other respect, scrape wiring included", function () {
      const strip = (d: Recorded) => {
        const t = JSON.parse(JSON.stringify(d.inputs.spec.template));
        delete t.metadata.labels;
        for (const c of t.spec.containers) {
          delete c.image;
          c.env = c.env.filter((e: { name: string }) => e.name !== "MODEL_VERSION");
        }
        return t;
      };
      expect(strip(deployment("churn-model-canary"))).to.deep.equal(strip(deployment("churn-model")));
      expect(
        deployment("churn-model-canary").inputs.spec.template.metadata.annotations["prometheus.io/scrape"],
      ).to.equal("true");
      expect(deployment("churn-model-canary").inputs.spec.strategy.rollingUpdate.maxUnavailable).to.equal(0);
    });

    it("exports the canary's version, sizes and metrics selector", function () {
      expect(outputs.canary).to.deep.equal({
        modelVersion: "1.1.0",
        replicas: 1,
        stableReplicas: 9,
        metricsSelector: { namespace: "production", version: "1.1.0" },
      });
      expect(outputs.modelVersion).to.equal("1.0.0");
      expect(outputs.metricsSelector).to.deep.equal({ namespace: "production", version: "1.0.0" });
    });
  });

  it("keeps production as it is without a canary: one Deployment, no canary output", async function () {
    const outputs = await declare(productionConfig());
    expect(byType(DEPLOYMENT)).to.have.length(1);
    expect(outputs).to.not.have.property("canary");
    expect(byType(HPA)[0].inputs.spec).to.deep.include({ minReplicas: 3, maxReplicas: 10 });
    // Removing a canary grows the stable back while the HPA still holds the step's bounds.
    expect(deployment("churn-model").inputs.metadata.annotations["pulumi.com/patchForce"]).to.equal("true");
  });

  it("rounds a 10 % canary of the committed 3..10 production up to one pod, keeping the stable at 3", async function () {
    await declare(productionConfig({ version: "1.1.0", weight: 10, promotionEvidence: signed("1.1.0") }));
    expect(deployment("churn-model-canary").inputs.spec.replicas).to.equal(1);
    expect(deployment("churn-model").inputs.spec.replicas).to.equal(3);
    expect(byType(HPA)[0].inputs.spec).to.deep.include({ minReplicas: 3, maxReplicas: 9 });
  });

  it("takes an explicit canary replica count and leaves the stable at full size", async function () {
    await declare(productionConfig({ version: "1.1.0", replicas: 2, promotionEvidence: signed("1.1.0") }));
    expect(deployment("churn-model-canary").inputs.spec.replicas).to.equal(2);
    expect(deployment("churn-model").inputs.spec.replicas).to.equal(3);
    expect(byType(HPA)[0].inputs.spec).to.deep.include({ minReplicas: 3, maxReplicas: 10 });
  });

  it("pins a digest canary by digest", async function () {
    const digest = `sha256:${"b".repeat(64)}`;
    await declare(productionConfig({ version: digest, weight: 10, promotionEvidence: signed(digest) }));
    const d = deployment("churn-model-canary").inputs;
    expect(d.spec.template.spec.containers[0].image).to.equal(`${REGISTRY}/churn-model@${digest}`);
    expect(d.spec.template.metadata.labels["app.kubernetes.io/version"]).to.equal(
      `sha256_${Buffer.from("b".repeat(64), "hex").toString("base64url")}`,
    );
  });

  it("refuses a canary without staging promotion evidence, declaring nothing", async function () {
    expect(await refusal(productionConfig({ version: "1.1.0", weight: 10 }))).to.contain(
      "production refuses the canary 1.1.0: churn-model:canary.promotionEvidence is not set",
    );
    expect(recorded).to.have.length(0);
  });

  it("refuses a canary whose evidence is for another version", async function () {
    const message = await refusal(
      productionConfig({ version: "1.1.0", weight: 10, promotionEvidence: signed("1.2.0") }),
    );
    expect(message).to.contain("production refuses the canary 1.1.0: its promotion evidence is not valid");
    expect(message).to.contain("1.2.0");
    expect(recorded).to.have.length(0);
  });

  it("refuses a canary whose evidence another key signed", async function () {
    const other = evidence.generateEvidenceKeyPair();
    const message = await refusal(
      productionConfig({
        version: "1.1.0",
        weight: 10,
        promotionEvidence: signed("1.1.0", other.privateKeyPem),
      }),
    );
    expect(message).to.contain("production refuses the canary 1.1.0: its promotion evidence is not valid");
    expect(recorded).to.have.length(0);
  });

  describe("where the policy config accepts only canary promotions", function () {
    const stable = (evidence: (version: string) => string) =>
      productionConfig(undefined, undefined, {
        thresholdsFile: canaryOnlyFile,
        evidence,
      });

    it("refuses moving the stable to a version without a canary verdict, declaring nothing", async function () {
      const message = await refusal(stable((v) => signed(v)));
      expect(message).to.match(/production refuses model version \S+: the promotion evidence is not valid/);
      expect(message).to.contain("shows no canary, and this target accepts only canary");
      expect(recorded).to.have.length(0);
    });

    it("refuses a stable whose canary was aborted", async function () {
      const aborted = canaryPart("1.0.0", {
        weights: [10],
        verdict: "fail",
        aborted: { cause: "fail", reason: "worse" },
      });
      const message = await refusal(stable((v) => signed(v, keys.privateKeyPem, { canary: aborted })));
      expect(message).to.contain("was aborted (fail): worse");
      expect(recorded).to.have.length(0);
    });

    it("moves the stable to a version whose signed evidence shows its canary passed every step", async function () {
      await declare(stable((v) => signed(v, keys.privateKeyPem, { canary: canaryPart("0.9.0") })));
      expect(byType(DEPLOYMENT)).to.have.length(1);
    });

    it("lets the stable roll back to an earlier promoted version", async function () {
      const rollback = (v: string) => {
        const earlier = JSON.parse(signed(v)) as SignedEvidence;
        // Production's own record: that promotion promoted the version here (stacks/position.ts).
        stackOutputs[TEST_TARGET.stack] = {
          [POSITION_OUTPUT]: {
            ...initialPosition(TEST_TARGET.stack),
            promotedBy: { [v]: evidenceDigest(earlier) },
          },
        };
        return signed(v, keys.privateKeyPem, { kind: "rollback", rollbackOf: earlier });
      };
      try {
        await declare(stable(rollback));
      } finally {
        delete stackOutputs[TEST_TARGET.stack];
      }
      expect(byType(DEPLOYMENT)).to.have.length(1);
    });
  });
});
