/**
 * A Prometheus stand-in for unit tests of the promotion flow: answers the gate's queries with
 * fixed numbers, recognised by their metric names — counts over the window for instant
 * queries, the same counts spread evenly over the intervals for range queries, the version's
 * scrape samples from `firstSample` to a few seconds before the evaluation time.
 */
import type { InstantResult, PrometheusClient, VectorSample } from "../../scripts/promotion/prometheus";

/** The window's numbers: accuracy and error rate as ratios, p99 in ms, counts over 24 h. */
export type Numbers = Record<"accuracy" | "latency" | "errors" | "uptime" | "requests" | "labeled", number>;

/** Answers the gate's queries with `numbers`, recording every query. */
export class FakePrometheus implements PrometheusClient {
  readonly baseUrl = "http://prometheus.test";
  readonly queries: { query: string; time: Date }[] = [];
  readonly rangeQueries: { query: string; start: Date; end: Date; step: number }[] = [];
  constructor(
    public numbers: Numbers,
    /** When the version's first scrape sample was taken. */
    readonly firstSample = new Date("2025-03-01T06:00:00Z"),
  ) {}

  /** The answer for a span of `share` of the window. */
  private samples(query: string, time: Date, share: number): VectorSample[] {
    const n = this.numbers;
    const one = (value: number): VectorSample[] => [{ labels: {}, value }];
    if (query.includes("count(count_over_time(up")) return time >= this.firstSample ? one(2) : [];
    if (query.includes("min(min_over_time(timestamp(")) return one(this.firstSample.getTime() / 1000);
    if (query.includes("max(max_over_time(timestamp(")) return one(time.getTime() / 1000 - 5);
    if (query.includes("count_over_time(vector(1)")) return one(n.uptime);
    if (query.includes("sum by (le)")) {
      const total = n.requests * share;
      const shares: [string, number][] =
        n.latency <= 250
          ? [
              ["0.1", 0.98],
              ["0.25", 0.998],
              ["+Inf", 1],
            ]
          : [
              ["0.1", 0.6],
              ["0.25", 0.9],
              ["0.5", 0.95],
              ["+Inf", 1],
            ];
      return shares.map(([le, s]) => ({ labels: { le }, value: total * s }));
    }
    if (query.includes('correct="true"')) return one(n.labeled * n.accuracy * share);
    if (query.includes('code=~"5.."')) return one(n.requests * n.errors * share);
    if (query.includes("churn_model_requests_total")) return one(n.requests * share);
    return one(n.labeled * share);
  }

  async instantQuery(query: string, time: Date): Promise<InstantResult> {
    this.queries.push({ query, time });
    return { resultType: "vector", samples: this.samples(query, time, 1) };
  }

  async rangeQuery(query: string, start: Date, end: Date, step: number): Promise<InstantResult> {
    this.rangeQueries.push({ query, start, end, step });
    const times: number[] = [];
    for (let t = start.getTime() / 1000; t <= end.getTime() / 1000 + 1e-6; t += step) times.push(t);
    const byLabels = new Map<string, { labels: Record<string, string>; points: [number, number][] }>();
    for (const t of times) {
      const share = query.includes("count_over_time(vector(1)") ? 1 : step / 86_400;
      for (const s of this.samples(query, new Date(t * 1000), share)) {
        const key = JSON.stringify(s.labels);
        const entry = byLabels.get(key) ?? { labels: { ...s.labels }, points: [] };
        entry.points.push([t, s.value]);
        byLabels.set(key, entry);
      }
    }
    return { resultType: "matrix", series: [...byLabels.values()] };
  }
}
