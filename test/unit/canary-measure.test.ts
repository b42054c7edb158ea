import { expect } from "chai";
import { bucketsOf, measureArms } from "../../scripts/promotion/canary/measure";
import { DependencyUnavailable } from "../../scripts/promotion/errors";
import { InstantResult, PrometheusClient, QueryFailure } from "../../scripts/promotion/prometheus";

const WINDOW = { start: new Date("2026-01-05T10:00:00Z"), end: new Date("2026-01-05T10:02:30Z") };
const ARMS = {
  canary: { version: "1.4.0", selector: { namespace: "production", version: "1.4.0" } },
  stable: { version: "1.0.0", selector: { namespace: "production", version: "1.0.0" } },
};

const vector = (...samples: [Record<string, string>, number][]): InstantResult => ({
  resultType: "vector",
  samples: samples.map(([labels, value]) => ({ labels, value })),
});

/** A Prometheus that answers from a function of the query, recording every query and time. */
function client(
  answer: (query: string) => InstantResult | QueryFailure,
): PrometheusClient & { seen: [string, Date][] } {
  const seen: [string, Date][] = [];
  return {
    baseUrl: "http://127.0.0.1:9",
    seen,
    instantQuery: async (query, time) => {
      seen.push([query, time]);
      const a = answer(query);
      if (a instanceof QueryFailure) throw a;
      return a;
    },
    rangeQuery: async () => {
      throw new Error("the canary measures instants only");
    },
  };
}

function fromCounts(query: string): InstantResult {
  const canary = query.includes('version="1.4.0"');
  if (query.includes("_bucket")) {
    return vector(
      [{ le: "0.05" }, canary ? 90 : 900],
      [{ le: "+Inf" }, canary ? 100 : 1000],
      [{ le: "0.025" }, canary ? 50 : 500],
    );
  }
  if (query.includes('code=~"5.."')) return canary ? vector([{}, 8]) : vector();
  if (query.includes('correct="true"')) return vector([{}, canary ? 40 : 440]);
  if (query.includes("labeled")) return vector([{}, canary ? 50 : 500]);
  return vector([{}, canary ? 100 : 1000]);
}

describe("canary measurement (measureArms)", () => {
  it("measures both arms with their own version selectors over one window, at its end", async () => {
    const c = client(fromCounts);
    const { canary, stable } = await measureArms(c, ARMS, WINDOW);
    expect(canary.requests.value).to.equal(100);
    expect(canary.errors.value).to.equal(8);
    expect(stable.errors.value).to.equal(null); // no 5xx series: the verdict counts it as 0
    expect(canary.correctPredictions.value).to.equal(40);
    expect(stable.labeledPredictions.value).to.equal(500);
    expect(canary.latencyBuckets.value).to.deep.equal([
      { le: 0.025, count: 50 },
      { le: 0.05, count: 90 },
      { le: Infinity, count: 100 },
    ]);
    expect(c.seen).to.have.length(10);
    expect(c.seen.every(([, t]) => t.getTime() === WINDOW.end.getTime())).to.equal(true);
    expect(c.seen.every(([q]) => q.includes("[150s]"))).to.equal(true);
    expect(c.seen.map(([q]) => q)).to.include(
      'sum(increase(churn_model_requests_total{namespace="production",version="1.4.0",code=~"5.."}[150s]))',
    );
  });

  it("keeps a failed query as that count's error and measures the rest", async () => {
    const c = client((q) =>
      q.includes("_bucket") && q.includes("1.0.0")
        ? new QueryFailure("query", "bad_data: parse error")
        : fromCounts(q),
    );
    const { stable } = await measureArms(c, ARMS, WINDOW);
    expect(stable.latencyBuckets).to.deep.equal({ value: null, error: "bad_data: parse error" });
    expect(stable.requests.value).to.equal(1000);
  });

  it("is DependencyUnavailable when Prometheus answered none of the queries", async () => {
    const c = client(() => new QueryFailure("unreachable", "connect ECONNREFUSED 127.0.0.1:9", true));
    let caught: unknown;
    try {
      await measureArms(c, ARMS, WINDOW);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(DependencyUnavailable);
    expect((caught as Error).message).to.equal(
      "Prometheus at http://127.0.0.1:9 is unavailable: connect ECONNREFUSED 127.0.0.1:9",
    );
  });

  it("reports several series where one sum was expected as an error", async () => {
    const c = client((q) =>
      q.includes("labeled") ? vector([{ pod: "a" }, 1], [{ pod: "b" }, 2]) : fromCounts(q),
    );
    const { canary } = await measureArms(c, ARMS, WINDOW);
    expect(canary.labeledPredictions.error).to.equal("the query returned 2 series");
  });

  it("reads bucket answers: no series is null, a bad le label is an error", () => {
    expect(bucketsOf(vector())).to.deep.equal({ value: null });
    expect(bucketsOf(vector([{ le: "fast" }, 1])).error).to.contain('"fast"');
    expect(bucketsOf({ resultType: "scalar", value: 1 }).error).to.contain("scalar");
  });
});
