import { expect } from "chai";
import { productionAutoscaling } from "../../policy/policies/production-autoscaling";
import { productionDisruptionBudget } from "../../policy/policies/production-disruption-budget";
import { productionReplicas } from "../../policy/policies/production-replicas";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import { deployment, DEPLOYMENT, EVIDENCE_CONFIG, evidenceFor, hpa, pdb } from "./fixtures";
import { runResourcePolicy, runStackPolicy, StackFixture, withValue } from "./helper";

const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";

/** The canary Deployment as the program declares it: the stable's pod at its own version, one pod. */
function canary(version = "1.3.0", evidence: string | null = evidenceFor(version)): Record<string, unknown> {
  let props = deployment({ version, evidence });
  props = withValue(props, ["metadata", "name"], "churn-model-canary");
  props = withValue(props, ["spec", "replicas"], 1);
  props = withValue(props, ["spec", "selector", "matchLabels", "churn-model/track"], "canary");
  return withValue(props, ["spec", "template", "metadata", "labels", "churn-model/track"], "canary");
}

function stack(withStable = true): StackFixture[] {
  const fixtures: StackFixture[] = [
    { type: DEPLOYMENT, name: "churn-model-canary-deployment", props: canary() },
    { type: HPA, name: "churn-model-hpa", props: hpa() },
    { type: PDB, name: "churn-model-pdb", props: pdb() },
  ];
  if (withStable) fixtures.push({ type: DEPLOYMENT, name: "churn-model-deployment", props: deployment() });
  return fixtures;
}

describe("the pack with a canary track in production", () => {
  it("lets a canary run one pod", async () => {
    const outcome = await runResourcePolicy(productionReplicas, { type: DEPLOYMENT, props: canary() });
    expect(outcome.violations).to.deep.equal([]);
  });

  it("still refuses a stable of one pod, and a canary label without the canary selector", async () => {
    const stable = withValue(deployment(), ["spec", "replicas"], 1);
    expect(
      (await runResourcePolicy(productionReplicas, { type: DEPLOYMENT, props: stable })).violations,
    ).to.have.length(1);
    const posing = withValue(
      stable,
      ["spec", "template", "metadata", "labels", "churn-model/track"],
      "canary",
    );
    expect(
      (await runResourcePolicy(productionReplicas, { type: DEPLOYMENT, props: posing })).violations,
    ).to.deep.equal([
      'Deployment "churn-model" in production must run at least 2 replicas (spec.replicas is 1)',
    ]);
  });

  it("needs no autoscaler for the canary beside an autoscaled stable", async () => {
    expect((await runStackPolicy(productionAutoscaling, stack())).violations).to.deep.equal([]);
  });

  it("refuses a canary without a stable beside it", async () => {
    expect((await runStackPolicy(productionAutoscaling, stack(false))).violations).to.deep.equal([
      'Deployment "churn-model-canary" is a canary track in production without a stable churn-model Deployment ' +
        "beside it in its namespace: a canary runs only next to the stable it is compared with",
    ]);
  });

  it("covers the canary with the service's disruption budget", async () => {
    expect((await runStackPolicy(productionDisruptionBudget, stack())).violations).to.deep.equal([]);
  });

  it("refuses a canary without valid staging promotion evidence for its version", async () => {
    const run = (props: Record<string, unknown>) =>
      runResourcePolicy(promotionEvidence, { type: DEPLOYMENT, props }, EVIDENCE_CONFIG);
    expect((await run(canary())).violations).to.deep.equal([]);
    const without = await run(canary("1.3.0", null));
    expect(without.violations[0]).to.contain(
      'Deployment "churn-model-canary" runs in production without promotion evidence',
    );
    const other = await run(canary("1.3.0", evidenceFor("1.2.0")));
    expect(other.violations.join("\n")).to.contain("1.2.0");
  });
});
