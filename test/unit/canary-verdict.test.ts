import { expect } from "chai";
import type { CanaryCriteria, CanaryStep } from "../../scripts/promotion/canary/config";
import {
  ArmComparison,
  ArmCounts,
  CanaryCheckName,
  compareArms,
  stepAction,
  worstStatus,
} from "../../scripts/promotion/canary/verdict";
import type { Bucket } from "../../policy/contract";

const CRITERIA: CanaryCriteria = {
  confidence: 0.95,
  minRequestsPerArm: 200,
  minLabeledPredictionsPerArm: 100,
  maxErrorRateIncrease: 0.02,
  maxLatencyP99IncreaseMs: 50,
  maxAccuracyDrop: 0.05,
};

const WINDOW = { start: new Date("2026-01-05T10:00:00Z"), end: new Date("2026-01-05T10:05:00Z") };
const STEP: CanaryStep = { weight: 10, durationSeconds: 60, maxDurationSeconds: 180 };

/** A cumulative histogram of n requests from [le seconds, share ≤ le] pairs. */
function histogram(n: number, cdf: [number, number][]): Bucket[] {
  return [...cdf.map(([le, share]) => ({ le, count: n * share })), { le: Infinity, count: n }];
}

/** Fast: 97 % ≤ 25 ms, 99.5 % ≤ 50 ms, all ≤ 75 ms (the p99 lies in 25..50 ms). */
const FAST: [number, number][] = [
  [0.005, 0.3],
  [0.01, 0.7],
  [0.025, 0.97],
  [0.05, 0.995],
  [0.075, 1],
];
/** Slow, like the sandbox's 1.3.0: the p99 lies in 250..300 ms. */
const SLOW: [number, number][] = [
  [0.1, 0.5],
  [0.2, 0.9],
  [0.25, 0.95],
  [0.3, 0.985],
  [0.4, 1],
];

function arm(
  version: string,
  requests: number,
  errors: number,
  labeled: number,
  correct: number,
  latency: [number, number][] = FAST,
): ArmCounts {
  return {
    version,
    requests: { value: requests },
    errors: { value: errors },
    labeledPredictions: { value: labeled },
    correctPredictions: { value: correct },
    latencyBuckets: { value: histogram(requests, latency) },
  };
}

const STABLE = arm("1.0.0", 5000, 5, 2000, 1750);
const GOOD = arm("1.1.0", 1000, 1, 400, 376);

function compare(
  canary: ArmCounts,
  stable: ArmCounts = STABLE,
  criteria: CanaryCriteria = CRITERIA,
): ArmComparison {
  return compareArms(canary, stable, criteria, WINDOW);
}

function check(c: ArmComparison, name: CanaryCheckName) {
  const found = c.checks.find((x) => x.name === name);
  if (found === undefined) throw new Error(`no check ${name}`);
  return found;
}

