import { expect } from "chai";
import { DEFAULT_ANALYSIS } from "../../scripts/promotion/analysis-config";
import { ANALYSIS_QUERIES, AnalysisResult, collectAnalysis } from "../../scripts/promotion/analysis-metrics";
import { Check, CheckName, Decision, decide } from "../../scripts/promotion/gate";
import { createPrometheusClient, PrometheusClient } from "../../scripts/promotion/prometheus";
import { edgePlan } from "../../scripts/promotion/sample-edges";
import { END, healthy, ServiceProfile, serviceFamilies, STEP } from "../fixtures/gate-scenarios";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import { PrometheusServer, startPrometheusWithHistory } from "../helpers/prometheus";

const HOUR = 3600;
const WEEK = 7 * 24 * HOUR;
const SLOT = DEFAULT_ANALYSIS.maxStalenessSeconds;
/** The look-back of a 7 d window, as the promotion asks for it. */
const LOOKBACK = Math.max(WEEK, DESIGN_THRESHOLDS.minSoakHours * HOUR) + 2 * SLOT;
const PLAN = edgePlan(LOOKBACK, SLOT);
/** The stated precision of the first and newest sample: the resolution, a fifth of the slot. */
const R = PLAN.resolutionSeconds;
/** The end of a coarse span, counted back from the evaluation time. */
const spanEnd = (k: number) => END - k * PLAN.spanSeconds;

/** Scrape health only: enough to find a version's edges, cheap to hold for a week. */
const upOnly = (version: string, over: Partial<ServiceProfile>): ServiceProfile =>
  healthy(version, "staging", { pods: 1, omit: ["requests", "histogram", "labeled"], ...over });

/** A week of a healthy version, the first sample off every grid (17 s past a minute of END). */
const WEEK_OLD = healthy("3.0.0-week", "staging", { from: END - WEEK + HOUR + 17 });
/** A week-old version whose targets vanished three days before the evaluation. */
const GONE = healthy("3.0.0-gone", "staging", {
  pods: 1,
  from: END - WEEK + HOUR + 17,
  to: END - 3 * 24 * HOUR - 1234,
});
const EDGES = {
  atSpanEnd: upOnly("3.0.0-at-span-end", { from: spanEnd(40) }),
  afterSpanEnd: upOnly("3.0.0-after-span-end", { from: spanEnd(40) + 1 }),
  beforeSpanEnd: upOnly("3.0.0-before-span-end", { from: spanEnd(40) - 1 }),
  oldest: upOnly("3.0.0-oldest", { from: END - LOOKBACK + 31 }),
  endsAtSpanEnd: upOnly("3.0.0-ends-at-span-end", { from: spanEnd(40), to: spanEnd(10) }),
};

/** The timestamps of a profile's samples. */
const firstOf = (p: ServiceProfile) => p.from;
const lastOf = (p: ServiceProfile) => p.from + Math.floor((p.to - p.from) / STEP) * STEP;

/** Every query the gate sent, with how many points Prometheus evaluated for it. */
interface Sent {
  readonly query: string;
  readonly points: number;
}

function recording(client: PrometheusClient, sent: Sent[]): PrometheusClient {
  // The steps of the subqueries in a query: [range:step] evaluates range/step points.
  const subquerySteps = (q: string) =>
    Math.max(1, ...[...q.matchAll(/\[(\d+)s:(\d+)s\]/g)].map((m) => Number(m[1]) / Number(m[2])));
  return {
    baseUrl: client.baseUrl,
    instantQuery: (query, time) => {
      sent.push({ query, points: subquerySteps(query) });
      return client.instantQuery(query, time);
    },
    rangeQuery: (query, start, end, step) => {
      const points = Math.floor((end.getTime() - start.getTime()) / 1000 / step) + 1;
      sent.push({ query, points: points * subquerySteps(query) });
      return client.rangeQuery(query, start, end, step);
    },
  };
}

