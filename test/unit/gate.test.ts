import { expect } from "chai";
import {
  Baseline,
  Check,
  CheckName,
  decide,
  GateContext,
  GateMetrics,
  Measurement,
} from "../../scripts/promotion/gate";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";

const THRESHOLDS: Thresholds = DESIGN_THRESHOLDS;

const END = new Date("2025-03-02T12:00:00Z");
const HOUR = 3_600_000;

const CONTEXT: GateContext = {
  modelVersion: "1.1.0",
  window: { start: new Date(END.getTime() - 24 * HOUR), end: END },
  deployedAt: new Date(END.getTime() - 30 * HOUR),
};

const v = (value: number | null): Measurement => ({ value });

const GOOD: GateMetrics = {
  accuracy: v(0.91),
  latencyP99Ms: v(180),
  errorRate: v(0.002),
  uptime: v(1),
  requests: v(172_800),
  labeledPredictions: v(34_560),
};

function check(metrics: GateMetrics, name: CheckName, context: GateContext = CONTEXT): Check {
  const found = decide(metrics, THRESHOLDS, context).checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check ${name}`);
  return found;
}

function failing(metrics: GateMetrics, context: GateContext = CONTEXT): CheckName[] {
  return decide(metrics, THRESHOLDS, context)
    .checks.filter((c) => !c.passed)
    .map((c) => c.name);
}

describe("decide()", function () {
  it("promotes when every check meets its threshold, with the contract's checks in order", function () {
    const d = decide(GOOD, THRESHOLDS, CONTEXT);
    expect(d.decision).to.equal("promote");
    expect(d.modelVersion).to.equal("1.1.0");
    expect(d.window).to.deep.equal({ start: "2025-03-01T12:00:00.000Z", end: "2025-03-02T12:00:00.000Z" });
    expect(d.checks.map((c) => c.name)).to.deep.equal([
      "accuracy",
      "latency_p99",
      "error_rate",
      "uptime",
      "soak_time",
      "samples",
    ]);
    expect(d.checks.every((c) => c.passed)).to.equal(true);
    expect(d.checks[0]).to.deep.equal({
      name: "accuracy",
      value: 0.91,
      threshold: 0.85,
      passed: true,
      reason: "accuracy 0.91 ≥ 0.85",
    });
  });

  const alone: [string, Partial<GateMetrics>, CheckName, number, string][] = [
    [
      "accuracy below the minimum",
      { accuracy: v(0.84) },
      "accuracy",
      0.84,
      "accuracy 0.84 is below the minimum 0.85",
    ],
    [
      "p99 latency above the maximum",
      { latencyP99Ms: v(251) },
      "latency_p99",
      251,
      "p99 latency (ms) 251 is above the maximum 250",
    ],
    [
      "error rate above the maximum",
      { errorRate: v(0.02) },
      "error_rate",
      0.02,
      "error rate 0.02 is above the maximum 0.01",
    ],
    [
      "uptime below the minimum",
      { uptime: v(0.99) },
      "uptime",
      0.99,
      "uptime 0.99 is below the minimum 0.999",
    ],
    [
      "too few requests",
      { requests: v(999) },
      "samples",
      999,
      "only 999 requests in the window; 1000 are required",
    ],
  ];
  for (const [what, change, name, value, reason] of alone) {
    it(`rejects on ${what}, failing only ${name}`, function () {
      const metrics = { ...GOOD, ...change };
      expect(decide(metrics, THRESHOLDS, CONTEXT).decision).to.equal("reject");
      expect(failing(metrics)).to.deep.equal([name]);
      const c = check(metrics, name);
      expect(c.value).to.equal(value);
      expect(c.reason).to.equal(reason);
    });
  }

  it("rejects too few labeled predictions in the samples check, naming the count", function () {
    const metrics = { ...GOOD, labeledPredictions: v(199) };
    expect(failing(metrics)).to.deep.equal(["samples"]);
    const c = check(metrics, "samples");
    expect(c.value).to.equal(172_800);
    expect(c.threshold).to.equal(1000);
    expect(c.reason).to.equal("only 199 labeled predictions in the window; 200 are required");
  });

  it("names both shortfalls when requests and labeled predictions are too few", function () {
    const c = check({ ...GOOD, requests: v(10), labeledPredictions: v(2) }, "samples");
    expect(c.passed).to.equal(false);
    expect(c.reason).to.equal(
      "only 10 requests in the window; 1000 are required; only 2 labeled predictions in the window; 200 are required",
    );
  });

  it("rejects a candidate that has not soaked long enough, stating the hours", function () {
    const context = { ...CONTEXT, deployedAt: new Date(END.getTime() - 2.5 * HOUR) };
    expect(failing(GOOD, context)).to.deep.equal(["soak_time"]);
    const c = check(GOOD, "soak_time", context);
    expect(c.value).to.equal(2.5);
    expect(c.threshold).to.equal(24);
    expect(c.reason).to.equal("1.1.0 has run in staging for only 2.5 h; 24 h are required");
  });

  it("passes values exactly at their thresholds", function () {
    const metrics: GateMetrics = {
      accuracy: v(0.85),
      latencyP99Ms: v(250),
      errorRate: v(0.01),
      uptime: v(0.999),
      requests: v(1000),
      labeledPredictions: v(200),
    };
    const context = { ...CONTEXT, deployedAt: new Date(END.getTime() - 24 * HOUR) };
    const d = decide(metrics, THRESHOLDS, context);
    expect(d.checks.filter((c) => !c.passed)).to.deep.equal([]);
    expect(d.decision).to.equal("promote");
  });

  const unusable: [string, Measurement, string][] = [
    ["no series", { value: null }, "no data (the query returned no series)"],
    ["NaN", { value: NaN }, "value is NaN (no events in the window)"],
    ["+Inf", { value: Infinity }, "value is +Inf"],
    ["-Inf", { value: -Infinity }, "value is -Inf"],
    [
      "a failed query",
      { value: null, error: "no answer within 2000 ms" },
      "query failed: no answer within 2000 ms",
    ],
  ];
  const metricChecks: [keyof GateMetrics, CheckName, string][] = [
    ["accuracy", "accuracy", "accuracy"],
    ["latencyP99Ms", "latency_p99", "p99 latency (ms)"],
    ["errorRate", "error_rate", "error rate"],
    ["uptime", "uptime", "uptime"],
    ["requests", "samples", "requests"],
    ["labeledPredictions", "samples", "labeled predictions"],
  ];
  for (const [metric, name, what] of metricChecks) {
    for (const [kind, measurement, reason] of unusable) {
      it(`fails ${name} with a reason when ${metric} is ${kind}`, function () {
        const metrics = { ...GOOD, [metric]: measurement };
        expect(failing(metrics)).to.deep.equal([name]);
        const c = check(metrics, name);
        expect(c.passed).to.equal(false);
        expect(c.reason).to.equal(`${what}: ${reason}`);
        if (metric !== "requests" && metric !== "labeledPredictions") expect(c.value).to.equal(null);
      });
    }
  }

  it("never lets -Inf pass a maximum: a latency of -Inf fails", function () {
    const c = check({ ...GOOD, latencyP99Ms: v(-Infinity) }, "latency_p99");
    expect(c.passed).to.equal(false);
  });

  it("refuses a fraction outside 0..1 even when it would meet the threshold", function () {
    const c = check({ ...GOOD, accuracy: v(1.2) }, "accuracy");
    expect(c.passed).to.equal(false);
    expect(c.reason).to.equal("accuracy: 1.2 is not a fraction between 0 and 1");
    const e = check({ ...GOOD, errorRate: v(-0.1) }, "error_rate");
    expect(e.passed).to.equal(false);
    expect(e.reason).to.equal("error rate: -0.1 is not a fraction between 0 and 1");
  });

  it("rejects when every number is missing, with one failing check per metric", function () {
    const none: Measurement = { value: null };
    const metrics: GateMetrics = {
      accuracy: none,
      latencyP99Ms: none,
      errorRate: none,
      uptime: none,
      requests: none,
      labeledPredictions: none,
    };
    const d = decide(metrics, THRESHOLDS, CONTEXT);
    expect(d.decision).to.equal("reject");
    expect(failing(metrics)).to.deep.equal(["accuracy", "latency_p99", "error_rate", "uptime", "samples"]);
  });

  it("gives the same decision for the same input", function () {
    expect(decide(GOOD, THRESHOLDS, CONTEXT)).to.deep.equal(decide(GOOD, THRESHOLDS, CONTEXT));
  });

  describe("with a production baseline", function () {
    const baseline = (metrics: Partial<GateMetrics>): Baseline => ({
      description: "production 1.0.0",
      metrics: { ...GOOD, ...metrics },
      margins: { maxAccuracyDrop: 0.02, maxLatencyP99IncreaseMs: 50, maxErrorRateIncrease: 0.005 },
    });
    const withBaseline = (metrics: Partial<GateMetrics>): GateContext => ({
      ...CONTEXT,
      baseline: baseline(metrics),
    });

    it("adds the three baseline checks after the contract's checks and promotes within the margins", function () {
      const d = decide(GOOD, THRESHOLDS, withBaseline({ accuracy: v(0.92), latencyP99Ms: v(150) }));
      expect(d.checks.map((c) => c.name).slice(6)).to.deep.equal([
        "baseline_accuracy",
        "baseline_latency_p99",
        "baseline_error_rate",
      ]);
      expect(d.decision).to.equal("promote");
      const acc = d.checks[6];
      expect(acc.value).to.be.closeTo(0.01, 1e-12);
      expect(acc.threshold).to.equal(0.02);
      expect(acc.reason).to.equal("accuracy 0.91 vs 0.92 for production 1.0.0: within the margin 0.02");
    });

    it("rejects an accuracy drop larger than the margin although the absolute threshold passes", function () {
      const context = withBaseline({ accuracy: v(0.95) });
      expect(failing(GOOD, context)).to.deep.equal(["baseline_accuracy"]);
      const c = check(GOOD, "baseline_accuracy", context);
      expect(c.value).to.be.closeTo(0.04, 1e-12);
      expect(c.reason).to.equal(
        "accuracy 0.91 vs 0.95 for production 1.0.0: worse by 0.04, more than the margin 0.02",
      );
    });

    it("passes a difference exactly at the margin, despite binary rounding of fractions", function () {
      const latency = withBaseline({ latencyP99Ms: v(130) });
      expect(check(GOOD, "baseline_latency_p99", latency).passed).to.equal(true);
      expect(check(GOOD, "baseline_latency_p99", latency).value).to.equal(50);
      const accuracy = withBaseline({ accuracy: v(0.92) });
      const metrics = { ...GOOD, accuracy: v(0.9) };
      expect(0.92 - 0.9).to.be.greaterThan(0.02);
      expect(check(metrics, "baseline_accuracy", accuracy).passed).to.equal(true);
    });

    it("rejects a difference just beyond the margin", function () {
      const context = withBaseline({ accuracy: v(0.92) });
      expect(check({ ...GOOD, accuracy: v(0.8999) }, "baseline_accuracy", context).passed).to.equal(false);
    });

    it("rejects a p99 latency increase and an error rate increase beyond their margins", function () {
      const context = withBaseline({ latencyP99Ms: v(100), errorRate: v(0.0001) });
      const metrics = { ...GOOD, errorRate: v(0.008) };
      expect(failing(metrics, context)).to.deep.equal(["baseline_latency_p99", "baseline_error_rate"]);
      expect(check(metrics, "baseline_latency_p99", context).value).to.equal(80);
    });

    it("passes when the candidate is better than the baseline", function () {
      const context = withBaseline({ accuracy: v(0.8), latencyP99Ms: v(240), errorRate: v(0.009) });
      expect(failing(GOOD, context)).to.deep.equal([]);
    });

    it("fails the baseline checks closed when the baseline has no data", function () {
      const context = withBaseline({
        accuracy: v(null),
        latencyP99Ms: v(NaN),
        errorRate: { value: null, error: "HTTP 500" },
      });
      expect(failing(GOOD, context)).to.deep.equal([
        "baseline_accuracy",
        "baseline_latency_p99",
        "baseline_error_rate",
      ]);
      expect(check(GOOD, "baseline_accuracy", context).reason).to.equal(
        "production 1.0.0 accuracy: no data (the query returned no series)",
      );
      expect(check(GOOD, "baseline_error_rate", context).reason).to.equal(
        "production 1.0.0 error rate: query failed: HTTP 500",
      );
    });

    it("fails a baseline comparison when the baseline had too little traffic to compare", function () {
      const context = withBaseline({ requests: v(12) });
      expect(failing(GOOD, context)).to.deep.equal(["baseline_latency_p99", "baseline_error_rate"]);
      expect(check(GOOD, "baseline_latency_p99", context).reason).to.equal(
        "production 1.0.0 had only 12 events in the window; 1000 are needed to compare p99 latency (ms)",
      );
    });
  });
});
