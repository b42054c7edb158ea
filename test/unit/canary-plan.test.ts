import { expect } from "chai";
import {
  CanarySettings,
  chooseStrategy,
  parsePromotionStrategies,
} from "../../scripts/promotion/canary/config";
import { canarySize, describeStep, planCanary } from "../../scripts/promotion/canary/plan";
import { BadInput } from "../../scripts/promotion/errors";

const CRITERIA = {
  confidence: 0.95,
  minRequestsPerArm: 200,
  minLabeledPredictionsPerArm: 100,
  maxErrorRateIncrease: 0.02,
  maxLatencyP99IncreaseMs: 50,
  maxAccuracyDrop: 0.05,
};

const SECTION = {
  strategies: ["canary", "all-at-once"],
  canary: {
    steps: [
      { weight: 10, durationSeconds: 600, maxDurationSeconds: 1800 },
      { weight: 50, durationSeconds: 600, maxDurationSeconds: 1200 },
    ],
    analysisIntervalSeconds: 60,
    ...CRITERIA,
  },
};

function parse(section: Record<string, unknown>) {
  return parsePromotionStrategies(section, "policy/config/x.json");
}

function problemsOf(section: Record<string, unknown>): string {
  try {
    parse(section);
  } catch (err) {
    expect(err).to.be.instanceOf(BadInput);
    return (err as Error).message;
  }
  throw new Error("expected the section to be refused");
}

describe("canary sizing: weight → replicas (Argo Rollouts' basic-canary rounding)", () => {
  // [min, max, weight] → [canary, stable min, stable max]
  const table: [number, number, number, number, number, number][] = [
    [10, 20, 10, 1, 9, 18], // Argo's example: replicas 10, weight 10 → 1 and 9
    [10, 20, 50, 5, 5, 10],
    [10, 20, 30, 3, 7, 14], // 10 × 30 % is whole: no binary fraction rounds it to 4
    [5, 10, 30, 2, 4, 7], // 1.5 and 3.5 both round up: N + 1 pods, as Argo surges
    [3, 10, 10, 1, 3, 9], // 0.3 → 1, 2.7 → 3
    [2, 4, 50, 1, 2, 2], // the stable keeps production's floor of 2
    [2, 4, 99, 2, 2, 2], // 1.98 → 2 canary; the stable keeps 2
    [20, 40, 1, 1, 20, 40], // 0.2 → 1: a canary always has a pod
  ];
  for (const [min, max, weight, canary, stableMin, stableMax] of table) {
    it(`sizes weight ${weight} % of {min: ${min}, max: ${max}} as ${canary} canary and ${stableMin}..${stableMax} stable`, () => {
      const s = canarySize({ min, max }, { weight });
      expect(s.canaryReplicas).to.equal(canary);
      expect(s.stable).to.deep.equal({ min: stableMin, max: stableMax });
      expect(s.canaryShare).to.equal(canary / (canary + stableMin));
    });
  }

  it("takes an explicit replica count as it is and leaves the stable at full size", () => {
    expect(canarySize({ min: 3, max: 10 }, { replicas: 2 })).to.deep.equal({
      canaryReplicas: 2,
      stable: { min: 3, max: 10 },
      canaryShare: 0.4,
    });
  });

  for (const weight of [0, 100, 10.5, -5, Number.NaN]) {
    it(`refuses the weight ${weight}, naming the field`, () => {
      expect(() => canarySize({ min: 3, max: 10 }, { weight })).to.throw(RangeError, /canary\.weight/);
    });
  }

  for (const replicas of [0, 101, 1.5]) {
    it(`refuses the replica count ${replicas}, naming the field`, () => {
      expect(() => canarySize({ min: 3, max: 10 }, { replicas })).to.throw(RangeError, /canary\.replicas/);
    });
  }
});

describe("canary step plan", () => {
  const settings = parse(SECTION).canary as CanarySettings;

  it("plans every configured step with its sizes, in order", () => {
    const plan = planCanary(settings, { min: 10, max: 20 });
    expect(plan.steps.map((s) => [s.index, s.weight, s.canaryReplicas, s.stable.min])).to.deep.equal([
      [1, 10, 1, 9],
      [2, 50, 5, 5],
    ]);
    expect(plan.steps[0]).to.include({ durationSeconds: 600, maxDurationSeconds: 1800 });
    expect(plan.analysisIntervalSeconds).to.equal(60);
    expect(plan.minSeconds).to.equal(1200);
    expect(plan.maxSeconds).to.equal(3000);
  });

  it("describes a step with its real share of the pods", () => {
    const plan = planCanary(settings, { min: 3, max: 10 });
    expect(describeStep(plan.steps[0])).to.equal("step 1: weight 10 % (1 of 4 pods, ~25 % of traffic)");
  });
});