describe("the gate against a real Prometheus holding a week of history", function () {
  let prometheus: PrometheusServer;
  let client: PrometheusClient;

  before(async function () {
    this.timeout(300_000);
    const profiles = [WEEK_OLD, GONE, ...Object.values(EDGES)];
    prometheus = await startPrometheusWithHistory(profiles.flatMap(serviceFamilies));
    client = createPrometheusClient({ baseUrl: prometheus.url, timeoutMs: 60_000 });
  });

  after(async function () {
    await prometheus?.stop();
  });

  async function measure(p: ServiceProfile, sent: Sent[] = []): Promise<AnalysisResult> {
    return collectAnalysis(recording(client, sent), ANALYSIS_QUERIES, {
      selector: { namespace: p.namespace, version: p.version },
      end: new Date(END * 1000),
      earliestStart: new Date(Math.max(p.from, END - WEEK) * 1000),
      deployedAt: new Date(p.from * 1000),
      intervalSeconds: HOUR,
      slotSeconds: SLOT,
      lookbackSeconds: LOOKBACK,
    });
  }

  function decided(p: ServiceProfile, m: AnalysisResult): Decision {
    return decide(m.metrics, DESIGN_THRESHOLDS, {
      modelVersion: p.version,
      deployedAt: new Date(p.from * 1000),
      window: m.window,
      analysis: DEFAULT_ANALYSIS,
    });
  }

  function check(d: Decision, name: CheckName): Check {
    const c = d.checks.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no check ${name}`);
    return c;
  }

  it("promotes a week-old healthy version over a 7 d window, its first sample within the resolution", async function () {
    const sent: Sent[] = [];
    const m = await measure(WEEK_OLD, sent);
    const first = m.metrics.firstSample.value!;
    expect(first).to.be.within(firstOf(WEEK_OLD), firstOf(WEEK_OLD) + R);
    // The newest sample is within Prometheus' look-back delta of the end: exact.
    expect(m.metrics.lastSample.value).to.equal(lastOf(WEEK_OLD));
    const start = Math.ceil(firstOf(WEEK_OLD) / SLOT) * SLOT;
    expect(m.window.start.getTime() / 1000).to.equal(start);
    const d = decided(WEEK_OLD, m);
    expect(d.checks.filter((c) => c.status !== "pass").map((c) => [c.name, c.reason])).to.deep.equal([]);
    expect(d.decision).to.equal("promote");
    expect(check(d, "soak_time").value).to.be.closeTo((END - firstOf(WEEK_OLD)) / HOUR, R / HOUR);
    expect(check(d, "freshness").value).to.equal(END - lastOf(WEEK_OLD));
    expect(check(d, "accuracy").intervals).to.have.length(Math.floor((END - start) / HOUR));
  });

  it("bounds the work of the sample search: no look-up of sample timestamps over the whole week", async function () {
    const sent: Sent[] = [];
    await measure(WEEK_OLD, sent);
    const edgeQueries = sent.filter(
      (s) => s.query.includes("timestamp(") || s.query.includes("count(count_"),
    );
    // Three for the first and newest sample of `up` (sample-edges.ts), three for the newest
    // sample of the requests, the latency histogram and the labeled predictions (freshness).
    const ofUp = edgeQueries.filter((s) => s.query.includes('up{job="churn-model"'));
    expect(ofUp).to.have.length(3);
    expect(edgeQueries).to.have.length(6);
    // One step of R over the look-back would be LOOKBACK / R (25 210) points; each stage is ~√ of that.
    const bound = 2 * Math.ceil(Math.sqrt(LOOKBACK / R)) + 2;
    expect(edgeQueries.map((s) => s.points).filter((n) => n > bound)).to.deep.equal([]);
  });

  it("finds the newest sample of a version gone for three days within the resolution, and fails it", async function () {
    const m = await measure(GONE);
    expect(m.metrics.firstSample.value).to.be.within(firstOf(GONE), firstOf(GONE) + R);
    expect(m.metrics.lastSample.value).to.be.within(lastOf(GONE) - R, lastOf(GONE));
    const d = decided(GONE, m);
    expect(check(d, "freshness").status).to.equal("fail");
    expect(check(d, "freshness").value).to.be.closeTo(END - lastOf(GONE), R);
    expect(check(d, "uptime").status).to.equal("fail");
    expect(check(d, "uptime").value).to.be.closeTo(
      (lastOf(GONE) - m.window.start.getTime() / 1000) / (END - m.window.start.getTime() / 1000),
      0.001,
    );
  });

  for (const [name, p] of Object.entries(EDGES)) {
    it(`finds the first sample of ${name} (${firstOf(p) - END} s) within ${R} s and the newest exactly or within it`, async function () {
      const m = await measure(p);
      expect(m.metrics.firstSample.error).to.equal(undefined);
      expect(m.metrics.firstSample.value).to.be.within(firstOf(p), firstOf(p) + R);
      expect(m.metrics.lastSample.value).to.be.within(lastOf(p) - R, lastOf(p));
    });
  }

  it("finds no sample of a version never scraped: the soak cannot be proven and the version is stale", async function () {
    const m = await measure(upOnly("9.9.9-never", {}));
    expect(m.metrics.firstSample).to.deep.equal({ value: null });
    expect(m.metrics.lastSample).to.deep.equal({ value: null });
  });
});
