import { expect } from "chai";
import { AnalysisSettings, DEFAULT_ANALYSIS } from "../../scripts/promotion/analysis-config";
import {
  AnalysisRecord,
  analysisProblems,
  analysisRecordOf,
} from "../../scripts/promotion/analysis-evidence";
import { decide, GateMetrics, IntervalMetrics, SpanMetrics } from "../../scripts/promotion/gate";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";

const T = DESIGN_THRESHOLDS;
const END = new Date("2025-03-02T12:00:00Z");
const END_S = END.getTime() / 1000;

function span(scale: number, accuracy = 0.92): SpanMetrics {
  const labeled = 34_560 * scale;
  const requests = 172_800 * scale;
  return {
    labeled: { value: labeled },
    correct: { value: labeled * accuracy },
    requests: { value: requests },
    serverErrors: { value: requests * 0.002 },
    latency: {
      buckets: [
        { le: 0.1, count: requests * 0.98 },
        { le: 0.25, count: requests * 0.998 },
        { le: Infinity, count: requests },
      ],
    },
    uptime: { value: 1 },
  };
}

function metrics(last: (k: number) => number = () => 0.92): GateMetrics {
  const intervals: IntervalMetrics[] = Array.from({ length: 24 }, (_, k) => ({
    start: new Date((END_S - (24 - k) * 3600) * 1000),
    end: new Date((END_S - (23 - k) * 3600) * 1000),
    ...span(1 / 24, last(k)),
  }));
  return {
    window: span(1),
    intervals,
    firstSample: { value: END_S - 30 * 3600 },
    lastSample: { value: END_S - 5 },
    newestSamples: {
      requests: { value: END_S - 5 },
      latency: { value: END_S - 5 },
      labeled: { value: END_S - 5 },
    },
  };
}

function record(analysis: Partial<AnalysisSettings> = {}, m: GateMetrics = metrics()): AnalysisRecord {
  const d = decide(m, T, {
    modelVersion: "1.1.0",
    window: { start: new Date(END.getTime() - 86_400_000), end: END },
    deployedAt: new Date(END.getTime() - 30 * 3_600_000),
    analysis: { ...DEFAULT_ANALYSIS, ...analysis },
  });
  return analysisRecordOf(d, m, T);
}

const verify = (r: AnalysisRecord, settings: Partial<AnalysisSettings> = {}) =>
  analysisProblems("promotion evidence", r, { ...DEFAULT_ANALYSIS, ...settings }, T, END.toISOString());

describe("the analysis the evidence records", function () {
  it("records method, counts, exact bounds and every interval's outcomes, and verifies under the same policy", function () {
    const r = record();
    expect(r.method).to.include({ method: "clopper-pearson", confidence: 0.95, intervals: 24 });
    expect(r.counts.labeled).to.equal(34_560);
    expect(r.counts.latencyBoundMs).to.equal(250);
    expect(r.intervals).to.have.length(24);
    expect(r.intervals[0].outcomes).to.deep.equal({
      accuracy: "pass",
      latency_p99: "pass",
      error_rate: "pass",
      uptime: "pass",
    });
    expect(verify(r)).to.deep.equal([]);
  });

  it("refuses a record judged at a weaker confidence than the policy config's", function () {
    expect(verify(record(), { confidence: 0.99 })).to.deep.equal([
      "promotion evidence: was judged at confidence 0.95, weaker than the policy's 0.99",
    ]);
  });

  it("refuses a record that tolerated more failed intervals, or longer intervals, than the policy", function () {
    const lenient = record({ maxFailedIntervals: 2 });
    expect(verify(lenient)).to.deep.equal([
      "promotion evidence: tolerated 2 failed intervals, more than the policy's 0",
    ]);
    const coarse: AnalysisRecord = {
      ...record(),
      method: { ...record().method, analysisIntervalMinutes: 120 },
    };
    expect(verify(coarse)[0]).to.match(/used intervals of 120 min, longer than the policy's 60/);
  });

  it("refuses bounds its counts do not give, and counts whose bounds miss the threshold", function () {
    const r = record();
    const forgedBounds: AnalysisRecord = { ...r, bounds: { ...r.bounds, accuracy: [0.95, 0.97] } };
    expect(verify(forgedBounds)[0]).to.match(
      /records accuracy bounds \[0.95, 0.97\] that its counts do not give/,
    );
    const fewer: AnalysisRecord = { ...r, counts: { ...r.counts, labeled: 210, correct: 180 } };
    expect(verify(fewer).join("\n")).to.match(/accuracy bounds .* that its counts do not give/);
  });

  it("refuses a record whose interval counts show a failure it records as a pass", function () {
    const r = record({ maxFailedIntervals: 0 });
    const hidden: AnalysisRecord = {
      ...r,
      intervals: r.intervals.map((i, k) => (k === 23 ? { ...i, correct: (i.labeled ?? 0) * 0.6 } : i)),
    };
    expect(verify(hidden)).to.deep.equal([
      "promotion evidence: interval 2025-03-02T11:00:00.000Z → 2025-03-02T12:00:00.000Z: its counts give a failed accuracy, recorded as pass",
    ]);
  });

  it("refuses a record with more failed intervals than allowed", function () {
    const r = record(
      { maxFailedIntervals: 1 },
      metrics((k) => (k === 23 ? 0.6 : 0.92)),
    );
    expect(r.intervals[23].outcomes.accuracy).to.equal("fail");
    expect(verify(r, { maxFailedIntervals: 1 })).to.deep.equal([]);
    const tampered: AnalysisRecord = { ...r, method: { ...r.method, maxFailedIntervals: 0 } };
    expect(verify(tampered)).to.deep.equal([
      "promotion evidence: 1 intervals of accuracy failed; at most 0 may",
    ]);
  });

  it("refuses a dry run the policy config does not allow", function () {
    const r = record({ checkModes: { uptime: "dryRun" } });
    expect(r.dryRun).to.deep.equal(["uptime"]);
    expect(verify(r)).to.deep.equal([
      "promotion evidence: treats uptime as a dry run; the policy enforces it",
    ]);
    expect(verify(r, { checkModes: { uptime: "dryRun" } })).to.deep.equal([]);
  });
});