describe("canary comparison (compareArms)", () => {
  it("passes a canary that is as good as the stable on every check, with the numbers", () => {
    const c = compare(GOOD);
    expect(c.outcome).to.equal("pass");
    expect(c.checks.map((x) => [x.name, x.status])).to.deep.equal([
      ["error_rate", "pass"],
      ["latency_p99", "pass"],
      ["accuracy", "pass"],
    ]);
    expect(c).to.include({ canaryVersion: "1.1.0", stableVersion: "1.0.0" });
    expect(c.window).to.deep.equal({ start: "2026-01-05T10:00:00.000Z", end: "2026-01-05T10:05:00.000Z" });
    const e = check(c, "error_rate");
    expect(e.canary).to.equal(0.001);
    expect(e.stable).to.equal(0.001);
    expect(e.worseBy?.upper).to.be.below(0.02);
    expect(e.reason).to.match(
      /^error rate 0\.001 \(canary, 1000 requests\) vs 0\.001 \(stable, 5000\): worse by at most/,
    );
  });

  it("passes a p99 whose pessimistic difference is exactly the margin", () => {
    // canary p99 in [25, 75] ms, stable p99 in [25, 50] ms: at most 75 − 25 = 50 ms worse
    const l = check(compare(GOOD), "latency_p99");
    expect(l.worseBy).to.deep.include({ lower: -25, upper: 50 });
    expect(l.status).to.equal("pass");
  });

  it("fails the error-prone canary (8 % errors against 0.1 %)", () => {
    const c = compare(arm("1.4.0", 200, 16, 100, 87));
    expect(c.outcome).to.equal("fail");
    const e = check(c, "error_rate");
    expect(e.status).to.equal("fail");
    expect(e.worseBy?.lower).to.be.above(0.02);
    expect(e.reason).to.contain("beyond the margin 0.02");
  });

  it("fails the slow canary on p99 latency", () => {
    const l = check(compare(arm("1.3.0", 1000, 1, 400, 350, SLOW)), "latency_p99");
    expect(l.status).to.equal("fail");
    expect(l.worseBy?.lower).to.equal(250 - 50);
    expect(l.reason).to.match(/worse by at least 200 ms/);
  });

  it("fails the accuracy-regressed canary", () => {
    const a = check(compare(arm("1.2.0", 2000, 2, 1000, 790)), "accuracy");
    expect(a.status).to.equal("fail");
    expect(a.canary).to.equal(0.79);
    expect(a.stable).to.equal(0.875);
  });

  it("is inconclusive, not a pass, when the canary has fewer requests than the per-arm floor", () => {
    const c = compare(arm("1.1.0", 150, 0, 150, 140));
    expect(c.outcome).to.equal("inconclusive");
    expect(check(c, "error_rate").reason).to.contain("canary has 150 requests; 200 per arm are needed");
    expect(check(c, "latency_p99").status).to.equal("inconclusive");
  });

  it("applies the floor to the stable arm too", () => {
    const c = compare(GOOD, arm("1.0.0", 100, 0, 150, 130));
    expect(check(c, "error_rate").reason).to.contain("stable has 100 requests; 200 per arm are needed");
  });

  it("does not fail a handful of early errors below the floor", () => {
    expect(check(compare(arm("1.4.0", 20, 5, 0, 0)), "error_rate").status).to.equal("inconclusive");
  });

  it("is inconclusive when the difference straddles the margin", () => {
    const e = check(compare(arm("1.4.0", 300, 9, 150, 130)), "error_rate");
    expect(e.status).to.equal("inconclusive");
    expect(e.reason).to.contain("straddles the margin 0.02");
  });

  it("cannot pass a p99 the canary's requests cannot bound yet", () => {
    const l = check(compare(arm("1.1.0", 250, 0, 150, 140)), "latency_p99");
    expect(l.status).to.equal("inconclusive");
    expect(l.worseBy?.upper).to.equal(Infinity);
    expect(l.reason).to.contain("not bounded by its requests and buckets yet");
  });

  it("counts a missing 5xx series as no errors while requests were answered", () => {
    const e = check(compare({ ...GOOD, errors: { value: null } }), "error_rate");
    expect(e.status).to.equal("pass");
    expect(e.canary).to.equal(0);
  });

  it("is inconclusive when the canary has no request series at all", () => {
    const c = compare({ ...GOOD, requests: { value: null } });
    expect(check(c, "error_rate").status).to.equal("inconclusive");
    expect(check(c, "error_rate").reason).to.contain("canary requests: no series in the window");
    expect(c.outcome).to.equal("inconclusive");
  });

  it("is an error, never a pass, when a query failed", () => {
    const c = compare({ ...GOOD, errors: { value: null, error: "HTTP 503" } });
    expect(check(c, "error_rate").status).to.equal("error");
    expect(check(c, "error_rate").reason).to.contain("canary 5xx responses: query failed: HTTP 503");
    expect(c.outcome).to.equal("error");
    const h = compare(GOOD, { ...STABLE, latencyBuckets: { value: null, error: "timeout" } });
    expect(check(h, "latency_p99").status).to.equal("error");
  });

  it("is an error when a count is impossible (NaN, more errors than requests)", () => {
    expect(check(compare({ ...GOOD, requests: { value: Number.NaN } }), "error_rate").status).to.equal(
      "error",
    );
    expect(check(compare({ ...GOOD, errors: { value: 2000 } }), "error_rate").reason).to.contain(
      "2000 5xx responses out of 1000 requests",
    );
    const broken = { ...GOOD, latencyBuckets: { value: [{ le: 0.1, count: 5 }] } };
    expect(check(compare(broken), "latency_p99").reason).to.contain("must end with le=+Inf");
  });

  it("lets a failing check win over an inconclusive one", () => {
    const c = compare({ ...arm("1.4.0", 1000, 80, 400, 350), latencyBuckets: { value: null } });
    expect(check(c, "latency_p99").status).to.equal("inconclusive");
    expect(c.outcome).to.equal("fail");
  });

  it("does not compare accuracy when the criteria ask for no labels, and says so", () => {
    const c = compare(arm("1.1.0", 1000, 1, 0, 0), STABLE, { ...CRITERIA, minLabeledPredictionsPerArm: 0 });
    expect(c.checks.map((x) => x.name)).to.deep.equal(["error_rate", "latency_p99"]);
    expect(c.outcome).to.equal("pass");
    expect(c.accuracyNotCompared).to.contain("minLabeledPredictionsPerArm is 0");
  });

  it("is inconclusive on accuracy when labels have not arrived for the canary", () => {
    const a = check(compare({ ...GOOD, labeledPredictions: { value: null } }), "accuracy");
    expect(a.status).to.equal("inconclusive");
  });

  it("refuses two arms of one version", () => {
    expect(() => compare(arm("1.0.0", 1000, 1, 400, 350))).to.throw(RangeError, /both run 1\.0\.0/);
  });

  it("orders statuses fail > error > inconclusive > pass, and none is inconclusive", () => {
    expect(worstStatus(["pass", "inconclusive", "error"])).to.equal("error");
    expect(worstStatus(["error", "fail", "pass"])).to.equal("fail");
    expect(worstStatus(["pass", "pass"])).to.equal("pass");
    expect(worstStatus([])).to.equal("inconclusive");
  });
});

