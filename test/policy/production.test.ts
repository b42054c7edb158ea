import { expect } from "chai";
import { productionAutoscaling } from "../../policy/policies/production-autoscaling";
import { productionDisruptionBudget } from "../../policy/policies/production-disruption-budget";
import { productionReplicas } from "../../policy/policies/production-replicas";
import { deployment, DEPLOYMENT, hpa, pdb } from "./fixtures";
import { fixtureUrn, runResourcePolicy, runStackPolicy, StackFixture, UNKNOWN, withValue } from "./helper";

const D = 'Deployment "churn-model"';
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";

describe("policy production-replicas", () => {
  const run = (props: Record<string, unknown>, config: Record<string, unknown> = {}) =>
    runResourcePolicy(productionReplicas, { type: DEPLOYMENT, props }, config);

  it("passes a production Deployment with 3 replicas and maxUnavailable 0", async () => {
    expect(await run(deployment())).to.deep.equal({ violations: [], urns: [] });
  });

  it("passes a staging Deployment with one replica and the default strategy", async () => {
    let props = withValue(deployment({ environment: "staging" }), ["spec", "replicas"], 1);
    props = withValue(props, ["spec", "strategy"], undefined);
    expect((await run(props)).violations).to.deep.equal([]);
  });

  it("refuses a single replica in production", async () => {
    expect((await run(withValue(deployment(), ["spec", "replicas"], 1))).violations).to.deep.equal([
      `${D} in production must run at least 2 replicas (spec.replicas is 1)`,
    ]);
  });

  it("refuses unset replicas in production", async () => {
    expect((await run(withValue(deployment(), ["spec", "replicas"], undefined))).violations).to.deep.equal([
      `${D} in production must set spec.replicas to at least 2 (unset means 1)`,
    ]);
  });

  it("applies a configured minimum", async () => {
    expect((await run(deployment(), { minReplicas: 4 })).violations).to.deep.equal([
      `${D} in production must run at least 4 replicas (spec.replicas is 3)`,
    ]);
  });

  it("refuses the Recreate strategy", async () => {
    const props = withValue(deployment(), ["spec", "strategy"], { type: "Recreate" });
    expect((await run(props)).violations).to.deep.equal([
      `${D} in production must use the RollingUpdate strategy (spec.strategy.type is Recreate)`,
    ]);
  });

  it("refuses maxUnavailable 1", async () => {
    const props = withValue(deployment(), ["spec", "strategy", "rollingUpdate", "maxUnavailable"], 1);
    expect((await run(props)).violations).to.deep.equal([
      `${D} in production must set spec.strategy.rollingUpdate.maxUnavailable to 0 (it is 1)`,
    ]);
  });

  it("refuses an unset maxUnavailable, which Kubernetes reads as 25%", async () => {
    const props = withValue(deployment(), ["spec", "strategy"], undefined);
    expect((await run(props)).violations).to.deep.equal([
      `${D} in production must set spec.strategy.rollingUpdate.maxUnavailable to 0 (unset means 25%)`,
    ]);
  });

  it('accepts maxUnavailable written as "0%"', async () => {
    const props = withValue(deployment(), ["spec", "strategy", "rollingUpdate", "maxUnavailable"], "0%");
    expect((await run(props)).violations).to.deep.equal([]);
  });

  it("leaves an unknown replica count to the update, with the engine's advisory note at preview", async () => {
    const outcome = await run(withValue(deployment(), ["spec", "replicas"], UNKNOWN));
    expect(outcome.violations).to.deep.equal([]);
    expect(outcome.unknownAtPreview).to.equal(
      "can't run policy 'production-replicas' during preview: string value at .spec.replicas can't be known " +
        "during preview",
    );
  });
});

