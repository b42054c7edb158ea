import { expect } from "chai";
import { AnalysisSettings, DEFAULT_ANALYSIS } from "../../scripts/promotion/analysis-config";
import { Check, CheckName, Decision, decide, GateContext, Outcome } from "../../scripts/promotion/gate";
import { ANALYSIS_QUERIES, AnalysisQueries, collectAnalysis } from "../../scripts/promotion/analysis-metrics";
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
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import { PrometheusServer, startPrometheusWithHistory } from "../helpers/prometheus";

const THRESHOLDS: Thresholds = DESIGN_THRESHOLDS;
const HOUR = 3600;

interface Evaluation {
  readonly at?: number;
  readonly windowHours?: number;
  readonly analysis?: Partial<AnalysisSettings>;
  readonly queries?: AnalysisQueries;
  readonly baseline?: boolean;
}

describe("the gate against a real Prometheus loaded with scenario history", function () {
  let prometheus: PrometheusServer;
  let client: PrometheusClient;

  before(async function () {
    this.timeout(300_000);
    const started = Date.now();
    prometheus = await startPrometheusWithHistory(allFamilies());
    console.log(`      (history built and Prometheus ready in ${Date.now() - started} ms)`);
    client = createPrometheusClient({ baseUrl: prometheus.url, timeoutMs: 30_000 });
  });

  after(async function () {
    await prometheus?.stop();
  });

  async function evaluate(name: ScenarioName | Scenario, e: Evaluation = {}): Promise<Decision> {
    const s: Scenario = typeof name === "string" ? SCENARIOS[name] : name;
    const at = new Date((e.at ?? END) * 1000);
    const analysis = { ...DEFAULT_ANALYSIS, ...e.analysis };
    const windowSeconds = (e.windowHours ?? 24) * HOUR;
    const deployedAt = new Date(s.candidate.from * 1000);
    const measured = await collectAnalysis(client, e.queries ?? ANALYSIS_QUERIES, {
      selector: { namespace: s.candidate.namespace, version: s.candidate.version },
      end: at,
      earliestStart: new Date(Math.max(deployedAt.getTime(), at.getTime() - windowSeconds * 1000)),
      deployedAt,
      intervalSeconds: analysis.analysisIntervalMinutes * 60,
      slotSeconds: analysis.maxStalenessSeconds,
      lookbackSeconds:
        Math.max(windowSeconds, THRESHOLDS.minSoakHours * HOUR) + 2 * analysis.maxStalenessSeconds,
      baselineSelector: e.baseline
        ? { namespace: PRODUCTION_BASELINE.namespace, version: PRODUCTION_BASELINE.version }
        : undefined,
    });
    const ctx: GateContext = {
      modelVersion: s.candidate.version,
      deployedAt,
      window: measured.window,
      analysis,
      baseline:
        e.baseline && measured.baseline
          ? {
              description: "production 1.9.0",
              metrics: measured.baseline,
              margins: { maxAccuracyDrop: 0.02, maxLatencyP99IncreaseMs: 50, maxErrorRateIncrease: 0.005 },
            }
          : undefined,
    };
    return decide(measured.metrics, THRESHOLDS, ctx);
  }

  /** The checks that did not pass, with their outcomes. */
  function notPassed(d: Decision): Partial<Record<CheckName, Outcome>> {
    return Object.fromEntries(d.checks.filter((c) => c.status !== "pass").map((c) => [c.name, c.status]));
  }

  function check(d: Decision, name: CheckName): Check {
    const c = d.checks.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no check ${name}`);
    return c;
  }

  it("promotes a healthy version, with bounds, 24 hourly intervals and its numbers from the history", async function () {
    const started = process.hrtime.bigint();
    const d = await evaluate("healthy");
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`      (decision over a 24 h window with hourly intervals took ${ms.toFixed(1)} ms)`);
    expect(notPassed(d)).to.deep.equal({});
    expect(d.decision).to.equal("promote");
    expect(d.outcome).to.equal("pass");
    const acc = check(d, "accuracy");
    expect(acc.value).to.be.closeTo(0.92, 0.002);
    expect(acc.lower!).to.be.within(0.9, 0.92);
    expect(acc.upper!).to.be.within(0.92, 0.94);
    expect(acc.intervals).to.have.length(24);
    expect(acc.intervals!.every((i) => i.status === "pass")).to.equal(true);
    expect(check(d, "latency_p99").value).to.be.closeTo(186, 3);
    expect(check(d, "latency_p99").upper).to.equal(250);
    expect(check(d, "error_rate").value).to.be.closeTo(0.002, 0.0002);
    expect(check(d, "uptime").value).to.equal(1);
    expect(check(d, "soak_time").value).to.be.closeTo(24.06, 0.04);
    expect(check(d, "samples").value).to.be.closeTo(2 * 86_400, 200);
    expect(check(d, "freshness").value).to.be.at.most(60);
    expect(d.window).to.deep.equal({
      start: new Date((END - 24 * HOUR) * 1000).toISOString(),
      end: new Date(END * 1000).toISOString(),
    });
  });

  const alone: [ScenarioName, Partial<Record<CheckName, Outcome>>][] = [
    ["lowAccuracy", { accuracy: "fail" }],
    ["slow", { latency_p99: "fail" }],
    ["errors", { error_rate: "fail" }],
    ["flaky", { uptime: "fail" }],
    ["young", { soak_time: "inconclusive" }],
    ["fewLabels", { accuracy: "inconclusive", samples: "inconclusive" }],
    ["noHistogram", { latency_p99: "inconclusive", freshness: "inconclusive" }],
    ["noUp", { uptime: "fail", soak_time: "inconclusive", freshness: "fail" }],
    [
      "idle",
      {
        accuracy: "inconclusive",
        latency_p99: "inconclusive",
        error_rate: "inconclusive",
        samples: "inconclusive",
      },
    ],
    ["recentErrors", { error_rate: "fail" }],
    ["recentAccuracy", { accuracy: "fail" }],
    ["vanished", { uptime: "fail", freshness: "fail" }],
    ["pooled", { accuracy: "fail" }],
    ["scrapeFailures", { uptime: "fail" }],
    ["serviceUnavailable", { error_rate: "fail" }],
  ];
  for (const [scenario, expected] of alone) {
    it(`rejects the ${scenario} scenario with exactly ${JSON.stringify(expected)}`, async function () {
      const d = await evaluate(scenario);
      expect(notPassed(d)).to.deep.equal(expected);
      expect(d.decision).to.equal("reject");
    });
  }

  it("catches 8 % errors in the last 2 hours of a good day in those intervals, though the day's aggregate is under the maximum", async function () {
    const d = await evaluate("recentErrors");
    const c = check(d, "error_rate");
    expect(c.value).to.be.closeTo(0.0085, 0.0003);
    expect(c.upper!).to.be.below(0.01);
    expect(c.intervals!.filter((i) => i.status === "fail").map((i) => i.end)).to.deep.equal([
      new Date((END - HOUR) * 1000).toISOString(),
      new Date(END * 1000).toISOString(),
    ]);
    expect(c.reason).to.match(/^2 of 24 intervals of 60 min confidently bad \(maxFailedIntervals 0\)/);
  });

  it("counts time after every target vanished as down and the newest sample as stale", async function () {
    const d = await evaluate("vanished");
    expect(check(d, "uptime").value).to.be.closeTo(22 / 24, 0.003);
    expect(check(d, "freshness").value).to.be.closeTo(7200, 60);
    const up = check(d, "uptime").intervals!;
    // The first slot of the hour still holds the last sample, taken on its boundary.
    expect(up.slice(-2).map((i) => i.status)).to.deep.equal(["fail", "fail"]);
    expect(up.at(-2)!.value).to.be.at.most(1 / 30);
    expect(up.at(-1)!.value).to.equal(0);
    // The counts of the hours without samples are missing, never a pass.
    expect(
      check(d, "accuracy")
        .intervals!.slice(-2)
        .map((i) => i.status),
    ).to.deep.equal(["inconclusive", "inconclusive"]);
  });

  it("is not fresh when the request series stop 2 h before the end while up stays 1", async function () {
    const d = await evaluate("requestsStopped");
    const c = check(d, "freshness");
    expect(c.status).to.equal("inconclusive");
    const since = new Date((END - HOUR) * 1000).toISOString();
    expect(c.reason).to.contain(`churn_model_requests_total: no sample since ${since} or earlier`);
    expect(c.reason).to.contain("churn_model_request_duration_seconds_count: no sample since");
    expect(c.reason).not.to.contain("churn_model_predictions_labeled_total");
    expect(check(d, "uptime").status).to.equal("pass");
    expect(d.decision).to.equal("reject");
  });

  it("is not fresh when the labeled predictions stop 10 min before the end, naming their last sample", async function () {
    const d = await evaluate("labelsStopped");
    const c = check(d, "freshness");
    expect(c.status).to.equal("inconclusive");
    const last = new Date((END - 600) * 1000).toISOString();
    expect(c.reason).to.contain(`churn_model_predictions_labeled_total: no sample since ${last} (600 s)`);
    expect(d.decision).to.equal("reject");
    expect(check(await evaluate("healthy"), "freshness").status).to.equal("pass");
  });

  it("pools counters across pods that restarted: sums of increase(), no reset counted as a drop", async function () {
    const d = await evaluate("restarts");
    expect(notPassed(d)).to.deep.equal({});
    expect(check(d, "accuracy").value).to.be.closeTo(0.92, 0.002);
    expect(check(d, "samples").value).to.be.closeTo(2 * 86_400, 400);
  });

  it("pools accuracy over pods by counts, not as a mean of per-pod ratios", async function () {
    const d = await evaluate("pooled");
    const c = check(d, "accuracy");
    expect(c.value).to.be.closeTo((0.36 * 0.8 + 0.04 * 0.99) / 0.4, 0.002);
    expect(c.status).to.equal("fail");
  });

  it("pools uptime over pods: one of two pods failing its scrapes for 3 h is half down then", async function () {
    const d = await evaluate("scrapeFailures");
    const c = check(d, "uptime");
    expect(c.value).to.be.closeTo(1 - 0.5 * (3 / 24), 0.003);
    expect(c.intervals!.slice(-3).map((i) => i.value)).to.deep.equal([0.5, 0.5, 0.5]);
    expect(check(d, "freshness").status).to.equal("pass");
  });

  it("counts 503 as a server error and 404 as none", async function () {
    expect(check(await evaluate("serviceUnavailable"), "error_rate").value).to.be.closeTo(0.05, 0.001);
    const clientErrors = await evaluate("clientErrors");
    expect(check(clientErrors, "error_rate").value).to.be.closeTo(0.002, 0.0003);
    expect(notPassed(clientErrors)).to.deep.equal({});
  });

  it("is inconclusive on a quiet but healthy version after 25 h and promotes it once 48 h of data arrived", async function () {
    const s = SCENARIOS.quietThenEnough;
    const early = await evaluate("quietThenEnough", { at: s.candidate.from + 25 * HOUR, windowHours: 72 });
    expect(early.outcome).to.equal("inconclusive");
    expect(early.decision).to.equal("reject");
    expect(notPassed(early)).to.include({ samples: "inconclusive" });
    expect(Object.values(notPassed(early))).not.to.include("fail");
    expect(check(early, "samples").next).to.match(/^needs ~\d+ more requests \(minRequests\)$/);
    const later = await evaluate("quietThenEnough", { windowHours: 72 });
    expect(notPassed(later)).to.deep.equal({});
    expect(later.decision).to.equal("promote");
  });

  it("is inconclusive on a quiet version whose day has too few requests to bound its error rate", async function () {
    const d = await evaluate("quiet");
    expect(d.outcome).to.equal("inconclusive");
    expect(notPassed(d)).to.include({ samples: "inconclusive" });
    expect(Object.values(notPassed(d))).not.to.include("fail");
  });

  it("measures the young version over the 2 h since its first scrape sample", async function () {
    const d = await evaluate("young");
    expect(d.window.start).to.equal(new Date((END - 2 * HOUR) * 1000).toISOString());
    expect(check(d, "samples").value).to.be.closeTo(2 * 7200, 50);
    expect(check(d, "soak_time").next).to.equal(
      `wait until ${new Date((END + 22 * HOUR) * 1000).toISOString()}`,
    );
  });

  it("proves the soak from the data, not from deployedAt: a claimed 30 h with 2 h of series is too young", async function () {
    const young = SCENARIOS.young;
    const claims30h: Scenario = { ...young, candidate: { ...young.candidate, from: END - 30 * HOUR } };
    const d = await evaluate(claims30h);
    const c = check(d, "soak_time");
    expect(c.status).to.equal("inconclusive");
    expect(c.value).to.be.closeTo(2, 0.05);
    expect(c.reason).to.match(/the data show only/);
    expect(d.window.start).to.equal(new Date((END - 2 * HOUR) * 1000).toISOString());
  });

  it("measures a version deployed again from its new pods' first sample: the old run's samples do not start the window at deployedAt", async function () {
    // The release record says 26.5 h; the new pods' first scrape came 30 min later. The version
    // also ran 29 h → 27 h before the end, inside the look-back of a 30 h window.
    const s = SCENARIOS.redeployed;
    const d = await evaluate(
      { ...s, candidate: { ...s.candidate, from: END - 26.5 * HOUR } },
      { windowHours: 30 },
    );
    expect(notPassed(d)).to.deep.equal({});
    expect(d.window.start).to.equal(new Date((END - 26 * HOUR) * 1000).toISOString());
    expect(check(d, "uptime").value).to.equal(1);
    expect(check(d, "soak_time").value).to.be.closeTo(26, 0.01);
  });

  it("counts only the candidate version in its namespace: broken neighbours do not fail a healthy one", async function () {
    const d = await evaluate("healthyAmongBroken");
    expect(notPassed(d)).to.deep.equal({});
    expect(check(d, "accuracy").value).to.be.closeTo(0.92, 0.002);
    expect(check(d, "uptime").value).to.equal(1);
  });

  it("counts only the candidate version in its namespace: healthy neighbours do not pass a broken one", async function () {
    const d = await evaluate("brokenAmongHealthy");
    expect(notPassed(d)).to.deep.equal({ accuracy: "fail" });
    expect(check(d, "accuracy").value).to.be.closeTo(0.6, 0.002);
  });

  it("rejects an unknown version: no series anywhere is never a pass", async function () {
    const unknown: Scenario = {
      candidate: { ...SCENARIOS.healthy.candidate, version: "9.9.9" },
      neighbours: [],
    };
    const d = await evaluate(unknown);
    expect(d.checks.some((c) => c.passed)).to.equal(false);
    expect(d.outcome).to.equal("fail");
    expect(check(d, "accuracy").reason).to.equal("labeled predictions: no data (no series)");
  });

  it("compares with production's version over the same window on Newcombe bounds when a baseline is given", async function () {
    const d = await evaluate("healthy", { baseline: true });
    // Production's 0.95 against the candidate's 0.92: a drop of 0.03, confidently over 0.02.
    const c = check(d, "baseline_accuracy");
    expect(c.value).to.be.closeTo(0.03, 0.003);
    expect(c.lower!).to.be.above(0.02);
    expect(c.status).to.equal("fail");
    expect(check(d, "baseline_error_rate").status).to.equal("pass");
    expect(check(d, "baseline_latency_p99").status).to.equal("pass");
  });

  it("reports a failing dry-run check and still promotes", async function () {
    const d = await evaluate("flaky", { analysis: { checkModes: { uptime: "dryRun" } } });
    expect(check(d, "uptime")).to.include({ status: "fail", mode: "dryRun", passed: false });
    expect(d.decision).to.equal("promote");
  });

  it("tolerates the regressed intervals when maxFailedIntervals allows them", async function () {
    const d = await evaluate("recentErrors", { analysis: { maxFailedIntervals: 2 } });
    expect(check(d, "error_rate").status).to.equal("pass");
  });

  it("is an error when Prometheus refuses a query, and still measures the others", async function () {
    const queries = { ...ANALYSIS_QUERIES, uptime: "avg(avg_over_time(up{$SELECTOR}[$WINDOW]) +" };
    const d = await evaluate("healthy", { queries });
    expect(notPassed(d)).to.deep.equal({ uptime: "error" });
    expect(d.outcome).to.equal("error");
    expect(check(d, "uptime").reason).to.match(
      /^uptime: query failed: Prometheus refused the query \(bad_data\): .*parse error/,
    );
  });

  it("is an error when a query returns several series instead of one", async function () {
    const queries = {
      ...ANALYSIS_QUERIES,
      requests: "sum by (pod) (increase(churn_model_requests_total{$SELECTOR}[$WINDOW]))",
    };
    const d = await evaluate("healthy", { queries });
    expect(notPassed(d)).to.include({ error_rate: "error", samples: "error" });
    expect(check(d, "samples").reason).to.equal(
      "requests: query failed: the query returned 2 series where one was expected (aggregate it with sum or avg)",
    );
  });
});