describe("promotion strategies in the policy config", () => {
  it("reads the strategies and the canary settings", () => {
    const s = parse(SECTION);
    expect(s.strategies).to.deep.equal(["canary", "all-at-once"]);
    expect(s.canary?.criteria).to.deep.equal(CRITERIA);
    expect(s.canary?.steps).to.have.length(2);
  });

  it("accepts only all-at-once when the section names no strategies (today's path)", () => {
    expect(parse({ minAccuracy: 0.9 })).to.deep.equal({ strategies: ["all-at-once"] });
  });

  it("refuses a canary strategy without canary settings", () => {
    expect(problemsOf({ strategies: ["canary"] })).to.match(/names "canary" but there is no canary section/);
  });

  it("refuses unknown and repeated strategies and an empty list", () => {
    expect(problemsOf({ strategies: ["blue-green"] })).to.match(
      /"blue-green" is not one of "canary", "all-at-once"/,
    );
    expect(problemsOf({ strategies: ["all-at-once", "all-at-once"] })).to.match(/named twice/);
    expect(problemsOf({ strategies: [] })).to.match(/non-empty list/);
  });

  it("reports every problem of the steps at once, naming each field", () => {
    const message = problemsOf({
      canary: {
        ...SECTION.canary,
        steps: [
          { weight: 50, durationSeconds: 600, maxDurationSeconds: 300 },
          { weight: 10, durationSeconds: 600, maxDurationSeconds: 1200 },
          { weight: 100, durationSeconds: 0, maxDurationSeconds: 1200 },
        ],
      },
    });
    expect(message).to.contain("policy/config/x.json");
    expect(message).to.contain(
      "canary.steps[0].maxDurationSeconds (300) must not be below durationSeconds (600)",
    );
    expect(message).to.contain("canary.steps[1].weight (10) must be above the previous step's weight (50)");
    expect(message).to.contain("canary.steps[2].weight must be an integer ≥ 1 and ≤ 99 (got 100)");
    expect(message).to.contain("canary.steps[2].durationSeconds must be an integer ≥ 1 (got 0)");
  });

  it("refuses missing steps, missing criteria and out-of-range criteria", () => {
    expect(problemsOf({ canary: { ...SECTION.canary, steps: [] } })).to.contain(
      "canary.steps must be a non-empty list",
    );
    const { confidence: _c, ...noConfidence } = SECTION.canary;
    expect(problemsOf({ canary: noConfidence })).to.contain("canary.confidence is missing");
    expect(problemsOf({ canary: { ...SECTION.canary, maxErrorRateIncrease: 2 } })).to.contain(
      "canary.maxErrorRateIncrease must be a number ≥ 0 and ≤ 1 (got 2)",
    );
    expect(problemsOf({ canary: { ...SECTION.canary, confidence: 1 } })).to.contain(
      "canary.confidence must be",
    );
    expect(problemsOf({ canary: "yes" })).to.contain("canary must be an object");
  });

  it("refuses an analysis interval longer than the shortest step", () => {
    expect(problemsOf({ canary: { ...SECTION.canary, analysisIntervalSeconds: 900 } })).to.contain(
      "canary.analysisIntervalSeconds (900) must not exceed the shortest step duration (600 s)",
    );
  });

  it("chooses the requested strategy when the target accepts it, else the target's first", () => {
    const accepted = parse(SECTION);
    expect(chooseStrategy(accepted, undefined, "x.json")).to.equal("canary");
    expect(chooseStrategy(accepted, "all-at-once", "x.json")).to.equal("all-at-once");
    expect(chooseStrategy(parse({}), undefined, "x.json")).to.equal("all-at-once");
  });

  it("refuses a strategy the target does not accept, naming the file", () => {
    const canaryOnly = parse({ ...SECTION, strategies: ["canary"] });
    expect(() => chooseStrategy(canaryOnly, "all-at-once", "policy/config/production.json")).to.throw(
      BadInput,
      "--strategy all-at-once is refused: policy/config/production.json accepts only canary for this target",
    );
  });
});