function stack(extra: StackFixture[] = [], without: string[] = []): StackFixture[] {
  const base: StackFixture[] = [
    { type: DEPLOYMENT, name: "churn-model-deployment", props: deployment() },
    { type: HPA, name: "churn-model-hpa", props: hpa() },
    { type: PDB, name: "churn-model-pdb", props: pdb() },
  ];
  return [...base.filter((f) => !without.includes(f.name)), ...extra];
}

function replace(fixtures: StackFixture[], name: string, props: Record<string, unknown>): StackFixture[] {
  return fixtures.map((f) => (f.name === name ? { ...f, props } : f));
}

describe("policy production-autoscaling", () => {
  const run = (fixtures: StackFixture[]) => runStackPolicy(productionAutoscaling, fixtures);

  it("passes a production Deployment targeted by an HPA with minReplicas 3", async () => {
    expect(await run(stack())).to.deep.equal({ violations: [], urns: [] });
  });

  it("refuses a production Deployment no HPA targets", async () => {
    const outcome = await run(stack([], ["churn-model-hpa"]));
    expect(outcome.violations).to.deep.equal([
      `${D} in production must be the scale target of a HorizontalPodAutoscaler with minReplicas of at least 2; ` +
        "none targets it",
    ]);
    expect(outcome.urns).to.deep.equal([fixtureUrn(DEPLOYMENT, "churn-model-deployment")]);
  });

  it("refuses an HPA whose minReplicas is 1", async () => {
    const outcome = await run(replace(stack(), "churn-model-hpa", hpa("production", 1)));
    expect(outcome.violations).to.deep.equal([
      `HorizontalPodAutoscaler "churn-model" must keep ${D} at minReplicas of at least 2 in production (it is 1)`,
    ]);
    expect(outcome.urns).to.deep.equal([fixtureUrn(HPA, "churn-model-hpa")]);
  });

  it("refuses an HPA without minReplicas, which Kubernetes reads as 1", async () => {
    const outcome = await run(
      replace(stack(), "churn-model-hpa", withValue(hpa(), ["spec", "minReplicas"], undefined)),
    );
    expect(outcome.violations).to.deep.equal([
      `HorizontalPodAutoscaler "churn-model" must keep ${D} at minReplicas of at least 2 in production ` +
        "(it is unset, which means 1)",
    ]);
  });

  it("does not count an HPA in another namespace", async () => {
    const elsewhere = withValue(hpa(), ["metadata", "namespace"], "staging");
    expect((await run(replace(stack(), "churn-model-hpa", elsewhere))).violations).to.deep.equal([
      `${D} in production must be the scale target of a HorizontalPodAutoscaler with minReplicas of at least 2; ` +
        "none targets it",
    ]);
  });

  it("does not count an HPA that targets another Deployment", async () => {
    const other = withValue(hpa(), ["spec", "scaleTargetRef", "name"], "feature-store");
    expect((await run(replace(stack(), "churn-model-hpa", other))).violations).to.deep.equal([
      `${D} in production must be the scale target of a HorizontalPodAutoscaler with minReplicas of at least 2; ` +
        "none targets it",
    ]);
  });

  it("asks nothing of a staging Deployment", async () => {
    const staging = [{ type: DEPLOYMENT, name: "d", props: deployment({ environment: "staging" }) }];
    expect((await run(staging)).violations).to.deep.equal([]);
  });
});

