/**
 * The sandbox's canary settings (policy/config/sandbox-production.json) decide what its traffic
 * gives a 10 % step, either way: the error-prone 1.4.0 (500s on mailed-check customers, 8 % of
 * predictions; about 4 % of the canary's requests with the ground truth posted back) fails on
 * error rate within a hundred canary requests, and a clean canary passes its error-rate check
 * by about 270 — when its p99 is bounded too — where production's settings (0.95, margin
 * 0.005) would still be inconclusive. README ("Canary") gives the arithmetic.
 */
import { expect } from "chai";
import * as path from "path";
import type { Bucket } from "../../policy/contract";
import { ArmCounts, compareArms } from "../../scripts/promotion/canary/verdict";
import { loadPolicyConfig } from "../../scripts/promotion/thresholds";

const CONFIG = path.join(__dirname, "..", "..", "policy", "config");
const criteria = (file: string) => {
  const c = loadPolicyConfig(path.join(CONFIG, file)).strategies.canary;
  if (c === undefined) throw new Error(`${file} has no canary settings`);
  return c.criteria;
};
const SANDBOX = criteria("sandbox-production.json");
const PRODUCTION = criteria("production.json");
const WINDOW = { start: new Date("2026-01-05T10:00:00Z"), end: new Date("2026-01-05T10:02:00Z") };

/** n requests, all answered within 5 ms (the sandbox's service is fast). */
function fast(n: number): Bucket[] {
  return [
    { le: 0.005, count: n },
    { le: Infinity, count: n },
  ];
}

function arm(version: string, requests: number, errors: number): ArmCounts {
  return {
    version,
    requests: { value: requests },
    errors: { value: errors },
    labeledPredictions: { value: 0 },
    correctPredictions: { value: 0 },
    latencyBuckets: { value: fast(requests) },
  };
}

/** Nine stable requests for every canary request: a 10 % step. */
function step(canaryRequests: number, canaryErrors: number, criteriaUsed = SANDBOX) {
  const c = compareArms(
    arm(canaryErrors > 0 ? "1.4.0" : "1.1.0", canaryRequests, canaryErrors),
    arm("1.0.0", 9 * canaryRequests, 0),
    criteriaUsed,
    WINDOW,
  );
  return { outcome: c.outcome, errorRate: c.checks.find((x) => x.name === "error_rate")!.status };
}

describe("the sandbox's canary settings", function () {
  it("fail the error-prone 1.4.0 on error rate within a hundred canary requests at 4 %", function () {
    expect(step(100, 4)).to.deep.equal({ outcome: "fail", errorRate: "fail" });
    // Already at the per-arm floor of 60 requests; below it, never.
    expect(step(60, 2).errorRate).to.equal("fail");
    expect(step(50, 2).errorRate).to.equal("inconclusive");
  });

  it("pass a clean canary by about 270 requests, its p99 bounded too", function () {
    expect(step(250, 0).errorRate).to.equal("inconclusive");
    expect(step(300, 0)).to.deep.equal({ outcome: "pass", errorRate: "pass" });
  });

  it("where production's settings would still be inconclusive", function () {
    expect(PRODUCTION).to.deep.include({ confidence: 0.95, maxErrorRateIncrease: 0.005 });
    expect(step(300, 0, { ...PRODUCTION, minRequestsPerArm: SANDBOX.minRequestsPerArm }).errorRate).to.equal(
      "inconclusive",
    );
  });
});
