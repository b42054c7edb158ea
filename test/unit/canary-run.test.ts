import { expect } from "chai";
import type { CanaryCriteria } from "../../scripts/promotion/canary/config";
import { planCanary, PlannedStep } from "../../scripts/promotion/canary/plan";
import { CanaryRunContext, runCanary } from "../../scripts/promotion/canary/run";
import type { ArmCounts } from "../../scripts/promotion/canary/verdict";
import { DependencyUnavailable } from "../../scripts/promotion/errors";

const CRITERIA: CanaryCriteria = {
  confidence: 0.95,
  minRequestsPerArm: 200,
  minLabeledPredictionsPerArm: 0,
  maxErrorRateIncrease: 0.02,
  maxLatencyP99IncreaseMs: 50,
  maxAccuracyDrop: 0.05,
};

const PLAN = planCanary(
  {
    steps: [
      { weight: 10, durationSeconds: 60, maxDurationSeconds: 120 },
      { weight: 50, durationSeconds: 60, maxDurationSeconds: 120 },
    ],
    analysisIntervalSeconds: 20,
    criteria: CRITERIA,
  },
  { min: 10, max: 20 },
);

/** An arm that served `perSecond` requests for `seconds`, with an error share, all fast. */
function arm(version: string, perSecond: number, seconds: number, errorShare: number): ArmCounts {
  const n = perSecond * seconds;
  return {
    version,
    requests: { value: n },
    errors: { value: n * errorShare },
    labeledPredictions: { value: 0 },
    correctPredictions: { value: 0 },
    latencyBuckets: {
      value: [
        { le: 0.025, count: n * 0.97 },
        { le: 0.05, count: n * 0.995 },
        { le: 0.075, count: n },
        { le: Infinity, count: n },
      ],
    },
  };
}

interface Fake {
  ctx: CanaryRunContext;
  calls: string[];
  lines: string[];
}

/** A fake production: the canary serves `share` of 100 req/s with `canaryErrors` errors. */
function fake(
  canaryErrors: (step: number) => number,
  opts: { rate?: number; failMeasure?: boolean } = {},
): Fake {
  let t = Date.parse("2026-01-05T10:00:00Z");
  let step: PlannedStep | undefined;
  const calls: string[] = [];
  const lines: string[] = [];
  const rate = opts.rate ?? 100;
  const ctx: CanaryRunContext = {
    plan: PLAN,
    criteria: CRITERIA,
    deployer: {
      applyStep: async (s) => {
        calls.push(`apply ${s.weight}`);
        step = s;
        t += 15_000; // the update takes 15 s
      },
      removeCanary: async () => {
        calls.push("remove");
      },
    },
    measure: async ({ start, end }) => {
      if (opts.failMeasure)
        throw new DependencyUnavailable("Prometheus at http://127.0.0.1:1 is unavailable");
      const seconds = (end.getTime() - start.getTime()) / 1000;
      const share = step!.canaryShare;
      return {
        canary: arm("1.4.0", rate * share, seconds, canaryErrors(step!.index)),
        stable: arm("1.0.0", rate * (1 - share), seconds, 0.001),
      };
    },
    now: () => new Date(t),
    sleep: async (ms) => {
      t += ms;
    },
    log: (l) => lines.push(l),
  };
  return { ctx, calls, lines };
}

describe("canary walk (runCanary)", () => {
  it("passes every step at its duration and leaves the canary for the caller to promote", async () => {
    const f = fake(() => 0.001);
    const result = await runCanary(f.ctx);
    expect(result.outcome).to.equal("passed");
    expect(f.calls).to.deep.equal(["apply 10", "apply 50"]);
    expect(
      result.steps.map((s) => [s.index, s.weight, s.canaryReplicas, s.stableReplicas, s.analyses, s.verdict]),
    ).to.deep.equal([
      [1, 10, 1, 9, 3, "pass"],
      [2, 50, 5, 5, 3, "pass"],
    ]);
    // The window starts when the update is done, not when it was asked for.
    expect(result.steps[0].startedAt).to.equal("2026-01-05T10:00:15.000Z");
    expect(result.steps[0].endedAt).to.equal("2026-01-05T10:01:15.000Z");
    expect(result.steps[1].comparison?.outcome).to.equal("pass");
  });

  it("aborts on the first confident failure, removes the canary and never reaches the next step", async () => {
    const f = fake(() => 0.08);
    const result = await runCanary(f.ctx);
    expect(result.outcome).to.equal("aborted");
    if (result.outcome !== "aborted") return;
    expect(result.cause).to.equal("fail");
    expect(f.calls).to.deep.equal(["apply 10", "remove"]);
    expect(result.steps).to.have.length(1);
    // 20 s at 10 % of 100 req/s meets the 200-request floor, and 8 % errors are already conclusive.
    expect(result.steps[0]).to.include({ verdict: "fail", analyses: 1 });
    expect(result.steps[0].endedAt).to.equal("2026-01-05T10:00:35.000Z");
    expect(result.reason).to.match(/^the canary is worse than the stable: error rate 0\.08/);
  });

  it("aborts a step that is still inconclusive at its maximum duration", async () => {
    // 2 requests per second in all: the canary never reaches its 200-request floor.
    const f = fake(() => 0.001, { rate: 2 });
    const result = await runCanary(f.ctx);
    expect(result).to.include({ outcome: "aborted", cause: "inconclusive" });
    expect(f.calls).to.deep.equal(["apply 10", "remove"]);
    expect(result.steps[0].analyses).to.equal(6);
    expect(result.steps[0].reason).to.contain("after the step's maximum of 120 s");
  });

  it("counts an analysis Prometheus could not answer as an error and aborts at the maximum", async () => {
    const f = fake(() => 0.001, { failMeasure: true });
    const result = await runCanary(f.ctx);
    expect(result).to.include({ outcome: "aborted", cause: "error" });
    expect(result.steps[0].comparison).to.equal(null);
    expect(f.lines.some((l) => l.includes("the analysis could not be made: Prometheus at"))).to.equal(true);
  });

  it("aborts at the second step when the canary worsens with more traffic", async () => {
    const f = fake((step) => (step === 2 ? 0.1 : 0.001));
    const result = await runCanary(f.ctx);
    expect(result).to.include({ outcome: "aborted", cause: "fail" });
    expect(f.calls).to.deep.equal(["apply 10", "apply 50", "remove"]);
    expect(result.steps.map((s) => s.verdict)).to.deep.equal(["pass", "fail"]);
  });

  it("removes the canary when an update fails mid-walk, then rethrows", async () => {
    const f = fake(() => 0.001);
    const apply = f.ctx.deployer.applyStep;
    f.ctx.deployer.applyStep = async (step) => {
      await apply(step);
      if (step.index === 2) throw new Error("the engine failed");
    };
    let caught: unknown;
    try {
      await runCanary(f.ctx);
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).message).to.equal("the engine failed");
    expect(f.calls).to.deep.equal(["apply 10", "apply 50", "remove"]);
  });
});
