import { expect } from "chai";
import { canaryEvidence, ChainSubject, stableChainProblems } from "../../scripts/promotion/canary/chain";
import type { CanaryOutcome, StepRecord } from "../../scripts/promotion/canary/run";

function step(weight: number, verdict: StepRecord["verdict"]): StepRecord {
  return {
    index: weight === 10 ? 1 : 2,
    weight,
    canaryReplicas: weight === 10 ? 1 : 5,
    stableReplicas: weight === 10 ? 9 : 5,
    startedAt: "2026-01-05T10:00:15.000Z",
    endedAt: "2026-01-05T10:01:15.000Z",
    analyses: 3,
    verdict,
    reason: verdict === "pass" ? "every check passed after 60 s of the step" : "the canary is worse",
    comparison: {
      outcome: verdict,
      window: { start: "2026-01-05T10:00:15.000Z", end: "2026-01-05T10:01:15.000Z" },
      canaryVersion: "1.1.0",
      stableVersion: "1.0.0",
      checks: [
        {
          name: "latency_p99",
          status: verdict,
          canary: 30,
          stable: 28,
          worseBy: { estimate: 2, lower: -25, upper: Infinity },
          margin: 50,
          reason: "…",
        },
      ],
    },
  };
}

const PASSED: CanaryOutcome = { outcome: "passed", steps: [step(10, "pass"), step(50, "pass")] };
const WEIGHTS = [10, 50];

function subject(canary = canaryEvidence(PASSED, "1.0.0"), kind = "promotion"): ChainSubject {
  return { kind, modelVersion: "1.1.0", canary };
}

describe("the canary chain (stableChainProblems)", () => {
  it("records every step with its verdict and the interval, unbounded edges as null", () => {
    const e = canaryEvidence(PASSED, "1.0.0");
    expect(e).to.deep.include({ strategy: "canary", stableVersion: "1.0.0" });
    expect(e.steps.map((s) => [s.weight, s.canaryReplicas, s.stableReplicas, s.verdict])).to.deep.equal([
      [10, 1, 9, "pass"],
      [50, 5, 5, "pass"],
    ]);
    expect(e.steps[0].checks[0].worseBy).to.deep.equal({ lower: -25, upper: null });
    expect(JSON.parse(JSON.stringify(e))).to.deep.equal(e);
    expect(e).to.not.have.property("aborted");
  });

  it("records why an aborted canary stopped", () => {
    const aborted: CanaryOutcome = {
      outcome: "aborted",
      cause: "fail",
      reason: "the canary is worse than the stable: error rate 0.08",
      steps: [step(10, "fail")],
    };
    expect(canaryEvidence(aborted, "1.0.0").aborted).to.deep.equal({
      cause: "fail",
      reason: "the canary is worse than the stable: error rate 0.08",
    });
  });

  it("lets the stable move to a version that passed every configured step", () => {
    expect(stableChainProblems(subject(), ["canary"], WEIGHTS)).to.deep.equal([]);
  });

  it("always lets production return to an earlier promoted version", () => {
    expect(
      stableChainProblems({ kind: "rollback", modelVersion: "1.0.0" }, ["canary"], WEIGHTS),
    ).to.deep.equal([]);
  });

  it("refuses a stable moved without a canary where only canary promotions are accepted", () => {
    const problems = stableChainProblems({ kind: "promotion", modelVersion: "1.1.0" }, ["canary"], WEIGHTS);
    expect(problems).to.deep.equal([
      "the evidence of 1.1.0 shows no canary, and this target accepts only canary: the stable may move only to a " +
        "version that passed its canary in production (or back to an earlier promoted one)",
    ]);
  });

  it("accepts an all-at-once promotion where the target accepts it", () => {
    expect(
      stableChainProblems({ kind: "promotion", modelVersion: "1.1.0" }, ["canary", "all-at-once"], WEIGHTS),
    ).to.deep.equal([]);
  });

  it("refuses a canary that failed a step or was aborted", () => {
    const failed = canaryEvidence(
      { outcome: "aborted", cause: "fail", reason: "worse", steps: [step(10, "fail")] },
      "1.0.0",
    );
    const problems = stableChainProblems(subject(failed), ["canary"], WEIGHTS);
    expect(problems).to.include("the canary of 1.1.0 was aborted (fail): worse");
    expect(problems).to.include("the canary of 1.1.0 did not pass its 10 % step (fail)");
    expect(problems).to.include(
      "the canary of 1.1.0 ran the steps 10 %, but this target configures 10 → 50 %",
    );
  });

  it("refuses a canary that skipped or reordered the configured steps", () => {
    const skipped = canaryEvidence({ outcome: "passed", steps: [step(50, "pass")] }, "1.0.0");
    expect(stableChainProblems(subject(skipped), ["canary"], WEIGHTS)).to.deep.equal([
      "the canary of 1.1.0 ran the steps 50 %, but this target configures 10 → 50 %",
    ]);
  });

  it("refuses a canary compared with its own version and one where canaries are not accepted", () => {
    expect(stableChainProblems(subject(canaryEvidence(PASSED, "1.1.0")), ["canary"], WEIGHTS)).to.deep.equal([
      "the canary of 1.1.0 was compared with 1.1.0 itself",
    ]);
    expect(stableChainProblems(subject(), ["all-at-once"], WEIGHTS)).to.deep.equal([
      "this target does not accept canary promotions",
    ]);
  });
});
