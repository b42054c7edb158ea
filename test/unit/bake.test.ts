/**
 * The bake verdict as a table: one look at production and the triggers in, a verdict out.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import {
  BakeObservation,
  BakeVerdict,
  judgeBake,
  rollbackTriggers,
  RollbackTriggers,
} from "../../scripts/promotion/bake";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import { bakeSelector, p99AboveBuckets } from "../../scripts/promotion/bake-watch";
import type { InstantResult, PrometheusClient } from "../../scripts/promotion/prometheus";

const THRESHOLDS_FILE = path.resolve(__dirname, "..", "fixtures", "thresholds", "production.json");
const THRESHOLDS: Thresholds = JSON.parse(fs.readFileSync(THRESHOLDS_FILE, "utf8"))["promotion-evidence"];

const T: RollbackTriggers = rollbackTriggers(THRESHOLDS, 300);
const GOOD = { requests: 5000, errorRate: 0.001, latencyP99Ms: 120 };

describe("rollback triggers", function () {
  it("come from the policy config's error rate, p99 and request numbers and the bake window", function () {
    expect(T).to.deep.equal({
      bakeSeconds: 300,
      pollSeconds: 10,
      maxErrorRate: THRESHOLDS.maxErrorRate,
      maxLatencyP99Ms: THRESHOLDS.maxLatencyP99Ms,
      minRequests: THRESHOLDS.minRequests,
      toleratedFailedHealthChecksInARow: 2,
    });
  });

  it("follow a changed policy config", function () {
    const t = rollbackTriggers({ maxErrorRate: 0.05, maxLatencyP99Ms: 900, minRequests: 7 }, 60);
    expect([t.maxErrorRate, t.maxLatencyP99Ms, t.minRequests, t.bakeSeconds]).to.deep.equal([
      0.05, 900, 7, 60,
    ]);
  });
});

describe("the bake verdict", function () {
  const rows: [string, BakeObservation, BakeVerdict, Partial<RollbackTriggers>?][] = [
    [
      "watches while healthy within the window",
      { elapsedSeconds: 30, failedHealthChecksInARow: 0, traffic: GOOD },
      { status: "watching" },
    ],
    [
      "watches before anything was measured",
      { elapsedSeconds: 0, failedHealthChecksInARow: 0 },
      { status: "watching" },
    ],
    [
      "passes at the end of the window with enough good traffic",
      { elapsedSeconds: 300, failedHealthChecksInARow: 0, traffic: GOOD },
      { status: "healthy" },
    ],
    [
      "tolerates two failed health checks in a row",
      {
        elapsedSeconds: 30,
        failedHealthChecksInARow: 2,
        lastHealthFailure: "GET /healthz answered 503",
        traffic: GOOD,
      },
      { status: "watching" },
    ],
    [
      "fires readiness on the third failed health check in a row, before the window ends",
      {
        elapsedSeconds: 30,
        failedHealthChecksInARow: 3,
        lastHealthFailure: "GET /healthz answered 503",
        traffic: GOOD,
      },
      {
        status: "unhealthy",
        reasons: ["readiness: 3 health checks in a row failed (GET /healthz answered 503)"],
      },
    ],
    [
      "fires readiness on the first failure when none is tolerated",
      {
        elapsedSeconds: 30,
        failedHealthChecksInARow: 1,
        lastHealthFailure: "GET /ready failed: ECONNREFUSED",
      },
      {
        status: "unhealthy",
        reasons: ["readiness: 1 health checks in a row failed (GET /ready failed: ECONNREFUSED)"],
      },
      { toleratedFailedHealthChecksInARow: 0 },
    ],
    [
      "fires on an error rate above the policy's, as soon as there is enough traffic",
      { elapsedSeconds: 40, failedHealthChecksInARow: 0, traffic: { ...GOOD, errorRate: 0.08 } },
      { status: "unhealthy", reasons: [`error rate 0.0800 over 40s exceeds ${THRESHOLDS.maxErrorRate}`] },
    ],
    [
      "fires on a p99 above the policy's",
      { elapsedSeconds: 40, failedHealthChecksInARow: 0, traffic: { ...GOOD, latencyP99Ms: 310 } },
      {
        status: "unhealthy",
        reasons: [`p99 latency 310 ms over 40s exceeds ${THRESHOLDS.maxLatencyP99Ms} ms`],
      },
    ],
    [
      "names both triggers when both fire",
      {
        elapsedSeconds: 40,
        failedHealthChecksInARow: 0,
        traffic: { ...GOOD, errorRate: 0.5, latencyP99Ms: 900 },
      },
      {
        status: "unhealthy",
        reasons: [
          `error rate 0.500 over 40s exceeds ${THRESHOLDS.maxErrorRate}`,
          `p99 latency 900 ms over 40s exceeds ${THRESHOLDS.maxLatencyP99Ms} ms`,
        ],
      },
    ],
    [
      "fails closed on a NaN error rate once there is traffic",
      { elapsedSeconds: 40, failedHealthChecksInARow: 0, traffic: { ...GOOD, errorRate: NaN } },
      { status: "unhealthy", reasons: [`error rate NaN over 40s exceeds ${THRESHOLDS.maxErrorRate}`] },
    ],
    [
      "fails closed on an absent p99 once there is traffic",
      { elapsedSeconds: 40, failedHealthChecksInARow: 0, traffic: { ...GOOD, latencyP99Ms: null } },
      {
        status: "unhealthy",
        reasons: [`p99 latency none ms over 40s exceeds ${THRESHOLDS.maxLatencyP99Ms} ms`],
      },
    ],
    [
      "does not judge a bad error rate on too little traffic before the end",
      {
        elapsedSeconds: 20,
        failedHealthChecksInARow: 0,
        traffic: { requests: 3, errorRate: 1, latencyP99Ms: 5000 },
      },
      { status: "watching" },
    ],
    [
      "fails at the end on too little traffic: no traffic is no proof",
      {
        elapsedSeconds: 301,
        failedHealthChecksInARow: 0,
        traffic: { requests: 12, errorRate: 0, latencyP99Ms: 20 },
      },
      {
        status: "unhealthy",
        reasons: [`only 12 production requests in 5m1s (need ${THRESHOLDS.minRequests} to verify)`],
      },
    ],
    [
      "fails at the end when the request count has no value",
      {
        elapsedSeconds: 300,
        failedHealthChecksInARow: 0,
        traffic: { requests: null, errorRate: null, latencyP99Ms: null },
      },
      {
        status: "unhealthy",
        reasons: [`only 0 production requests in 5m (need ${THRESHOLDS.minRequests} to verify)`],
      },
    ],
    [
      "fails at the end when production's metrics cannot be read",
      {
        elapsedSeconds: 300,
        failedHealthChecksInARow: 0,
        traffic: { unreadable: "connect ECONNREFUSED 127.0.0.1:9090" },
      },
      {
        status: "unhealthy",
        reasons: [
          "production's metrics could not be read at the end of the bake: connect ECONNREFUSED 127.0.0.1:9090",
        ],
      },
    ],
    [
      "keeps watching through unreadable metrics within the window",
      {
        elapsedSeconds: 60,
        failedHealthChecksInARow: 0,
        traffic: { unreadable: "timeout of 10000ms exceeded" },
      },
      { status: "watching" },
    ],
    [
      "judges an error rate exactly at the limit as good",
      {
        elapsedSeconds: 300,
        failedHealthChecksInARow: 0,
        traffic: { ...GOOD, errorRate: THRESHOLDS.maxErrorRate },
      },
      { status: "healthy" },
    ],
    [
      "fails a p99 in the +Inf bucket although Prometheus reports the largest finite bound, under the limit",
      {
        elapsedSeconds: 60,
        failedHealthChecksInARow: 0,
        traffic: { ...GOOD, latencyP99Ms: 100, p99AboveBucketsMs: 100 },
      },
      {
        status: "unhealthy",
        reasons: [
          `p99 latency over 1m lies above the histogram's largest finite bound 100 ms (the +Inf bucket): it cannot be shown to meet ${THRESHOLDS.maxLatencyP99Ms} ms`,
        ],
      },
    ],
    [
      "lets readiness win over good metrics",
      {
        elapsedSeconds: 300,
        failedHealthChecksInARow: 3,
        lastHealthFailure: "GET /healthz answered 500",
        traffic: GOOD,
      },
      {
        status: "unhealthy",
        reasons: ["readiness: 3 health checks in a row failed (GET /healthz answered 500)"],
      },
    ],
  ];
  for (const [what, observation, verdict, over] of rows) {
    it(what, function () {
      expect(judgeBake(observation, { ...T, ...(over ?? {}) })).to.deep.equal(verdict);
    });
  }
});

describe("the bake's look at the latency histogram's +Inf bucket", function () {
  /** Answers the bucket query with cumulative counts by bound. */
  function buckets(counts: Record<string, number>): PrometheusClient & { asked: string[] } {
    const asked: string[] = [];
    return {
      baseUrl: "http://prometheus.test",
      asked,
      async instantQuery(query: string): Promise<InstantResult> {
        asked.push(query);
        return {
          resultType: "vector",
          samples: Object.entries(counts).map(([le, value]) => ({ labels: { le }, value })),
        };
      },
      async rangeQuery(): Promise<InstantResult> {
        throw new Error("no range query expected");
      },
    };
  }
  const selector = { namespace: "production", version: "1.4.0" };
  const window = { start: new Date("2026-01-01T00:00:00Z"), end: new Date("2026-01-01T00:05:00Z") };

  it("names the largest finite bound when more than 1 % of requests lie above it", async function () {
    const client = buckets({ "0.05": 900, "0.1": 970, "+Inf": 1000 });
    expect(await p99AboveBuckets(client, selector, window)).to.equal(100);
    expect(client.asked).to.deep.equal([
      'sum by (le) (increase(churn_model_request_duration_seconds_bucket{namespace="production",version="1.4.0"}[300s]))',
    ]);
  });

  it("says nothing when the p99 lies within the finite buckets, or the histogram has no data", async function () {
    expect(
      await p99AboveBuckets(buckets({ "0.05": 900, "0.1": 995, "+Inf": 1000 }), selector, window),
    ).to.equal(undefined);
    expect(await p99AboveBuckets(buckets({}), selector, window)).to.equal(undefined);
    expect(await p99AboveBuckets(buckets({ "0.1": 0, "+Inf": 0 }), selector, window)).to.equal(undefined);
  });
});

describe("the series the bake watches", function () {
  const digest = `sha256:${"ab".repeat(32)}`;
  for (const [version, label] of [
    ["1.1.0", "1.1.0"],
    ["1.4.2+b7", "1.4.2_b7"],
    [digest, `sha256_${Buffer.from("ab".repeat(32), "hex").toString("base64url")}`],
  ]) {
    it(`selects ${version} by its label value ${label}, as the service labels its series`, function () {
      expect(bakeSelector("production", version)).to.deep.equal({ namespace: "production", version: label });
    });
  }
});
