import { expect } from "chai";
import { AnalysisSettings, DEFAULT_ANALYSIS } from "../../scripts/promotion/analysis-config";
import {
  Baseline,
  Check,
  CheckName,
  decide,
  Decision,
  GateContext,
  GateMetrics,
  HistogramMeasurement,
  IntervalMetrics,
  Measurement,
  Outcome,
  SpanMetrics,
  worstOutcome,
} from "../../scripts/promotion/gate";
import { Bucket, clopperPearson } from "../../policy/contract";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import { GATE_CHECKS } from "../fixtures/check-names";

const T: Thresholds = DESIGN_THRESHOLDS;
const END = new Date("2025-03-02T12:00:00Z");
const END_S = END.getTime() / 1000;
const HOUR = 3600;

const v = (value: number | null, error?: string): Measurement =>
  error === undefined ? { value } : { value, error };

/** Cumulative buckets (seconds) for `requests` requests with the given shares at or below each bound. */
function histogram(requests: number, shares: Record<string, number>): HistogramMeasurement {
  const buckets: Bucket[] = Object.entries(shares).map(([le, share]) => ({
    le: le === "+Inf" ? Infinity : Number(le),
    count: requests * share,
  }));
  if (!buckets.some((b) => b.le === Infinity)) buckets.push({ le: Infinity, count: requests });
  return { buckets };
}

/** p99 well within 250 ms: 0.2 % above 0.25 s. */
const FAST = { "0.05": 0.85, "0.1": 0.98, "0.25": 0.998, "0.5": 1 };

interface SpanSpec {
  labeled?: number | Measurement;
  accuracy?: number;
  correct?: Measurement;
  requests?: number | Measurement;
  errorRate?: number;
  serverErrors?: Measurement;
  latency?: HistogramMeasurement;
  uptime?: number | Measurement;
}

function span(s: SpanSpec = {}, scale = 1): SpanMetrics {
  const m = (x: number | Measurement | undefined, fallback: number): Measurement =>
    typeof x === "object" ? x : v(x ?? fallback);
  const labeled = m(s.labeled, 34_560 * scale);
  const requests = m(s.requests, 172_800 * scale);
  const n = labeled.value ?? 0;
  const r = requests.value ?? 0;
  return {
    labeled,
    correct: s.correct ?? v(n * (s.accuracy ?? 0.92)),
    requests,
    serverErrors: s.serverErrors ?? v(r * (s.errorRate ?? 0.002)),
    latency: s.latency ?? histogram(r, FAST),
    uptime: m(s.uptime, 1),
  };
}

/** n hourly intervals ending at END; `over` changes the k-th (0 = oldest). */
function intervals(n: number, over: Record<number, SpanSpec> = {}): IntervalMetrics[] {
  return Array.from({ length: n }, (_, k) => ({
    start: new Date((END_S - (n - k) * HOUR) * 1000),
    end: new Date((END_S - (n - 1 - k) * HOUR) * 1000),
    ...span(over[k] ?? {}, 1 / n),
  }));
}

function metrics(over: Partial<GateMetrics> = {}, window: SpanSpec = {}): GateMetrics {
  return {
    window: span(window),
    intervals: intervals(24),
    firstSample: v(END_S - 30 * HOUR),
    lastSample: v(END_S - 10),
    newestSamples: { requests: v(END_S - 10), latency: v(END_S - 10), labeled: v(END_S - 10) },
    ...over,
  };
}

function gateContext(over: Partial<GateContext> = {}, analysis: Partial<AnalysisSettings> = {}): GateContext {
  return {
    modelVersion: "1.1.0",
    window: { start: new Date(END.getTime() - 24 * HOUR * 1000), end: END },
    deployedAt: new Date(END.getTime() - 30 * HOUR * 1000),
    analysis: { ...DEFAULT_ANALYSIS, ...analysis },
    ...over,
  };
}

