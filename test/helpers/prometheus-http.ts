/**
 * A local HTTP server standing where Prometheus should be, for the CLI's Prometheus-fault tests:
 * every request goes to a handler with the answer a healthy version would get
 * (test/helpers/fake-prometheus.ts, served over the Prometheus HTTP API), which the handler may
 * send, alter, delay or replace.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import type { InstantResult } from "../../scripts/promotion/prometheus";
import { END } from "../fixtures/gate-scenarios";
import { FakePrometheus } from "./fake-prometheus";
import { GOOD } from "./promote-harness";

/** The default answer to a request: the Prometheus API body a healthy version would get. */
export type Answer = (override?: (value: string) => string | null) => string;
export type Handler = (query: string, res: http.ServerResponse, answer: Answer) => void;

export interface PrometheusStandIn {
  readonly url: string;
  /** Requests answered so far. */
  hits(): number;
  close(): Promise<void>;
}

/** Prometheus API JSON for an instant or range result; `override` may replace each value (null drops it). */
function apiBody(result: InstantResult, override?: (value: string) => string | null): string {
  const v = (x: number): string | null => (override ? override(String(x)) : String(x));
  if (result.resultType === "matrix") {
    const series = result.series.map((s) => ({
      metric: s.labels,
      values: s.points.flatMap(([t, x]) => {
        const value = v(x);
        return value === null ? [] : [[t, value]];
      }),
    }));
    return JSON.stringify({
      status: "success",
      data: { resultType: "matrix", result: series.filter((s) => s.values.length > 0) },
    });
  }
  const samples = result.resultType === "vector" ? result.samples : [];
  const out = samples.flatMap((s) => {
    const value = v(s.value);
    return value === null ? [] : [{ metric: s.labels, value: [END, value] }];
  });
  return JSON.stringify({ status: "success", data: { resultType: "vector", result: out } });
}

/** Starts the stand-in on a free loopback port; healthy numbers over 24 h up to END. */
export async function prometheusStandIn(handler: Handler): Promise<PrometheusStandIn> {
  let hits = 0;
  const fake = new FakePrometheus(GOOD, new Date((END - 30 * 3600) * 1000));
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      hits++;
      const params = new URLSearchParams(req.method === "POST" ? body : (req.url ?? "").split("?")[1]);
      const query = params.get("query") ?? "";
      const seconds = (k: string): Date => new Date(Number(params.get(k) ?? END) * 1000);
      const result = (req.url ?? "").includes("query_range")
        ? fake.rangeQuery(query, seconds("start"), seconds("end"), Number(params.get("step") ?? 60))
        : fake.instantQuery(query, seconds("time"));
      void result.then((r) => handler(query, res, (override) => apiBody(r, override)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(body);
}

/** Which of the gate's queries (scripts/promotion/analysis-metrics.ts ANALYSIS_QUERIES) a request is. */
export function metricOf(query: string): string {
  if (query.includes("count(count_over_time(up")) return "scrapeSamples";
  if (query.includes("min(min_over_time(timestamp(")) return "firstSample";
  if (query.includes("max(timestamp(")) return "lastSample";
  if (query.includes("count_over_time(vector(1)")) return "uptime";
  if (query.includes("sum by (le)")) return "latency";
  if (query.includes('correct="true"')) return "accuracy";
  if (query.includes('code=~"5.."')) return "errors";
  if (query.includes("churn_model_requests_total")) return "requests";
  return "labeled";
}
