/**
 * The freshness check as a table (docs/analysis.md, "Freshness"): `up` and every judged series
 * of the candidate must have a sample within maxStalenessSeconds of the evaluation time.
 */
import { expect } from "chai";
import { DEFAULT_ANALYSIS } from "../../scripts/promotion/analysis-config";
import type { GateContext, GateMetrics, Measurement, Outcome } from "../../scripts/promotion/gate";
import { freshnessCheck } from "../../scripts/promotion/gate-checks";

const END = new Date("2025-03-02T12:00:00Z");
const END_S = END.getTime() / 1000;
const ctx: GateContext = {
  modelVersion: "1.1.0",
  window: { start: new Date(END.getTime() - 86_400_000), end: END },
  deployedAt: new Date(END.getTime() - 30 * 3_600_000),
  analysis: DEFAULT_ANALYSIS,
};

const ago = (s: number | null): Measurement => ({ value: s === null ? null : END_S - s });
const failed: Measurement = { value: null, error: "HTTP 500" };

/** Metrics whose only fields the check reads: the newest samples. */
function metrics(up: Measurement, series: Partial<GateMetrics["newestSamples"]> = {}): GateMetrics {
  const fresh = ago(10);
  return {
    window: undefined as never,
    intervals: [],
    firstSample: ago(30 * 3600),
    lastSample: up,
    newestSamples: { requests: fresh, latency: fresh, labeled: fresh, ...series },
  };
}

describe("the freshness check", function () {
  const cases: [string, GateMetrics, Outcome, RegExp][] = [
    ["every series 10 s old", metrics(ago(10)), "pass", /^newest scrape sample 10 s old/],
    ["every series exactly at the limit", metrics(ago(120), { labeled: ago(120) }), "pass", /≤ 120 s$/],
    [
      "requests stopped 2 h ago, up fresh",
      metrics(ago(10), { requests: ago(null) }),
      "inconclusive",
      /churn_model_requests_total: no sample since 2025-03-02T11:00:00.000Z or earlier/,
    ],
    [
      "labels 121 s old, up fresh",
      metrics(ago(10), { labeled: ago(121) }),
      "inconclusive",
      /churn_model_predictions_labeled_total: no sample since 2025-03-02T11:57:59.000Z \(121 s\)/,
    ],
    [
      "the latency histogram gone",
      metrics(ago(10), { latency: ago(null) }),
      "inconclusive",
      /churn_model_request_duration_seconds_count: no sample since/,
    ],
    ["up 121 s old", metrics(ago(121)), "fail", /^newest scrape sample is 121 s old/],
    ["no up sample at all", metrics(ago(null), { requests: ago(null) }), "fail", /its targets are gone/],
    ["the requests' query failed", metrics(ago(10), { requests: failed }), "error", /query failed: HTTP 500/],
    ["up's query failed", metrics(failed), "error", /query failed: HTTP 500/],
  ];
  for (const [situation, m, status, reason] of cases) {
    it(`${situation}: ${status}`, function () {
      const c = freshnessCheck(m, ctx);
      expect(c.status).to.equal(status);
      expect(c.reason).to.match(reason);
    });
  }
});