function check(d: Decision, name: CheckName): Check {
  const c = d.checks.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no check ${name}`);
  return c;
}

function statuses(d: Decision): Partial<Record<CheckName, Outcome>> {
  return Object.fromEntries(d.checks.filter((c) => c.status !== "pass").map((c) => [c.name, c.status]));
}

describe("decide()", function () {
  it("promotes when every check passes, with the contract's checks in order and the method recorded", function () {
    const d = decide(metrics(), T, gateContext());
    expect(d.decision).to.equal("promote");
    expect(d.outcome).to.equal("pass");
    expect(d.checks.map((c) => c.name)).to.deep.equal(GATE_CHECKS);
    expect(d.checks.every((c) => c.passed && c.status === "pass" && c.mode === "enforce")).to.equal(true);
    const acc = check(d, "accuracy");
    expect(acc.value).to.be.closeTo(0.92, 1e-12);
    const w = clopperPearson(34_560 * 0.92, 34_560, 0.95);
    expect(acc.lower).to.equal(w.lower);
    expect(acc.upper).to.equal(w.upper);
    expect(acc.intervals).to.have.length(24);
    expect(acc.intervals!.every((i) => i.status === "pass")).to.equal(true);
    expect(d.analysis).to.deep.equal({
      method: "clopper-pearson",
      confidence: 0.95,
      intervalConfidence: 1 - 0.05 / 24,
      analysisIntervalMinutes: 60,
      intervals: 24,
      maxFailedIntervals: 0,
      maxStalenessSeconds: 120,
    });
  });

  it("gives the same decision for the same input", function () {
    expect(decide(metrics(), T, gateContext())).to.deep.equal(decide(metrics(), T, gateContext()));
  });

  describe("boundaries of a proportion", function () {
    // 200 labeled predictions, 180 correct: Wilson 95 % bounds.
    const w = clopperPearson(180, 200, 0.95);
    const m = metrics({ intervals: intervals(24, {}) }, { labeled: 200, accuracy: 0.9 });
    const at = (minAccuracy: number) => check(decide(m, { ...T, minAccuracy }, gateContext()), "accuracy");

    it("passes when the pessimistic bound is exactly at the minimum", function () {
      expect(at(w.lower).status).to.equal("pass");
    });

    it("is inconclusive just above the pessimistic bound, saying how many more labels would decide", function () {
      const c = at(w.lower + 1e-9);
      expect(c.status).to.equal("inconclusive");
      expect(c.passed).to.equal(false);
      expect(c.reason).to.match(/straddle/);
      expect(c.next).to.match(/^needs ~\d+ more labeled predictions at the current accuracy to decide$/);
    });

    it("is inconclusive, not failed, when the optimistic bound is exactly at the minimum", function () {
      expect(at(w.upper).status).to.equal("inconclusive");
    });

    it("fails when the optimistic bound is below the minimum", function () {
      const c = at(w.upper + 1e-9);
      expect(c.status).to.equal("fail");
      expect(c.reason).to.match(/upper bound below the minimum/);
    });

    const e = clopperPearson(20, 2000, 0.95);
    const em = metrics({}, { requests: 2000, errorRate: 0.01 });
    const rate = (maxErrorRate: number) =>
      check(decide(em, { ...T, maxErrorRate }, gateContext()), "error_rate");

    it("passes an error rate whose pessimistic (upper) bound is exactly at the maximum", function () {
      expect(rate(e.upper).status).to.equal("pass");
    });

    it("does not fail an error rate whose optimistic (lower) bound is exactly at the maximum", function () {
      expect(rate(e.lower).status).to.equal("inconclusive");
    });

    it("fails an error rate whose lower bound is above the maximum", function () {
      expect(rate(e.lower - 1e-9).status).to.equal("fail");
    });

    it("does not pass a point estimate that meets the threshold when sampling noise could produce it", function () {
      // 0.86 on 250 labels: the point estimate meets 0.85, the lower bound (≈ 0.812) does not.
      const d = decide(metrics({}, { labeled: 250, accuracy: 0.86 }), T, gateContext());
      expect(check(d, "accuracy").status).to.equal("inconclusive");
      expect(d.decision).to.equal("reject");
    });
  });

  describe("p99 latency at bucket resolution", function () {
    const lat = (latency: HistogramMeasurement, maxLatencyP99Ms = 250, requests = 172_800) =>
      check(
        decide(
          metrics({ intervals: intervals(24) }, { requests, latency }),
          { ...T, maxLatencyP99Ms },
          gateContext(),
        ),
        "latency_p99",
      );

    it("passes when the p99 is confidently at or below a bound equal to the threshold", function () {
      const c = lat(histogram(172_800, FAST));
      expect(c.status).to.equal("pass");
      expect(c.upper).to.equal(250);
      expect(c.value).to.be.within(100, 250);
    });

    it("fails when the p99 is confidently above a bound equal to the threshold", function () {
      const c = lat(histogram(172_800, { "0.1": 0.6, "0.25": 0.95, "0.5": 0.999, "1": 1 }));
      expect(c.status).to.equal("fail");
      expect(c.lower).to.equal(250);
    });

    it("is inconclusive when the p99 sits too near the threshold bound for the requests seen", function () {
      const c = lat(histogram(2000, { "0.1": 0.95, "0.25": 0.99, "0.5": 1 }), 250, 2000);
      expect(c.status).to.equal("inconclusive");
      expect(c.next).to.match(/more requests/);
    });

    it("never passes a p99 in the +Inf bucket whose largest finite bound is at or below the threshold", function () {
      // Prometheus reports the largest finite bound, 0.25 s, which would meet 300 ms.
      const c = lat(histogram(172_800, { "0.1": 0.5, "0.25": 0.9 }), 300);
      expect(c.value).to.equal(250);
      expect(c.status).to.equal("inconclusive");
      expect(c.reason).to.match(/\+Inf bucket.*cannot be measured with these buckets/);
      expect(c.upper).to.equal(null);
    });

    it("fails a p99 in the +Inf bucket when the largest finite bound is above the threshold", function () {
      const c = lat(histogram(172_800, { "0.1": 0.5, "0.25": 0.9, "0.5": 0.95 }));
      expect(c.status).to.equal("fail");
    });

    it("cannot pass when no bucket bound is at or below the threshold", function () {
      const c = lat(histogram(172_800, { "0.5": 1 }), 250);
      expect(c.status).to.equal("inconclusive");
      expect(c.next).to.match(/no histogram bound at or below 250 ms/);
    });
  });

  describe("intervals", function () {
    const bad = { accuracy: 0.6 };

    it("fails a metric when one interval is confidently bad although the whole window passes", function () {
      const m = metrics({ intervals: intervals(24, { 23: bad }) }, { accuracy: 0.912 });
      const d = decide(m, T, gateContext());
      const c = check(d, "accuracy");
      expect(c.intervals!.map((i) => i.status).filter((s) => s !== "pass")).to.deep.equal(["fail"]);
      expect(c.status).to.equal("fail");
      expect(c.reason).to.match(
        /^1 of 24 intervals of 60 min confidently bad \(maxFailedIntervals 0\); the latest 2025-03-02T11:00:00.000Z → 2025-03-02T12:00:00.000Z/,
      );
      expect(d.decision).to.equal("reject");
      expect(d.outcome).to.equal("fail");
    });

    it("tolerates as many bad intervals as maxFailedIntervals says, and not one more", function () {
      const one = metrics({ intervals: intervals(24, { 22: bad }) }, { accuracy: 0.912 });
      expect(check(decide(one, T, gateContext({}, { maxFailedIntervals: 1 })), "accuracy").status).to.equal(
        "pass",
      );
      const two = metrics({ intervals: intervals(24, { 22: bad, 23: bad }) }, { accuracy: 0.9 });
      expect(check(decide(two, T, gateContext({}, { maxFailedIntervals: 1 })), "accuracy").status).to.equal(
        "fail",
      );
    });

    it("does not fail on a quiet interval whose few labels are merely noisy", function () {
      // 5 labels, 3 correct: far below 0.85 as a point, but not confidently.
      const m = metrics({ intervals: intervals(24, { 5: { labeled: 5, accuracy: 0.6 } }) });
      const c = check(decide(m, T, gateContext()), "accuracy");
      expect(c.intervals![5].status).to.equal("inconclusive");
      expect(c.status).to.equal("pass");
      expect(c.reason).to.match(/1 without enough data/);
    });

    it("treats NaN in one interval as an interval without data, never as a pass", function () {
      const m = metrics({ intervals: intervals(24, { 7: { labeled: NaN } }) });
      const c = check(decide(m, T, gateContext()), "accuracy");
      expect(c.intervals![7].status).to.equal("inconclusive");
      expect(c.intervals![7].reason).to.equal("labeled predictions: NaN (no events)");
      expect(c.status).to.equal("pass");
    });

    it("is inconclusive with zero intervals: the window is shorter than one analysis interval", function () {
      const d = decide(metrics({ intervals: [] }), T, gateContext());
      expect(statuses(d)).to.deep.equal({
        accuracy: "inconclusive",
        latency_p99: "inconclusive",
        error_rate: "inconclusive",
        uptime: "inconclusive",
      });
      expect(check(d, "accuracy").next).to.equal("wait until 2025-03-01T13:00:00.000Z");
      expect(d.decision).to.equal("reject");
      expect(d.analysis.intervals).to.equal(0);
    });

    it("is an error when an interval's query failed", function () {
      const m = metrics({ intervals: intervals(24, { 3: { requests: v(null, "HTTP 503") } }) });
      const c = check(decide(m, T, gateContext()), "error_rate");
      expect(c.status).to.equal("error");
      expect(c.reason).to.match(/requests: query failed: HTTP 503$/);
    });

    it("catches a recent error-rate regression hidden in a good day's aggregate", function () {
      // 8 % errors in the last two hours: the day's aggregate is ≈ 0.0085, under 0.01.
      const m = metrics(
        { intervals: intervals(24, { 22: { errorRate: 0.08 }, 23: { errorRate: 0.08 } }) },
        { errorRate: (22 * 0.002 + 2 * 0.08) / 24 },
      );
      const d = decide(m, T, gateContext());
      expect(check(d, "error_rate").status).to.equal("fail");
      expect(
        check(d, "error_rate")
          .intervals!.slice(22)
          .map((i) => i.status),
      ).to.deep.equal(["fail", "fail"]);
    });

    it("judges each interval at the Bonferroni-corrected confidence", function () {
      const d = decide(metrics(), T, gateContext());
      expect(d.analysis.intervalConfidence).to.be.closeTo(0.997917, 1e-6);
    });
  });

  describe("uptime, freshness and soak", function () {
    it("fails uptime below the minimum (gap-aware: time without samples is down)", function () {
      const c = check(decide(metrics({}, { uptime: 0.9 }), T, gateContext()), "uptime");
      expect(c.status).to.equal("fail");
      expect(c.reason).to.match(/time without any scrape sample counts as down/);
    });

    it("fails an interval whose downtime alone exceeds the window's budget", function () {
      const m = metrics({ intervals: intervals(24, { 23: { uptime: 0.9 } }) }, { uptime: 0.9958 });
      const c = check(decide(m, T, gateContext()), "uptime");
      expect(c.intervals![23].status).to.equal("fail");
      expect(c.status).to.equal("fail");
    });

    it("passes an interval whose downtime stays within the window's budget", function () {
      // 36 s down in one hour; the day's budget at 0.999 is 86.4 s.
      const m = metrics({ intervals: intervals(24, { 23: { uptime: 0.99 } }) }, { uptime: 0.9996 });
      const c = check(decide(m, T, gateContext()), "uptime");
      expect(c.intervals![23].status).to.equal("pass");
      expect(c.status).to.equal("pass");
    });

    it("fails freshness when the newest sample is older than maxStalenessSeconds", function () {
      const d = decide(metrics({ lastSample: v(END_S - 2 * HOUR) }), T, gateContext());
      const c = check(d, "freshness");
      expect(c.status).to.equal("fail");
      expect(c.value).to.equal(7200);
      expect(c.reason).to.equal(
        "newest scrape sample is 7200 s old (2025-03-02T10:00:00.000Z); at most 120 s are allowed (maxStalenessSeconds)",
      );
    });

    it("fails freshness when the version has no sample in the window at all", function () {
      expect(check(decide(metrics({ lastSample: v(null) }), T, gateContext()), "freshness").status).to.equal(
        "fail",
      );
    });

    it("passes freshness exactly at maxStalenessSeconds", function () {
      expect(
        check(decide(metrics({ lastSample: v(END_S - 120) }), T, gateContext()), "freshness").status,
      ).to.equal("pass");
    });

    it("is inconclusive when deployedAt claims 30 h but the version's data begin 2 h ago", function () {
      const d = decide(metrics({ firstSample: v(END_S - 2 * HOUR) }), T, gateContext());
      const c = check(d, "soak_time");
      expect(c.status).to.equal("inconclusive");
      expect(c.value).to.equal(2);
      expect(c.reason).to.match(/the data show only 2 h; 24 h are required/);
      expect(c.next).to.equal("wait until 2025-03-03T10:00:00.000Z");
    });

    it("is inconclusive when deployedAt is too recent, whatever the data say", function () {
      const d = decide(
        metrics(),
        T,
        gateContext({ deployedAt: new Date(END.getTime() - 2.5 * HOUR * 1000) }),
      );
      const c = check(d, "soak_time");
      expect(c.status).to.equal("inconclusive");
      expect(c.value).to.equal(2.5);
      expect(c.next).to.equal("wait until 2025-03-03T09:30:00.000Z");
    });

    it("passes soak exactly at minSoakHours on both", function () {
      const d = decide(
        metrics({ firstSample: v(END_S - 24 * HOUR) }),
        T,
        gateContext({ deployedAt: new Date(END.getTime() - 24 * HOUR * 1000) }),
      );
      expect(check(d, "soak_time").status).to.equal("pass");
    });

    it("cannot prove a soak without any scrape sample", function () {
      const c = check(decide(metrics({ firstSample: v(null) }), T, gateContext()), "soak_time");
      expect(c.status).to.equal("inconclusive");
      expect(c.reason).to.match(/its soak cannot be proven by the data/);
    });
  });

  describe("unusable numbers", function () {
    const cases: [string, SpanSpec, CheckName, Outcome, RegExp][] = [
      [
        "no labeled series",
        { labeled: v(null) },
        "accuracy",
        "inconclusive",
        /labeled predictions: no data \(no series\)/,
      ],
      ["NaN labels", { labeled: v(NaN) }, "accuracy", "inconclusive", /NaN \(no events\)/],
      ["+Inf labels", { labeled: v(Infinity) }, "accuracy", "error", /\+Inf is not a count/],
      ["-Inf requests", { requests: v(-Infinity) }, "error_rate", "error", /-Inf is not a count/],
      ["negative 5xx", { serverErrors: v(-3) }, "error_rate", "error", /-3 is negative/],
      [
        "more correct than labeled",
        { labeled: 100, correct: v(150) },
        "accuracy",
        "error",
        /150 correct predictions exceed 100 labeled/,
      ],
      ["zero labeled", { labeled: 0 }, "accuracy", "inconclusive", /^no labeled predictions$/],
      [
        "a failed query",
        { uptime: v(null, "no answer within 2000 ms") },
        "uptime",
        "error",
        /uptime: query failed: no answer/,
      ],
      [
        "no histogram",
        { latency: { buckets: null } },
        "latency_p99",
        "inconclusive",
        /latency histogram: no data/,
      ],
      [
        "a histogram without +Inf",
        { latency: { buckets: [{ le: 0.1, count: 5 }] } },
        "latency_p99",
        "error",
        /no le="\+Inf" bucket/,
      ],
      ["uptime above 1", { uptime: 1.5 }, "uptime", "error", /above 1/],
    ];
    for (const [what, over, name, status, reason] of cases) {
      it(`${name} is ${status} on ${what}, never a pass`, function () {
        const c = check(decide(metrics({}, over), T, gateContext()), name);
        expect(c.status).to.equal(status);
        expect(c.passed).to.equal(false);
        expect(c.reason).to.match(reason);
      });
    }

    it("is inconclusive on samples below the floors, saying how many more are needed", function () {
      const d = decide(metrics({}, { requests: 600, labeled: 150 }), T, gateContext());
      const c = check(d, "samples");
      expect(c.status).to.equal("inconclusive");
      expect(c.reason).to.equal(
        "only 600 requests in the window; 1000 are required; only 150 labeled predictions in the window; 200 are required",
      );
      expect(c.next).to.equal(
        "needs ~400 more requests (minRequests); needs ~50 more labeled predictions (minLabeledPredictions)",
      );
    });

    it("does not pass accuracy below the labeled-prediction floor even when the bounds clear the minimum", function () {
      const c = check(decide(metrics({}, { labeled: 150, accuracy: 1 }), T, gateContext()), "accuracy");
      expect(c.status).to.equal("inconclusive");
      expect(c.next).to.equal("needs ~50 more labeled predictions (minLabeledPredictions 200)");
    });

    it("rejects an unknown version: no series anywhere is never a pass", function () {
      const none = v(null);
      const empty: SpanMetrics = {
        labeled: none,
        correct: v(0),
        requests: none,
        serverErrors: v(0),
        latency: { buckets: null },
        uptime: v(0),
      };
      const d = decide(
        {
          window: empty,
          intervals: [],
          firstSample: none,
          lastSample: none,
          newestSamples: { requests: none, latency: none, labeled: none },
        },
        T,
        gateContext(),
      );
      expect(d.decision).to.equal("reject");
      expect(d.checks.some((c) => c.passed)).to.equal(false);
      expect(d.outcome).to.equal("fail");
    });
  });

  describe("outcomes", function () {
    it("ranks pass < inconclusive < error < fail and calls nothing decided inconclusive", function () {
      expect(worstOutcome(["pass", "inconclusive"])).to.equal("inconclusive");
      expect(worstOutcome(["inconclusive", "error"])).to.equal("error");
      expect(worstOutcome(["error", "fail", "pass"])).to.equal("fail");
      expect(worstOutcome([])).to.equal("inconclusive");
    });

    it("reports the worst enforced check as the outcome", function () {
      const d = decide(metrics({}, { uptime: v(null, "HTTP 500"), labeled: 150 }), T, gateContext());
      expect(statuses(d)).to.include({ uptime: "error", samples: "inconclusive" });
      expect(d.outcome).to.equal("error");
    });

    it("measures and reports a failing dry-run check but promotes: it never decides", function () {
      const d = decide(
        metrics({}, { uptime: 0.5 }),
        T,
        gateContext({}, { checkModes: { uptime: "dryRun" } }),
      );
      const c = check(d, "uptime");
      expect(c.mode).to.equal("dryRun");
      expect(c.status).to.equal("fail");
      expect(c.passed).to.equal(false);
      expect(c.reason).to.match(/^dry run \(never decides\): uptime 0.5 is below/);
      expect(d.outcome).to.equal("pass");
      expect(d.decision).to.equal("promote");
    });

    it("does not promote when every check is a dry run: nothing decided is not a pass", function () {
      const checkModes = Object.fromEntries(GATE_CHECKS.map((n) => [n, "dryRun"]));
      const d = decide(metrics(), T, gateContext({}, { checkModes }));
      expect(d.outcome).to.equal("inconclusive");
      expect(d.decision).to.equal("reject");
    });
  });

  describe("with a production baseline", function () {
    const margins = { maxAccuracyDrop: 0.02, maxLatencyP99IncreaseMs: 50, maxErrorRateIncrease: 0.005 };
    const baseline = (s: SpanSpec): Baseline => ({
      description: "production 1.0.0",
      metrics: span(s),
      margins,
    });
    const run = (cand: SpanSpec, base: SpanSpec) =>
      decide(metrics({}, cand), T, gateContext({ baseline: baseline(base) }));

    it("adds the three baseline checks after the others and passes within the margins on Newcombe bounds", function () {
      const d = run({ accuracy: 0.92 }, { accuracy: 0.925 });
      expect(d.checks.map((c) => c.name).slice(7)).to.deep.equal([
        "baseline_accuracy",
        "baseline_latency_p99",
        "baseline_error_rate",
      ]);
      const c = check(d, "baseline_accuracy");
      expect(c.status).to.equal("pass");
      expect(c.value).to.be.closeTo(0.005, 1e-9);
      expect(c.upper!).to.be.below(0.02);
      expect(d.decision).to.equal("promote");
    });

    it("fails an accuracy drop confidently beyond the margin", function () {
      expect(check(run({ accuracy: 0.9 }, { accuracy: 0.95 }), "baseline_accuracy").status).to.equal("fail");
    });

    it("is inconclusive when the difference's interval straddles the margin", function () {
      const c = check(
        run({ labeled: 400, accuracy: 0.9 }, { labeled: 400, accuracy: 0.92 }),
        "baseline_accuracy",
      );
      expect(c.status).to.equal("inconclusive");
      expect(c.lower!).to.be.below(0.02);
      expect(c.upper!).to.be.above(0.02);
    });

    it("fails an error rate increase confidently beyond the margin", function () {
      expect(check(run({ errorRate: 0.009 }, { errorRate: 0.0001 }), "baseline_error_rate").status).to.equal(
        "fail",
      );
    });

    it("is inconclusive when the baseline had too little traffic to compare", function () {
      const d = run({}, { requests: 12, labeled: 3 });
      expect(check(d, "baseline_error_rate").status).to.equal("inconclusive");
      expect(check(d, "baseline_error_rate").reason).to.equal(
        "production 1.0.0 had only 12 requests in the window; 1000 are needed to compare",
      );
      expect(check(d, "baseline_accuracy").status).to.equal("inconclusive");
    });

    it("fails a p99 increase confidently beyond the margin at bucket resolution", function () {
      const slow = histogram(172_800, { "0.1": 0.6, "0.25": 0.9, "0.5": 0.95, "1": 1 });
      expect(check(run({ latency: slow }, {}), "baseline_latency_p99").status).to.equal("fail");
    });

    it("is an error when the baseline's query failed", function () {
      const c = check(run({}, { serverErrors: v(null, "HTTP 500") }), "baseline_error_rate");
      expect(c.status).to.equal("error");
    });
  });
});
