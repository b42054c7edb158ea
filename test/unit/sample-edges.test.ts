import { expect } from "chai";
import { ANALYSIS_QUERIES } from "../../scripts/promotion/analysis-metrics";
import { ask } from "../../scripts/promotion/metrics";
import { InstantResult, PrometheusClient, QueryFailure } from "../../scripts/promotion/prometheus";
import { edgePlan, searchEdges } from "../../scripts/promotion/sample-edges";

const END = 1_800_000_000;
const DAY = 86_400;

/** Answers the coarse range query with `spans` and each fine query with `fine(query, time)`. */
class EdgeFake implements PrometheusClient {
  readonly baseUrl = "http://prometheus.test";
  readonly instant: { query: string; time: number }[] = [];
  readonly range: { start: number; end: number; step: number }[] = [];
  constructor(
    private readonly coarse: (start: number, step: number) => InstantResult | QueryFailure,
    private readonly fine: (query: string, time: number) => number | null = () => null,
  ) {}
  async rangeQuery(_q: string, start: Date, end: Date, step: number): Promise<InstantResult> {
    this.range.push({ start: start.getTime() / 1000, end: end.getTime() / 1000, step });
    const a = this.coarse(start.getTime() / 1000, step);
    if (a instanceof QueryFailure) throw a;
    return a;
  }
  async instantQuery(query: string, time: Date): Promise<InstantResult> {
    this.instant.push({ query, time: time.getTime() / 1000 });
    const v = this.fine(query, time.getTime() / 1000);
    return { resultType: "vector", samples: v === null ? [] : [{ labels: {}, value: v }] };
  }
}

const matrix = (points: [number, number][]): InstantResult => ({
  resultType: "matrix",
  series: points.length === 0 ? [] : [{ labels: {}, points }],
});

async function search(
  fake: EdgeFake,
  lookbackSeconds = 7 * DAY + 240,
  slotSeconds = 120,
  notBefore?: number,
) {
  const edges = await searchEdges(
    fake,
    ANALYSIS_QUERIES,
    { selector: { version: "1.0.0" }, end: new Date(END * 1000), lookbackSeconds, slotSeconds, notBefore },
    ask,
  );
  return { first: await edges.first(), last: await edges.last() };
}