describe("policy production-disruption-budget", () => {
  const run = (fixtures: StackFixture[]) => runStackPolicy(productionDisruptionBudget, fixtures);
  const NONE = `${D} in production must be covered by a PodDisruptionBudget whose selector matches its pod labels; none does`;

  it("passes a production Deployment whose pods a PDB selects and protects", async () => {
    expect(await run(stack())).to.deep.equal({ violations: [], urns: [] });
  });

  it("refuses a production Deployment without a PDB", async () => {
    const outcome = await run(stack([], ["churn-model-pdb"]));
    expect(outcome.violations).to.deep.equal([NONE]);
    expect(outcome.urns).to.deep.equal([fixtureUrn(DEPLOYMENT, "churn-model-deployment")]);
  });

  it("refuses a PDB whose selector does not match the pod labels", async () => {
    const wrong = withValue(pdb(), ["spec", "selector", "matchLabels", "app.kubernetes.io/name"], "churn");
    expect((await run(replace(stack(), "churn-model-pdb", wrong))).violations).to.deep.equal([NONE]);
  });

  it("refuses a PDB in another namespace", async () => {
    const elsewhere = withValue(pdb(), ["metadata", "namespace"], "default");
    expect((await run(replace(stack(), "churn-model-pdb", elsewhere))).violations).to.deep.equal([NONE]);
  });

  it("refuses a PDB without a selector, which selects no pods", async () => {
    const none = withValue(pdb(), ["spec", "selector"], undefined);
    expect((await run(replace(stack(), "churn-model-pdb", none))).violations).to.deep.equal([NONE]);
  });

  it("accepts a selector written with matchExpressions", async () => {
    const expr = withValue(pdb(), ["spec", "selector"], {
      matchExpressions: [
        { key: "app.kubernetes.io/name", operator: "In", values: ["churn-model"] },
        { key: "churn-model/environment", operator: "NotIn", values: ["staging"] },
        { key: "app.kubernetes.io/version", operator: "Exists" },
        { key: "canary", operator: "DoesNotExist" },
      ],
    });
    expect((await run(replace(stack(), "churn-model-pdb", expr))).violations).to.deep.equal([]);
  });

  it("refuses matchExpressions that exclude the pods", async () => {
    const expr = withValue(pdb(), ["spec", "selector"], {
      matchExpressions: [{ key: "app.kubernetes.io/version", operator: "DoesNotExist" }],
    });
    expect((await run(replace(stack(), "churn-model-pdb", expr))).violations).to.deep.equal([NONE]);
  });

  it("refuses a PDB that lets every replica be disrupted", async () => {
    const loose = withValue(pdb(), ["spec", "maxUnavailable"], 3);
    const outcome = await run(replace(stack(), "churn-model-pdb", loose));
    expect(outcome.violations).to.deep.equal([
      `PodDisruptionBudget "churn-model" selects the pods of ${D} but lets all of them be disrupted at once: ` +
        "maxUnavailable is 3 with 3 replicas",
    ]);
    expect(outcome.urns).to.deep.equal([fixtureUrn(PDB, "churn-model-pdb")]);
  });

  it("refuses a PDB with minAvailable 0%", async () => {
    let loose = withValue(pdb(), ["spec", "maxUnavailable"], undefined);
    loose = withValue(loose, ["spec", "minAvailable"], "0%");
    expect((await run(replace(stack(), "churn-model-pdb", loose))).violations).to.deep.equal([
      `PodDisruptionBudget "churn-model" selects the pods of ${D} but lets all of them be disrupted at once: ` +
        'minAvailable is "0%"',
    ]);
  });

  it("accepts minAvailable 50%", async () => {
    let half = withValue(pdb(), ["spec", "maxUnavailable"], undefined);
    half = withValue(half, ["spec", "minAvailable"], "50%");
    expect((await run(replace(stack(), "churn-model-pdb", half))).violations).to.deep.equal([]);
  });

  it("asks nothing of a staging Deployment", async () => {
    const staging = [{ type: DEPLOYMENT, name: "d", props: deployment({ environment: "staging" }) }];
    expect((await run(staging)).violations).to.deep.equal([]);
  });

  it("leaves an unknown selector to the update, with the engine's advisory note at preview", async () => {
    const unknown = withValue(pdb(), ["spec", "selector"], UNKNOWN);
    const outcome = await run(replace(stack(), "churn-model-pdb", unknown));
    expect(outcome.violations).to.deep.equal([]);
    expect(outcome.unknownAtPreview).to.equal(
      "can't run policy 'production-disruption-budget' during preview: string value at .spec.selector can't be " +
        "known during preview",
    );
  });
});