describe("canary step action (stepAction)", () => {
  const passing = compare(GOOD);
  const failing = compare(arm("1.4.0", 1000, 80, 400, 350));
  const undecided = compare(arm("1.1.0", 150, 0, 150, 140));
  const errored = compare({ ...GOOD, requests: { value: null, error: "HTTP 500" } });

  const table: [string, ArmComparison, number, string, string?][] = [
    ["a failing comparison aborts at once", failing, 5, "abort", "fail"],
    ["a passing comparison continues before the step's duration", passing, 30, "continue"],
    ["a passing comparison passes at the step's duration", passing, 60, "pass"],
    ["an inconclusive comparison continues before the maximum", undecided, 179, "continue"],
    ["an inconclusive comparison aborts at the maximum", undecided, 180, "abort", "inconclusive"],
    ["an errored comparison continues before the maximum", errored, 100, "continue"],
    ["an errored comparison aborts at the maximum", errored, 200, "abort", "error"],
  ];
  for (const [name, comparison, elapsed, action, cause] of table) {
    it(name, () => {
      const a = stepAction(comparison, elapsed, STEP);
      expect(a.action).to.equal(action);
      if (cause !== undefined) expect(a).to.have.property("cause", cause);
    });
  }

  it("names the failing check in the abort reason", () => {
    const a = stepAction(failing, 5, STEP);
    expect(a.reason).to.match(/^the canary is worse than the stable: error rate 0\.08/);
  });

  it("says why an inconclusive step gave up", () => {
    expect(stepAction(undecided, 180, STEP).reason).to.match(
      /^still inconclusive after the step's maximum of 180 s: error rate: canary has 150 requests/,
    );
  });
});