describe("the search for a version's first and newest scrape samples", function () {
  it("cuts any look-back into about √(L/R) spans of about √(L/R) steps of R, together at least L", function () {
    for (const [lookback, slot] of [
      [3600, 10],
      [DAY + 240, 120],
      [7 * DAY + 240, 120],
      [7 * DAY + 20, 10],
      [90 * DAY, 10],
      [30, 120],
    ]) {
      const p = edgePlan(lookback, slot);
      const steps = Math.ceil(lookback / p.resolutionSeconds);
      expect(p.resolutionSeconds).to.equal(Math.max(1, Math.floor(slot / 5)));
      expect(p.spanSeconds % p.resolutionSeconds).to.equal(0);
      expect(p.spans * p.spanSeconds).to.be.at.least(lookback);
      expect(p.spans).to.be.at.most(Math.ceil(Math.sqrt(steps)) + 1);
      expect(p.spanSeconds / p.resolutionSeconds).to.be.at.most(Math.ceil(Math.sqrt(steps)));
    }
    expect(() => edgePlan(0, 120)).to.throw(/must be positive/);
  });

  it("asks for the spans ending at the evaluation time, then looks inside the earliest and the latest", async function () {
    const p = edgePlan(7 * DAY + 240, 120);
    const c = p.spanSeconds;
    const fake = new EdgeFake(
      (start, step) =>
        matrix(
          Array.from({ length: p.spans }, (_, k) => [start + k * step, 2] as [number, number]).filter(
            ([t]) => t >= END - 100 * c && t <= END - 3 * c,
          ),
        ),
      (q, t) => (q.startsWith("min(") ? t - 50 : t - 7),
    );
    const { first, last } = await search(fake);
    expect(fake.range).to.deep.equal([{ start: END - (p.spans - 1) * c, end: END, step: c }]);
    expect(fake.instant.map((i) => i.time)).to.deep.equal([END - 100 * c + p.resolutionSeconds, END - 3 * c]);
    const window = `[${c + p.resolutionSeconds - 1}s:${p.resolutionSeconds}s]`;
    expect(fake.instant.every((i) => i.query.includes(window))).to.equal(true);
    expect(first.sample).to.deep.equal({ value: END - 100 * c + p.resolutionSeconds - 50 });
    expect(last.sample).to.deep.equal({ value: END - 3 * c - 7 });
  });

  it("never looks further back than the look-back inside the earliest span", async function () {
    const lookback = DAY + 240;
    const p = edgePlan(lookback, 120);
    const fake = new EdgeFake(
      (start) => matrix([[start, 1]]),
      () => END - DAY,
    );
    await search(fake, lookback);
    const at = END - (p.spans - 1) * p.spanSeconds + p.resolutionSeconds;
    expect(fake.instant[0].time).to.equal(at);
    expect(fake.instant[0].query).to.include(`[${Math.ceil(at - (END - lookback)) - 1}s:`);
    expect(Math.ceil(at - (END - lookback))).to.be.below(p.spanSeconds + p.resolutionSeconds);
  });

  it("falls back to the span's bounds when the fine look finds nothing: never an earlier first or a later newest", async function () {
    const p = edgePlan(DAY, 120);
    const fake = new EdgeFake(() =>
      matrix([
        [END - 5 * p.spanSeconds, 1],
        [END, 1],
      ]),
    );
    const { first, last } = await search(fake, DAY);
    expect(first.sample).to.deep.equal({ value: END - 5 * p.spanSeconds });
    expect(last.sample).to.deep.equal({ value: END - p.spanSeconds });
  });

  it("looks in the next span when the earliest one holds only samples older than the look-back (a version deployed again)", async function () {
    const lookback = DAY + 240;
    const p = edgePlan(lookback, 120);
    const c = p.spanSeconds;
    const firstStep = END - (p.spans - 1) * c;
    expect(firstStep - c).to.be.below(END - lookback); // the earliest span reaches before the look-back
    const fake = new EdgeFake(
      () =>
        matrix([
          [firstStep, 3],
          [firstStep + c, 2],
          [END, 2],
        ]),
      // Nothing of this deployment in the cut earliest span; the new pods' first sample is in the next.
      (q, t) =>
        q.startsWith("min(") ? (t <= firstStep + p.resolutionSeconds ? null : firstStep + 17) : t - 5,
    );
    const { first } = await search(fake, lookback);
    expect(fake.instant.map((i) => i.time)).to.deep.equal([
      firstStep + p.resolutionSeconds,
      firstStep + c + p.resolutionSeconds,
      END,
    ]);
    expect(first.sample).to.deep.equal({ value: firstStep + 17 });
    expect(first.answers).to.have.length(2);
  });

  it("finds no first sample when the only span holding samples holds only older ones than the look-back", async function () {
    const lookback = DAY + 240;
    const p = edgePlan(lookback, 120);
    const firstStep = END - (p.spans - 1) * p.spanSeconds;
    const fake = new EdgeFake(() => matrix([[firstStep, 3]]));
    const { first } = await search(fake, lookback);
    expect(first.sample).to.deep.equal({ value: null });
  });

  it("never places the first sample before deployedAt, where an older sample can show through the look-back delta", async function () {
    const lookback = DAY + 240;
    const fake = new EdgeFake(
      (start) => matrix([[start, 1]]),
      (q) => (q.startsWith("min(") ? END - lookback - 100 : END),
    );
    expect((await search(fake, lookback, 120, END - lookback)).first.sample).to.deep.equal({
      value: END - lookback,
    });
    // Without a deployedAt bound, what the fine look found stands.
    expect((await search(fake, lookback)).first.sample).to.deep.equal({ value: END - lookback - 100 });
  });

  it("finds no sample when no span holds one, without asking further", async function () {
    const fake = new EdgeFake(() => matrix([[END - 600, 0]]));
    const { first, last } = await search(fake);
    expect(first.sample).to.deep.equal({ value: null });
    expect(last.sample).to.deep.equal({ value: null });
    expect(fake.instant).to.deep.equal([]);
  });

  it("makes a failed, several-series or non-finite coarse answer the error of both edges", async function () {
    const failed = await search(
      new EdgeFake(() => new QueryFailure("query", "Prometheus refused the query")),
    );
    expect(failed.first.sample).to.deep.equal({ value: null, error: "Prometheus refused the query" });
    expect(failed.last.sample.error).to.equal("Prometheus refused the query");
    const several: InstantResult = {
      resultType: "matrix",
      series: [
        { labels: { pod: "a" }, points: [[END, 1]] },
        { labels: { pod: "b" }, points: [[END, 1]] },
      ],
    };
    expect((await search(new EdgeFake(() => several))).first.sample.error).to.match(/2 series where one/);
    const nan = await search(new EdgeFake(() => matrix([[END, NaN]])));
    expect(nan.last.sample.error).to.match(/NaN scrape samples/);
  });
});
