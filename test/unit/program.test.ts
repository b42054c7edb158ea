import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { byType, installMocks, one, recorded, settle } from "../helpers/pulumi-mocks";
import { REPO, source, stackConfigMap } from "../helpers/stack-config";
import type { StackConfig } from "../../stacks/config";
import type { EvidenceRecord } from "../../scripts/promotion/evidence";
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
const NAMESPACE = "kubernetes:core/v1:Namespace";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const REGISTRY = "registry.internal.example.com/ml";

describe("the churn-model program", function () {
  let program: ProgramModule;
  let config: ConfigModule;
  let evidence: EvidenceModule;
  let keys: { publicKeyPem: string; privateKeyPem: string };
  let tmp: string;
  let policyFile: string;

  before(async function () {
    installMocks();
    program = await import("../../stacks/program");
    config = await import("../../stacks/config");
    evidence = await import("../../scripts/promotion/evidence");
    keys = evidence.generateEvidenceKeyPair();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-program-"));
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
  });

  function signedEvidenceFor(
    version: string,
    overrides: Partial<EvidenceRecord> = {},
    privateKeyPem = keys.privateKeyPem,
  ): string {
    const thresholds = JSON.parse(fs.readFileSync(path.join(REPO, "policy/config/production.json"), "utf8"))[
      "promotion-evidence"
    ];
    const healthy = recentPromotionRecord({ version, registry: REGISTRY, thresholds });
    const record: EvidenceRecord = { ...healthy, ...overrides };
    return JSON.stringify(evidence.signEvidence(record, privateKeyPem));
  }

  /** The error the program throws for `cfg`, or undefined when it declares the stack. */
  async function refusal(cfg: StackConfig): Promise<Error | undefined> {
    try {
      await program.program(cfg);
      return undefined;
    } catch (e) {
      return e as Error;
    }
  }

  function productionConfig(extra: Record<string, string> = {}): StackConfig {
    const map = stackConfigMap("production");
    map.set("evidencePublicKey", keys.publicKeyPem);
    map.set("thresholdsFile", policyFile);
    map.set("promotionEvidence", signedEvidenceFor(map.get("modelVersion")!));
    for (const [k, v] of Object.entries(extra)) map.set(k, v);
    return config.readStackConfig(source(map), REPO);
  }

  describe("with Pulumi.staging.yaml", function () {
    let outputs: Record<string, unknown>;
    let cfg: StackConfig;

    beforeEach(async function () {
      cfg = config.readStackConfig(source(stackConfigMap("staging")), REPO);
      outputs = await settle(await program.program(cfg));
    });

    it("declares exactly the staging resources and no AWS resource", function () {
      const types = recorded.map((r) => r.type).sort();
      expect(types).to.deep.equal(
        [
          "churn:k8s:ModelService",
          "pulumi:providers:kubernetes",
          NAMESPACE,
          "kubernetes:core/v1:ServiceAccount",
          CONFIGMAP,
          DEPLOYMENT,
          SERVICE,
          HPA,
        ].sort(),
      );
      expect(recorded.filter((r) => r.type.startsWith("aws:"))).to.have.length(0);
    });

    it("pins the image to the configured registry and version", function () {
      const d = one(DEPLOYMENT).inputs;
      expect(d.spec.template.spec.containers[0].image).to.equal(
        "registry.internal.example.com/ml/churn-model:1.1.0",
      );
      expect(outputs.image).to.equal("registry.internal.example.com/ml/churn-model:1.1.0");
    });

    it("labels pods with name, version and environment and selects them without the version", function () {
      const d = one(DEPLOYMENT).inputs;
      expect(d.metadata.name).to.equal("churn-model");
      expect(d.metadata.namespace).to.equal("staging");
      expect(d.spec.template.metadata.labels).to.include({
        "app.kubernetes.io/name": "churn-model",
        "app.kubernetes.io/version": "1.1.0",
        "churn-model/environment": "staging",
      });
      expect(d.spec.selector.matchLabels).to.deep.equal({
        "app.kubernetes.io/name": "churn-model",
        "churn-model/environment": "staging",
      });
    });

    it("derives the Service selector from the pod labels", function () {
      const d = one(DEPLOYMENT).inputs;
      const s = one(SERVICE).inputs;
      expect(s.spec.selector).to.deep.equal(d.spec.selector.matchLabels);
      for (const [k, v] of Object.entries(s.spec.selector as Record<string, string>)) {
        expect(d.spec.template.metadata.labels[k]).to.equal(v);
      }
    });

    it("sets probes, resources, a restrictive security context and a zero-downtime rollout", function () {
      const d = one(DEPLOYMENT).inputs;
      const c = d.spec.template.spec.containers[0];
      expect(c.readinessProbe.httpGet).to.deep.equal({ path: "/healthz", port: "http" });
      expect(c.livenessProbe.httpGet).to.deep.equal({ path: "/healthz", port: "http" });
      expect(c.resources).to.deep.equal({
        requests: { cpu: "250m", memory: "256Mi" },
        limits: { cpu: "500m", memory: "512Mi" },
      });
      expect(c.securityContext).to.deep.include({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
      });
      expect(d.spec.template.spec.securityContext.runAsNonRoot).to.equal(true);
      expect(d.spec.strategy).to.deep.equal({
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      });
      expect(d.spec.replicas).to.equal(1);
      expect(d.spec.template.spec.topologySpreadConstraints).to.equal(undefined);
    });

    it("wires the pods for scraping with the contract's labels", function () {
      const d = one(DEPLOYMENT).inputs;
      expect(d.spec.template.metadata.annotations).to.deep.equal({
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
      });
      expect(d.spec.template.metadata.labels["churn-model/scrape-job"]).to.equal("churn-model");
    });

    it("bounds the HPA by the configured replicas", function () {
      const h = one(HPA).inputs;
      expect(h.spec.minReplicas).to.equal(1);
      expect(h.spec.maxReplicas).to.equal(3);
      expect(h.spec.scaleTargetRef).to.deep.equal({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "churn-model",
      });
      expect(h.spec.metrics[0].resource.target.averageUtilization).to.equal(75);
    });

    it("declares no PodDisruptionBudget and no evidence annotation in staging", function () {
      expect(byType(PDB)).to.have.length(0);
      expect(one(DEPLOYMENT).inputs.metadata.annotations).to.not.have.property(
        "churn-model/promotion-evidence",
      );
    });

    it("exports the outputs the promotion reads", function () {
      expect(outputs).to.include({
        modelVersion: "1.1.0",
        namespace: "staging",
        serviceUrl: "http://churn-model.staging.svc.cluster.local:80",
        prometheusUrl: "http://prometheus.monitoring.svc.cluster.local:9090",
      });
      expect(outputs.metricsSelector).to.deep.equal({ namespace: "staging", version: "1.1.0" });
      expect(new Date(outputs.deployedAt as string).toISOString()).to.equal(outputs.deployedAt);
    });

    it("records when the version went live in a per-version release record that later updates leave alone", function () {
      const cm = one(CONFIGMAP);
      expect(cm.name).to.equal("churn-model-release-1-1-0");
      expect(cm.inputs.metadata.name).to.equal("churn-model-release-1-1-0");
      expect(cm.inputs.data.modelVersion).to.equal("1.1.0");
      expect(cm.inputs.data.deployedAt).to.equal(outputs.deployedAt);
    });
  });

  describe("with Pulumi.production.yaml", function () {
    it("adds a PodDisruptionBudget selecting the Deployment's pods and spreads them", async function () {
      await settle(await program.program(productionConfig()));
      const d = one(DEPLOYMENT).inputs;
      const pdb = one(PDB).inputs;
      expect(pdb.spec.selector.matchLabels).to.deep.equal(d.spec.selector.matchLabels);
      expect(pdb.spec.maxUnavailable).to.equal(1);
      expect(d.spec.replicas).to.equal(3);
      expect(d.spec.template.spec.topologySpreadConstraints[0]).to.deep.include({
        maxSkew: 1,
        whenUnsatisfiable: "ScheduleAnyway",
      });
      expect(one(HPA).inputs.spec).to.deep.include({ minReplicas: 3, maxReplicas: 10 });
    });

    it("carries the promotion evidence on the Deployment unchanged", async function () {
      const cfg = productionConfig();
      await settle(await program.program(cfg));
      expect(one(DEPLOYMENT).inputs.metadata.annotations["churn-model/promotion-evidence"]).to.equal(
        cfg.promotionEvidence,
      );
    });

    it("refuses to declare anything without promotion evidence", async function () {
      const map = stackConfigMap("production");
      map.set("evidencePublicKey", keys.publicKeyPem);
      map.set("thresholdsFile", policyFile);
      const cfg = config.readStackConfig(source(map), REPO);
      const error = await refusal(cfg);
      expect(error?.message).to.match(
        /^production refuses model version 1\.0\.0: churn-model:promotionEvidence is not set/,
      );
      expect(recorded).to.have.length(0);
    });

    it("deploys production by the digest its evidence binds, at the version's tag", async function () {
      const outputs = await settle(await program.program(productionConfig()));
      const digest = sandboxArtifact("registry.internal.example.com/ml/churn-model:1.0.0").digest;
      const image = `registry.internal.example.com/ml/churn-model:1.0.0@${digest}`;
      expect(one(DEPLOYMENT).inputs.spec.template.spec.containers[0].image).to.equal(image);
      expect(outputs.image).to.equal(image);
    });

    it("refuses a churn-model:registry of another account than its valid evidence binds, declaring nothing", async function () {
      const other = "999999999999.dkr.ecr.eu-west-1.amazonaws.com/ml";
      const error = await refusal(productionConfig({ registry: other }));
      expect(error?.message).to.equal(
        "production refuses model version 1.0.0: the image it would run is not the artifact its evidence binds:\n" +
          "  - its promotion evidence binds registry registry.internal.example.com, but the image " +
          `${other}/churn-model:1.0.0@${sandboxArtifact("registry.internal.example.com/ml/churn-model:1.0.0").digest} ` +
          "comes from 999999999999.dkr.ecr.eu-west-1.amazonaws.com",
      );
      expect(recorded).to.have.length(0);
    });

    it("refuses evidence for another version than the one configured", async function () {
      const cfg = productionConfig({ promotionEvidence: signedEvidenceFor("1.1.0") });
      const error = await refusal(cfg);
      expect(error?.message).to.contain(
        "production refuses model version 1.0.0: the promotion evidence is not valid",
      );
      expect(error?.message).to.contain("1.1.0");
      expect(recorded).to.have.length(0);
    });

    it("refuses evidence without the signed approvals its policy config requires", async function () {
      const approver = crypto.generateKeyPairSync("ed25519");
      const strict = JSON.parse(fs.readFileSync(policyFile, "utf8"));
      strict["promotion-evidence"] = {
        ...strict["promotion-evidence"],
        approvers: { alice: approver.publicKey.export({ type: "spki", format: "pem" }).toString() },
        signaturesRequired: true,
      };
      const strictFile = path.join(tmp, "strict.json");
      fs.writeFileSync(strictFile, JSON.stringify(strict));
      const error = await refusal(productionConfig({ thresholdsFile: strictFile }));
      expect(error?.message).to.contain(
        "the promotion evidence is not valid:\n  - promotion evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)",
      );
      expect(recorded).to.have.length(0);
    });

    it("refuses evidence signed with a key other than the policy config's", async function () {
      const other = evidence.generateEvidenceKeyPair();
      const cfg = productionConfig({
        promotionEvidence: signedEvidenceFor("1.0.0", {}, other.privateKeyPem),
      });
      const error = await refusal(cfg);
      expect(error?.message).to.contain("the promotion evidence is not valid");
      expect(recorded).to.have.length(0);
    });

    it("refuses a stack-config key that is not the policy config's, even with evidence it verifies", async function () {
      const other = evidence.generateEvidenceKeyPair();
      const cfg = productionConfig({
        evidencePublicKey: other.publicKeyPem,
        promotionEvidence: signedEvidenceFor("1.0.0", {}, other.privateKeyPem),
      });
      const error = await refusal(cfg);
      expect(error?.message).to.equal(
        `production refuses model version 1.0.0: churn-model:evidencePublicKey is not the promotion-evidence publicKey of ${policyFile}`,
      );
      expect(recorded).to.have.length(0);
    });
  });

  describe("with the AWS part on", function () {
    it("creates an immutable, scanned registry with a lifecycle rule and a private versioned encrypted bucket", async function () {
      const map = stackConfigMap("staging");
      map.set(
        "aws",
        JSON.stringify({
          enabled: true,
          region: "eu-west-1",
          registryOwner: "self",
          oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
          oidcIssuer: "oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        }),
      );
      const outputs = await settle(await program.program(config.readStackConfig(source(map), REPO)));
      const repo = one("aws:ecr/repository:Repository").inputs;
      expect(repo.imageTagMutability).to.equal("IMMUTABLE");
      expect(repo.imageScanningConfiguration).to.deep.equal({ scanOnPush: true });
      const lifecycle = JSON.parse(one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs.policy);
      expect(lifecycle.rules).to.have.length(2);
      expect(one("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration).to.deep.equal({
        status: "Enabled",
      });
      const sse = one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      ).inputs;
      expect(sse.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).to.equal("aws:kms");
      expect(one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs).to.include({
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
      const trust = JSON.parse(one("aws:iam/role:Role").inputs.assumeRolePolicy);
      expect(
        trust.Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"],
      ).to.equal("system:serviceaccount:staging:churn-model");
      expect(
        one("kubernetes:core/v1:ServiceAccount").inputs.metadata.annotations["eks.amazonaws.com/role-arn"],
      ).to.match(/^arn:aws:iam::123456789012:role\//);
      expect(outputs.image).to.equal("123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-model:1.1.0");
      expect(outputs.registryUrl).to.equal("123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-model");
    });
  });

  describe("bad configuration", function () {
    const cases: [string, string | undefined, string][] = [
      [
        "modelVersion",
        "latest",
        "churn-model:modelVersion must be a pinned version: `latest` is never accepted",
      ],
      ["modelVersion", "", "churn-model:modelVersion must not be empty"],
      ["modelVersion", " 1.2.0", "churn-model:modelVersion must not contain whitespace"],
      ["modelVersion", "1.2.0;rm -rf /", "churn-model:modelVersion must not contain whitespace"],
      ["modelVersion", "1.2.0$(id)", "churn-model:modelVersion must not contain shell metacharacters"],
      [
        "modelVersion",
        "v1.2",
        "churn-model:modelVersion must be a semantic version like 1.4.2 or an image digest",
      ],
      ["modelVersion", undefined, "churn-model:modelVersion is required"],
      ["environment", "prod", 'churn-model:environment must be one of staging, production (got "prod")'],
      ["namespace", "Staging_1", "churn-model:namespace must be a DNS label"],
      [
        "replicas",
        '{"min":3,"max":2}',
        "churn-model:replicas.min (3) must not exceed churn-model:replicas.max (2)",
      ],
      ["replicas", '{"min":0,"max":2}', "churn-model:replicas.min must be an integer from 1 to 100 (got 0)"],
      ["replicas", '{"max":2}', "churn-model:replicas.min is required"],
      [
        "resources",
        '{"requests":{"cpu":"lots","memory":"256Mi"}}',
        'churn-model:resources.requests.cpu must be a CPU quantity like "250m" or "1" (got "lots")',
      ],
      [
        "resources",
        '{"limits":{"cpu":"1","memory":"1 GB"}}',
        'churn-model:resources.limits.memory must be a memory quantity like "256Mi" (got "1 GB")',
      ],
      ["containerPort", "80", 'churn-model:containerPort must be an integer from 1024 to 65535 (got "80")'],
      ["servicePort", "http", 'churn-model:servicePort must be an integer from 1 to 65535 (got "http")'],
      [
        "probes",
        '{"readinessPath":"healthz"}',
        'churn-model:probes.readinessPath must be an absolute HTTP path like "/healthz" (got "healthz")',
      ],
      [
        "prometheusUrl",
        "prometheus:9090",
        'churn-model:prometheusUrl must be an http(s) URL (got "prometheus:9090")',
      ],
      ["registry", "Registry.Example.com/ML", "churn-model:registry must be a registry prefix"],
      ["createNamespace", "yes", 'churn-model:createNamespace must be true or false (got "yes")'],
      ["aws", '{"enabled":"yes"}', 'churn-model:aws.enabled must be true or false (got "yes")'],
      ["promotionEvidence", "{}", "churn-model:promotionEvidence belongs to production only"],
      [
        "podLabels",
        '{"app.kubernetes.io/name":"other"}',
        'churn-model:podLabels key "app.kubernetes.io/name" must be a label key',
      ],
      ["podLabels", '{"team":"ml platform"}', "churn-model:podLabels.team must be a label value"],
    ];
    for (const [key, value, message] of cases) {
      it(`refuses ${key}=${JSON.stringify(value)} naming the key, and declares nothing`, function () {
        const map = stackConfigMap("staging");
        if (value === undefined) map.delete(key);
        else map.set(key, value);
        expect(() => config.readStackConfig(source(map), REPO)).to.throw(config.ConfigError, message);
        expect(recorded).to.have.length(0);
      });
    }

    it("adds extra pod labels without letting them replace the service's own", async function () {
      const map = stackConfigMap("staging");
      map.set("podLabels", '{"team":"ml-platform","churn-model/sandbox-fault":"not-ready"}');
      await settle(await program.program(config.readStackConfig(source(map), REPO)));
      const labels = one(DEPLOYMENT).inputs.spec.template.metadata.labels;
      expect(labels).to.include({ team: "ml-platform", "churn-model/sandbox-fault": "not-ready" });
      expect(labels["app.kubernetes.io/name"]).to.equal("churn-model");
      expect(one(DEPLOYMENT).inputs.spec.selector.matchLabels).to.not.have.property("team");
    });

    it("refuses fewer than two replicas in production", function () {
      const map = stackConfigMap("production");
      map.set("replicas", '{"min":1,"max":4}');
      expect(() => config.readStackConfig(source(map), REPO)).to.throw(
        "churn-model:replicas.min must be at least 2 in production (got 1)",
      );
    });

    it("lists every problem at once", function () {
      const map = stackConfigMap("staging");
      map.set("modelVersion", "latest");
      map.set("containerPort", "1");
      expect(() => config.readStackConfig(source(map), REPO))
        .to.throw(/modelVersion[\s\S]*containerPort/)
        .with.property("name", "ConfigError");
    });

    it("accepts an image digest as the model version and pins the image by digest", async function () {
      const map = stackConfigMap("staging");
      const digest = `sha256:${"ab".repeat(32)}`;
      map.set("modelVersion", digest);
      const outputs = await settle(await program.program(config.readStackConfig(source(map), REPO)));
      expect(outputs.image).to.equal(`registry.internal.example.com/ml/churn-model@${digest}`);
      expect(one(DEPLOYMENT).inputs.spec.template.metadata.labels["app.kubernetes.io/version"]).to.equal(
        `sha256_${Buffer.from("ab".repeat(32), "hex").toString("base64url")}`,
      );
    });
  });
});
