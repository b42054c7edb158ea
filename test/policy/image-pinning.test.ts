import { expect } from "chai";
import { imagePinning } from "../../policy/policies/image-pinning";
import { deployment, DEPLOYMENT, REGISTRY } from "./fixtures";
import { runResourcePolicy, UNKNOWN, withValue } from "./helper";

const IMAGE = ["spec", "template", "spec", "containers", 0, "image"];
const CONFIG = { allowedRegistries: [REGISTRY, "123456789012.dkr.ecr.*.amazonaws.com", "localhost:5000"] };
const C = 'container "churn-model" in Deployment "churn-model"';

function run(image: unknown, config: Record<string, unknown> = CONFIG, type = DEPLOYMENT) {
  return runResourcePolicy(imagePinning, { type, props: withValue(deployment(), IMAGE, image) }, config);
}

describe("policy image-pinning", () => {
  it("passes a semver-tagged image from an allowed registry", async () => {
    expect(await run(`${REGISTRY}/churn-model:1.2.0`)).to.deep.equal({ violations: [], urns: [] });
  });

  it("passes a digest-pinned image", async () => {
    expect((await run(`${REGISTRY}/churn-model@sha256:${"0f".repeat(32)}`)).violations).to.deep.equal([]);
  });

  it("passes a pre-release semver tag", async () => {
    expect((await run(`${REGISTRY}/churn-model:1.3.0-rc.1`)).violations).to.deep.equal([]);
  });

  it("passes an ECR image of the named account in any region (a wildcard region)", async () => {
    const image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-model:1.2.0";
    expect((await run(image)).violations).to.deep.equal([]);
  });

  it("refuses a wildcard account entry: it allows nothing, and another account's registry is refused", async () => {
    const image = "999999999999.dkr.ecr.eu-west-1.amazonaws.com/churn-model:1.2.0";
    const outcome = await run(image, { allowedRegistries: [REGISTRY, "*.dkr.ecr.*.amazonaws.com"] });
    expect(outcome.violations).to.deep.equal([
      'Deployment "churn-model": allowedRegistries entry "*.dkr.ecr.*.amazonaws.com" has a wildcard in its first ' +
        "host label (the account): name each registry's account; it allows nothing",
      `${C} pulls 999999999999.dkr.ecr.eu-west-1.amazonaws.com/churn-model, which is under no allowed registry ` +
        `(allowedRegistries: ${REGISTRY})`,
    ]);
  });

  it("passes a registry with a port", async () => {
    expect((await run("localhost:5000/churn-model:1.2.0")).violations).to.deep.equal([]);
  });

  it("refuses the latest tag", async () => {
    expect((await run(`${REGISTRY}/churn-model:latest`)).violations).to.deep.equal([
      `${C} has image "${REGISTRY}/churn-model:latest": the tag "latest" is not a semantic version; pin it to a ` +
        "semantic version tag or a sha256 digest",
    ]);
  });

  it("refuses an untagged image", async () => {
    expect((await run(`${REGISTRY}/churn-model`)).violations).to.deep.equal([
      `${C} has image "${REGISTRY}/churn-model" without a tag: pin it to a semantic version tag or a sha256 digest`,
    ]);
  });

  it("refuses a tag that is not a full semantic version", async () => {
    expect((await run(`${REGISTRY}/churn-model:1.2`)).violations).to.deep.equal([
      `${C} has image "${REGISTRY}/churn-model:1.2": the tag "1.2" is not a semantic version; pin it to a ` +
        "semantic version tag or a sha256 digest",
    ]);
  });

  it("refuses a malformed digest", async () => {
    expect((await run(`${REGISTRY}/churn-model@sha256:abc`)).violations).to.deep.equal([
      `${C} has image "${REGISTRY}/churn-model@sha256:abc": a digest must be sha256:<64 lower-case hex digits>`,
    ]);
  });

  it("refuses an empty image", async () => {
    expect((await run("")).violations).to.deep.equal([`${C} must name an image`]);
  });

  it("refuses an image reference that does not parse", async () => {
    expect((await run(`${REGISTRY}//churn-model:1.2.0`)).violations).to.deep.equal([
      `${C} has image "${REGISTRY}//churn-model:1.2.0", which is not a valid image reference`,
    ]);
  });

  it("refuses a registry that is not on the allow-list", async () => {
    expect((await run("registry.other.example.net/ml/churn-model:1.2.0")).violations).to.deep.equal([
      `${C} pulls registry.other.example.net/ml/churn-model, which is under no allowed registry ` +
        `(allowedRegistries: ${CONFIG.allowedRegistries.join(", ")})`,
    ]);
  });

  it("refuses a sibling path of an allowed registry path", async () => {
    expect((await run("registry.internal.example.com/mlx/churn-model:1.2.0")).violations).to.deep.equal([
      `${C} pulls registry.internal.example.com/mlx/churn-model, which is under no allowed registry ` +
        `(allowedRegistries: ${CONFIG.allowedRegistries.join(", ")})`,
    ]);
  });

  it("refuses an image that names no registry", async () => {
    expect((await run("churn-model:1.2.0")).violations).to.deep.equal([
      `${C} has image "churn-model:1.2.0", which names no registry; images must come from an allowed registry ` +
        `(allowedRegistries: ${CONFIG.allowedRegistries.join(", ")})`,
    ]);
  });

  it("refuses every registry when none is configured (the default)", async () => {
    expect((await run(`${REGISTRY}/churn-model:1.2.0`, {})).violations).to.deep.equal([
      `${C} pulls ${REGISTRY}/churn-model, which is under no allowed registry (allowedRegistries: none configured)`,
    ]);
  });

  it("checks init containers too", async () => {
    const props = withValue(
      deployment(),
      ["spec", "template", "spec", "initContainers"],
      [{ name: "fetch-model", image: `${REGISTRY}/model-fetcher:latest` }],
    );
    const outcome = await runResourcePolicy(imagePinning, { type: DEPLOYMENT, props }, CONFIG);
    expect(outcome.violations).to.deep.equal([
      `init container "fetch-model" in Deployment "churn-model" has image "${REGISTRY}/model-fetcher:latest": ` +
        'the tag "latest" is not a semantic version; pin it to a semantic version tag or a sha256 digest',
    ]);
  });

  it("checks the pods of a CronJob", async () => {
    const props = {
      metadata: { name: "retrain" },
      spec: {
        jobTemplate: { spec: { template: { spec: { containers: [{ name: "t", image: "busybox" }] } } } },
      },
    };
    const outcome = await runResourcePolicy(
      imagePinning,
      { type: "kubernetes:batch/v1:CronJob", props },
      CONFIG,
    );
    expect(outcome.violations).to.deep.equal([
      'container "t" in CronJob "retrain" has image "busybox" without a tag: pin it to a semantic version tag or a ' +
        "sha256 digest",
      'container "t" in CronJob "retrain" has image "busybox", which names no registry; images must come from an ' +
        `allowed registry (allowedRegistries: ${CONFIG.allowedRegistries.join(", ")})`,
    ]);
  });

  it("leaves an unknown image to the update, with the engine's advisory note at preview", async () => {
    const outcome = await run(UNKNOWN);
    expect(outcome.violations).to.deep.equal([]);
    expect(outcome.unknownAtPreview).to.equal(
      "can't run policy 'image-pinning' during preview: string value at " +
        ".spec.template.spec.containers.0.image can't be known during preview",
    );
  });
});
