import { expect } from "chai";
import { environmentLabel } from "../../policy/policies/environment-label";
import { deployment, DEPLOYMENT } from "./fixtures";
import { runResourcePolicy, UNKNOWN, withValue } from "./helper";

const LABEL = ["metadata", "labels", "churn-model/environment"];

function run(
  props: Record<string, unknown>,
  config: Record<string, unknown> = { environment: "production" },
) {
  return runResourcePolicy(environmentLabel, { type: DEPLOYMENT, props }, config);
}

describe("policy environment-label", () => {
  it("passes a production Deployment under the production config", async () => {
    expect(await run(deployment())).to.deep.equal({ violations: [], urns: [] });
  });

  it("passes a staging Deployment under the staging config", async () => {
    expect(
      (await run(deployment({ environment: "staging" }), { environment: "staging" })).violations,
    ).to.deep.equal([]);
  });

  it("refuses a Deployment labelled staging in a production stack", async () => {
    expect((await run(withValue(deployment(), LABEL, "staging"))).violations).to.deep.equal([
      'Deployment "churn-model" must carry the label churn-model/environment: production, the environment this ' +
        'policy config is for; it has "staging"',
    ]);
  });

  it("refuses a Deployment labelled production in a staging stack", async () => {
    expect((await run(deployment(), { environment: "staging" })).violations).to.deep.equal([
      'Deployment "churn-model" must carry the label churn-model/environment: staging, the environment this ' +
        'policy config is for; it has "production"',
    ]);
  });

  it("refuses a churn-model Deployment without the label", async () => {
    expect((await run(withValue(deployment(), LABEL, undefined))).violations).to.deep.equal([
      'Deployment "churn-model" must carry the label churn-model/environment: production, the environment this ' +
        "policy config is for; it has none",
    ]);
  });

  it("checks nothing when its config names no environment", async () => {
    expect((await run(withValue(deployment(), LABEL, "staging"), {})).violations).to.deep.equal([]);
  });

  it("ignores workloads that are not the churn-model service", async () => {
    let props = withValue(deployment(), ["metadata", "name"], "feature-store");
    props = withValue(props, ["metadata", "labels"], {});
    props = withValue(props, ["spec", "template", "metadata", "labels"], {});
    props = withValue(
      props,
      ["spec", "template", "spec", "containers", 0, "image"],
      "r.example.com/fs:1.0.0",
    );
    expect((await run(props)).violations).to.deep.equal([]);
  });

  it("leaves an unknown label to the update, with the engine's advisory note at preview", async () => {
    const outcome = await run(withValue(deployment(), LABEL, UNKNOWN));
    expect(outcome.violations).to.deep.equal([]);
    expect(outcome.unknownAtPreview).to.equal(
      "can't run policy 'environment-label' during preview: string value at .metadata.labels.churn-model/environment " +
        "can't be known during preview",
    );
  });
});
