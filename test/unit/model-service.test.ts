/**
 * The ModelService component on its own (the awsx ecr/repository.test.ts habit): what its
 * children receive, for the defaults and for a second service sharing the namespace.
 */
import { expect } from "chai";
import { byType, installMocks, recorded, Recorded, settle } from "../helpers/pulumi-mocks";

type InfraModule = typeof import("../../infra");

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const DIGEST = `sha256:${"ab".repeat(32)}`;

const BASE = {
  namespace: "ml",
  environment: "staging" as const,
  modelVersion: "1.1.0",
  repository: "registry.example.com/ml/churn-model",
  replicas: { min: 1, max: 3 },
  resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
};

function named(type: string, name: string): Recorded {
  const found = byType(type).filter((r) => r.inputs.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0];
}

/** Whether a label selector selects a pod with these labels. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe("ModelService component", function () {
  let infra: InfraModule;

  before(async function () {
    installMocks();
    infra = await import("../../infra");
  });

  beforeEach(function () {
    recorded.length = 0;
  });

  async function declare(...services: [string, Partial<import("../../infra").ModelServiceArgs>][]) {
    const made = services.map(([name, args]) => new infra.ModelService(name, { ...BASE, ...args }));
    await settle({ done: made.map((m) => m.deployedAt) });
    return made;
  }

  it("names its children churn-model and derives the image from repository and version", async function () {
    await declare(["churn-model", {}]);
    const d = named(DEPLOYMENT, "churn-model").inputs;
    expect(d.spec.template.spec.containers[0].image).to.equal("registry.example.com/ml/churn-model:1.1.0");
    expect(d.spec.template.metadata.labels).to.include({
      "app.kubernetes.io/name": "churn-model",
      "churn-model/environment": "staging",
      "app.kubernetes.io/version": "1.1.0",
    });
    const svc = named(SERVICE, "churn-model").inputs;
    expect(svc.spec.selector).to.deep.equal(d.spec.selector.matchLabels);
    expect(selects(svc.spec.selector, d.spec.template.metadata.labels)).to.equal(true);
    expect(named(CONFIGMAP, "churn-model-release-1-1-0").inputs.metadata.labels).to.include({
      "churn-model/release-record": "true",
    });
  });

  it("pins a digest version as <repository>@<digest>", async function () {
    await declare(["churn-model", { modelVersion: DIGEST }]);
    expect(named(DEPLOYMENT, "churn-model").inputs.spec.template.spec.containers[0].image).to.equal(
      `registry.example.com/ml/churn-model@${DIGEST}`,
    );
  });

  it("lets two services share a namespace: own names, own labels, selectors that never cross", async function () {
    await declare(
      ["churn-model", {}],
      [
        "fraud-model",
        {
          appName: "fraud-model",
          labelPrefix: "fraud.example.com",
          createNamespace: false,
          repository: "registry.example.com/ml/fraud-model",
          modelVersion: "3.0.1",
        },
      ],
    );
    expect(byType("kubernetes:core/v1:Namespace")).to.have.length(1);
    for (const type of [DEPLOYMENT, SERVICE, "kubernetes:core/v1:ServiceAccount"]) {
      expect(
        byType(type)
          .map((r) => r.inputs.metadata.name)
          .sort(),
        type,
      ).to.deep.equal(["churn-model", "fraud-model"]);
    }
    const churn = named(DEPLOYMENT, "churn-model").inputs;
    const fraud = named(DEPLOYMENT, "fraud-model").inputs;
    expect(fraud.spec.template.spec.containers[0].image).to.equal(
      "registry.example.com/ml/fraud-model:3.0.1",
    );
    expect(fraud.spec.template.spec.containers[0].name).to.equal("fraud-model");
    expect(fraud.spec.template.metadata.labels).to.include({
      "app.kubernetes.io/name": "fraud-model",
      "fraud.example.com/environment": "staging",
    });
    expect(
      Object.keys(fraud.spec.template.metadata.labels).filter((k) => k.startsWith("churn-model/")),
    ).to.deep.equal(["churn-model/scrape-job"]);
    const churnSelector = named(SERVICE, "churn-model").inputs.spec.selector;
    const fraudSelector = named(SERVICE, "fraud-model").inputs.spec.selector;
    expect(selects(churnSelector, fraud.spec.template.metadata.labels)).to.equal(false);
    expect(selects(fraudSelector, churn.spec.template.metadata.labels)).to.equal(false);
    expect(
      byType(CONFIGMAP)
        .map((r) => r.inputs.metadata.name)
        .sort(),
    ).to.deep.equal(["churn-model-release-1-1-0", "fraud-model-release-3-0-1"]);
    expect(named(CONFIGMAP, "fraud-model-release-3-0-1").inputs.metadata.labels).to.include({
      "fraud.example.com/release-record": "true",
    });
  });

  it("labels a canary track with the service's prefix", async function () {
    await declare([
      "fraud-model",
      {
        appName: "fraud-model",
        labelPrefix: "fraud.example.com",
        environment: "production",
        replicas: { min: 2, max: 4 },
        canary: { modelVersion: "3.1.0", replicas: 1 },
      },
    ]);
    const canary = named(DEPLOYMENT, "fraud-model-canary").inputs;
    expect(canary.spec.selector.matchLabels).to.deep.equal({
      "app.kubernetes.io/name": "fraud-model",
      "fraud.example.com/environment": "production",
      "fraud.example.com/track": "canary",
    });
    expect(canary.spec.template.spec.containers[0].image).to.equal(
      "registry.example.com/ml/churn-model:3.1.0",
    );
    const pdb = byType(PDB)[0].inputs;
    expect(selects(pdb.spec.selector.matchLabels, canary.spec.template.metadata.labels)).to.equal(true);
  });

  it("takes a given image whose tag is the model version", async function () {
    await declare(["churn-model", { repository: undefined, image: "mirror.example.com/churn-model:1.1.0" }]);
    expect(named(DEPLOYMENT, "churn-model").inputs.spec.template.spec.containers[0].image).to.equal(
      "mirror.example.com/churn-model:1.1.0",
    );
  });

  const refusals: [string, Partial<import("../../infra").ModelServiceArgs>, string][] = [
    [
      "an image whose tag is another version",
      { image: "registry.example.com/ml/churn-model:1.2.0" },
      "image (registry.example.com/ml/churn-model:1.2.0) must run version 1.1.0 (its tag or digest)",
    ],
    [
      "an image with the tag latest",
      { image: "registry.example.com/ml/churn-model:latest" },
      "image (registry.example.com/ml/churn-model:latest) must run version 1.1.0 (its tag or digest)",
    ],
    [
      "an image pinned to another digest",
      { modelVersion: DIGEST, image: `registry.example.com/ml/churn-model@sha256:${"cd".repeat(32)}` },
      `must run version ${DIGEST}`,
    ],
    ["neither repository nor image", { repository: undefined }, "repository or image must be given"],
    [
      "an app name that is not a DNS label",
      { appName: "Churn_Model" },
      "appName (Churn_Model) must be a DNS label of at most 40 characters",
    ],
    [
      "a label prefix that is not a DNS subdomain",
      { labelPrefix: "churn model/" },
      "labelPrefix (churn model/) must be a DNS subdomain",
    ],
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what} before declaring any child`, async function () {
      expect(() => new infra.ModelService("churn-model", { ...BASE, ...args })).to.throw(message);
      await settle({});
      expect(recorded.filter((r) => r.type !== "churn:k8s:ModelService")).to.deep.equal([]);
    });
  }

  it("lets a mismatching image through only when told to skip the check", async function () {
    await declare([
      "churn-model",
      { image: "registry.example.com/ml/churn-model:latest", skipImageVersionCheck: true },
    ]);
    expect(named(DEPLOYMENT, "churn-model").inputs.spec.template.spec.containers[0].image).to.equal(
      "registry.example.com/ml/churn-model:latest",
    );
  });
});
