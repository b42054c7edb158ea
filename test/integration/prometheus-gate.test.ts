import { expect } from "chai";
import { CheckName, Decision, decide, GateContext } from "../../scripts/promotion/gate";
import { collectMetrics, DEFAULT_QUERIES } from "../../scripts/promotion/metrics";
import { createPrometheusClient, PrometheusClient } from "../../scripts/promotion/prometheus";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import {
  allFamilies,
  END,
  PRODUCTION_BASELINE,
  Scenario,
  ScenarioName,
  SCENARIOS,
} from "../fixtures/gate-scenarios";
import { PrometheusServer, startPrometheusWithHistory } from "../helpers/prometheus";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";

const THRESHOLDS: Thresholds = DESIGN_THRESHOLDS;

const WINDOW_MS = 24 * 3_600_000;
const AT = new Date(END * 1000);

function gateContext(s: Scenario): GateContext {
  const deployedAt = new Date(s.candidate.from * 1000);
  return {
    modelVersion: s.candidate.version,
    deployedAt,
    window: { start: new Date(Math.max(deployedAt.getTime(), AT.getTime() - WINDOW_MS)), end: AT },
  };
}

describe("the gate against a real Prometheus loaded with scenario history", function () {
  let prometheus: PrometheusServer;
  let client: PrometheusClient;

  before(async function () {
    this.timeout(180_000);
    const started = Date.now();
    prometheus = await startPrometheusWithHistory(allFamilies());
    console.log(`      (history built and Prometheus ready in ${Date.now() - started} ms)`);
    client = createPrometheusClient({ baseUrl: prometheus.url, timeoutMs: 10_000 });
  });

  after(async function () {
    await prometheus?.stop();
  });

  async function evaluate(name: ScenarioName): Promise<Decision> {
    const s: Scenario = SCENARIOS[name];
    const ctx = gateContext(s);
    const selector = { namespace: s.candidate.namespace, version: s.candidate.version };
    const [metrics] = await collectMetrics(client, DEFAULT_QUERIES, [{ selector, window: ctx.window }]);
    return decide(metrics, THRESHOLDS, ctx);
  }

  function failed(d: Decision): CheckName[] {
    return d.checks.filter((c) => !c.passed).map((c) => c.name);
  }

  function value(d: Decision, name: CheckName): number | null {
    return d.checks.find((c) => c.name === name)?.value ?? null;
  }

  it("promotes a healthy version and measures its numbers from the history", async function () {
    const started = process.hrtime.bigint();
    const d = await evaluate("healthy");
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`      (decision over a 24 h window took ${ms.toFixed(1)} ms)`);
    expect(failed(d)).to.deep.equal([]);
    expect(d.decision).to.equal("promote");
    expect(value(d, "accuracy")).to.be.closeTo(0.92, 0.002);
    expect(value(d, "latency_p99")).to.be.closeTo(186, 3);
    expect(value(d, "error_rate")).to.be.closeTo(0.002, 0.0002);
    expect(value(d, "uptime")).to.equal(1);
    expect(value(d, "soak_time")).to.equal(30);
    expect(value(d, "samples")).to.be.closeTo(2 * 86_400, 200);
    expect(d.window).to.deep.equal({
      start: new Date(AT.getTime() - WINDOW_MS).toISOString(),
      end: AT.toISOString(),
    });
  });

  const alone: [ScenarioName, CheckName, RegExp][] = [
    ["lowAccuracy", "accuracy", /^accuracy 0\.7\d* is below the minimum 0\.85$/],
    ["slow", "latency_p99", /^p99 latency \(ms\) 83\d(\.\d+)? is above the maximum 250$/],
    ["errors", "error_rate", /^error rate 0\.05\d* is above the maximum 0\.01$/],
    ["flaky", "uptime", /^uptime 0\.91\d* is below the minimum 0\.999$/],
    ["young", "soak_time", /^2\.0\.1-young has run in staging for only 2 h; 24 h are required$/],
    ["quiet", "samples", /^only 69\d(\.\d+)? requests in the window; 1000 are required$/],
    ["fewLabels", "samples", /^only 8\d(\.\d+)? labeled predictions in the window; 200 are required$/],
    ["noHistogram", "latency_p99", /^p99 latency \(ms\): no data \(the query returned no series\)$/],
    ["noUp", "uptime", /^uptime: no data \(the query returned no series\)$/],
  ];
  for (const [scenario, check, reason] of alone) {
    it(`rejects the ${scenario} scenario on ${check} alone, with the reason`, async function () {
      const d = await evaluate(scenario);
      expect(d.decision).to.equal("reject");
      expect(failed(d)).to.deep.equal([check]);
      expect(d.checks.find((c) => c.name === check)?.reason).to.match(reason);
    });
  }

  it("measures the young version over the 2 h since it went live, not the whole window", async function () {
    const d = await evaluate("young");
    expect(d.window.start).to.equal(new Date((END - 2 * 3600) * 1000).toISOString());
    expect(value(d, "samples")).to.be.closeTo(2 * 7200, 50);
  });

  it("rejects a version without traffic: the ratios are NaN and fail, and so do the samples", async function () {
    const d = await evaluate("idle");
    expect(failed(d)).to.deep.equal(["accuracy", "latency_p99", "error_rate", "samples"]);
    for (const name of ["accuracy", "latency_p99", "error_rate"] as const) {
      const c = d.checks.find((x) => x.name === name);
      expect(c?.value).to.equal(null);
      expect(c?.reason).to.match(/: value is NaN \(no events in the window\)$/);
    }
    expect(d.checks.find((c) => c.name === "samples")?.reason).to.equal(
      "only 0 requests in the window; 1000 are required; only 0 labeled predictions in the window; 200 are required",
    );
  });

  it("counts only the candidate version in its namespace: broken neighbours do not fail a healthy one", async function () {
    const d = await evaluate("healthyAmongBroken");
    expect(failed(d)).to.deep.equal([]);
    expect(value(d, "accuracy")).to.be.closeTo(0.92, 0.002);
    expect(value(d, "uptime")).to.equal(1);
  });

  it("counts only the candidate version in its namespace: healthy neighbours do not pass a broken one", async function () {
    const d = await evaluate("brokenAmongHealthy");
    expect(failed(d)).to.deep.equal(["accuracy"]);
    expect(value(d, "accuracy")).to.be.closeTo(0.6, 0.002);
  });

  it("rejects an unknown version as having no data on every metric", async function () {
    const ctx: GateContext = { ...gateContext(SCENARIOS.healthy), modelVersion: "9.9.9" };
    const [metrics] = await collectMetrics(client, DEFAULT_QUERIES, [
      { selector: { namespace: "staging", version: "9.9.9" }, window: ctx.window },
    ]);
    const d = decide(metrics, THRESHOLDS, ctx);
    expect(failed(d)).to.deep.equal(["accuracy", "latency_p99", "error_rate", "uptime", "samples"]);
    expect(d.checks[0].reason).to.equal("accuracy: no data (the query returned no series)");
  });

  it("compares with production's version over the same window when a baseline is given", async function () {
    const s = SCENARIOS.healthy;
    const ctx = gateContext(s);
    const [candidate, base] = await collectMetrics(client, DEFAULT_QUERIES, [
      { selector: { namespace: "staging", version: s.candidate.version }, window: ctx.window },
      { selector: { namespace: "production", version: PRODUCTION_BASELINE.version }, window: ctx.window },
    ]);
    const strict = decide(candidate, THRESHOLDS, {
      ...ctx,
      baseline: {
        description: "production 1.9.0",
        metrics: base,
        margins: { maxAccuracyDrop: 0.02, maxLatencyP99IncreaseMs: 50, maxErrorRateIncrease: 0.005 },
      },
    });
    expect(failed(strict)).to.deep.equal(["baseline_accuracy"]);
    expect(value(strict, "baseline_accuracy")).to.be.closeTo(0.03, 0.003);
    const lenient = decide(candidate, THRESHOLDS, {
      ...ctx,
      baseline: {
        description: "production 1.9.0",
        metrics: base,
        margins: { maxAccuracyDrop: 0.05, maxLatencyP99IncreaseMs: 50, maxErrorRateIncrease: 0.005 },
      },
    });
    expect(lenient.decision).to.equal("promote");
  });

  it("fails a check whose query Prometheus refuses, and still measures the others", async function () {
    const s = SCENARIOS.healthy;
    const ctx = gateContext(s);
    const queries = { ...DEFAULT_QUERIES, uptime: "avg(avg_over_time(up{$SELECTOR}[$WINDOW]) +" };
    const [metrics] = await collectMetrics(client, queries, [
      { selector: { namespace: "staging", version: s.candidate.version }, window: ctx.window },
    ]);
    const d = decide(metrics, THRESHOLDS, ctx);
    expect(failed(d)).to.deep.equal(["uptime"]);
    expect(d.checks.find((c) => c.name === "uptime")?.reason).to.match(
      /^uptime: query failed: Prometheus refused the query \(bad_data\): .*parse error/,
    );
  });

  it("fails a check whose query returns several series instead of one", async function () {
    const s = SCENARIOS.healthy;
    const ctx = gateContext(s);
    const queries = { ...DEFAULT_QUERIES, uptime: 'avg_over_time(up{job="churn-model",$SELECTOR}[$WINDOW])' };
    const [metrics] = await collectMetrics(client, queries, [
      { selector: { namespace: "staging", version: s.candidate.version }, window: ctx.window },
    ]);
    const d = decide(metrics, THRESHOLDS, ctx);
    expect(failed(d)).to.deep.equal(["uptime"]);
    expect(d.checks.find((c) => c.name === "uptime")?.reason).to.equal(
      "uptime: query failed: the query returned 2 series where one was expected (aggregate it with sum or avg)",
    );
  });
});
