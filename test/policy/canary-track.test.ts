import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { productionAutoscaling } from "../../policy/policies/production-autoscaling";
import { productionDisruptionBudget } from "../../policy/policies/production-disruption-budget";
import { productionReplicas } from "../../policy/policies/production-replicas";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import { canaryPart } from "../fixtures/canary-evidence";
import {
  deployment,
  DEPLOYMENT,
  EVIDENCE_CONFIG,
  evidenceFor,
  hpa,
  pdb,
  rollbackEvidenceFor,
} from "./fixtures";
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

describe("the pack on production's stable where only canary promotions are accepted", () => {
  const CANARY_ONLY = {
    ...EVIDENCE_CONFIG,
    strategies: ["canary"],
    canary: JSON.parse(fs.readFileSync(path.join(__dirname, "../../policy/config/production.json"), "utf8"))[
      "promotion-evidence"
    ].canary,
  };
  const STABLE = 'Deployment "churn-model"';
  const run = (props: Record<string, unknown>, config: Record<string, unknown> = CANARY_ONLY) =>
    runResourcePolicy(promotionEvidence, { type: DEPLOYMENT, props }, config);

  it("lets the stable move to a version whose evidence shows its canary passed every configured step", async () => {
    const evidence = evidenceFor("1.2.0", { canary: canaryPart("1.1.0") });
    expect((await run(deployment({ evidence }))).violations).to.deep.equal([]);
  });

  it("refuses the stable moved without a canary verdict (all-at-once evidence, or stack config edited by hand)", async () => {
    expect((await run(deployment())).violations).to.deep.equal([
      `${STABLE}: the evidence of 1.2.0 shows no canary, and this target accepts only canary: the stable may ` +
        "move only to a version that passed its canary in production (or back to an earlier promoted one)",
    ]);
    // The same evidence passes where all-at-once is accepted, as the committed configs do today.
    expect(
      (await run(deployment(), { ...CANARY_ONLY, strategies: ["all-at-once", "canary"] })).violations,
    ).to.deep.equal([]);
  });

  it("refuses the stable moved to an aborted canary, or one that skipped a configured step", async () => {
    const aborted = evidenceFor("1.2.0", {
      canary: canaryPart("1.1.0", {
        weights: [10],
        verdict: "fail",
        aborted: { cause: "fail", reason: "worse" },
      }),
    });
    const violations = (await run(deployment({ evidence: aborted }))).violations;
    expect(violations).to.include(`${STABLE}: the canary of 1.2.0 was aborted (fail): worse`);
    expect(violations).to.include(`${STABLE}: the canary of 1.2.0 did not pass its 10 % step (fail)`);
    const skipped = evidenceFor("1.2.0", { canary: canaryPart("1.1.0", { weights: [50] }) });
    expect((await run(deployment({ evidence: skipped }))).violations).to.deep.equal([
      `${STABLE}: the canary of 1.2.0 ran the steps 50 %, but this target configures 10 → 50 %`,
    ]);
  });

  it("refuses a canary part the signature does not cover", async () => {
    const signed = JSON.parse(evidenceFor("1.2.0"));
    signed.record.canary = canaryPart("1.1.0");
    const violations = (await run(deployment({ evidence: JSON.stringify(signed) }))).violations;
    expect(violations).to.deep.equal([
      `${STABLE}: promotion evidence carries a signature that does not verify under the configured public key`,
    ]);
  });

  it("lets the stable return to an earlier promoted version (rollback) without a canary", async () => {
    const outcome = await run(deployment({ version: "1.1.0", evidence: rollbackEvidenceFor("1.1.0") }));
    expect(outcome.violations).to.deep.equal([]);
  });

  it("still lets the canary track in with staging evidence only", async () => {
    let props = withValue(deployment({ version: "1.3.0" }), ["metadata", "name"], "churn-model-canary");
    props = withValue(props, ["spec", "selector", "matchLabels", "churn-model/track"], "canary");
    props = withValue(props, ["spec", "template", "metadata", "labels", "churn-model/track"], "canary");
    expect((await run(props)).violations).to.deep.equal([]);
  });
});
