/**
 * The promote CLI when Prometheus fails: refused connections, HTTP errors with and without
 * retries, timeouts, pages that are not the API, empty, partial, truncated and non-numeric
 * answers — from a stand-in server (test/helpers/prometheus-http.ts), as a process and in-process.
 */
import { expect } from "chai";
import { GATE_CHECKS } from "../fixtures/check-names";
import {
  AT,
  cliSuite,
  decisionOf,
  failedChecks,
  promote,
  promoteInProcess,
  Result,
} from "../helpers/promote-cli";
import { freePort } from "../helpers/prometheus";
import { Handler, json, metricOf, prometheusStandIn } from "../helpers/prometheus-http";

describe("the promote CLI when Prometheus fails", function () {
  this.timeout(120_000);
  const suite = cliSuite("promote-cli-faults");

  before(async function () {
    this.timeout(180_000);
    await suite.up();
  });

  after(() => suite.down());

  async function withServer(
    handler: Handler,
    extra: string[] = [],
    run: typeof promote = promoteInProcess,
  ): Promise<Result & { hits: number }> {
    const server = await prometheusStandIn(handler);
    try {
      const r = await run([
        ...suite.scenarioArgs("healthy", server.url),
        "--dry-run",
        "--json",
        "--at",
        AT,
        ...extra,
      ]);
      return { ...r, hits: server.hits() };
    } finally {
      await server.close();
    }
  }

  it("exits 2 when nothing listens on Prometheus' port, after retrying", async function () {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const r = await promote([...suite.scenarioArgs("healthy", url), "--dry-run", "--json", "--at", AT]);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.match(
      new RegExp(
        `promote: Prometheus at ${url} is unavailable: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(after 3 attempts\\)\\n$`,
      ),
    );
  });

  it("exits 2 when every query gets HTTP 500 without an API body, without retrying", async function () {
    const r = await withServer((_q, res) => {
      res.writeHead(500, { "Content-Type": "text/plain" });
      res.end("internal error");
    });
    // The first query (the version's first scrape sample) finds Prometheus unavailable: no other is sent.
    expect(r.code).to.equal(2);
    expect(r.hits).to.equal(1);
    expect(r.stderr).to.match(
      /promote: Prometheus at http:\/\/127\.0\.0\.1:\d+ is unavailable: HTTP 500 with a body that is not JSON\n$/,
    );
  });

  it("retries HTTP 503 with backoff, three attempts per query, then exits 2", async function () {
    const r = await withServer((_q, res) => {
      res.writeHead(503, { "Content-Type": "text/plain" });
      res.end("Service Unavailable");
    });
    expect(r.code).to.equal(2);
    expect(r.hits).to.equal(3);
    expect(r.stderr).to.match(
      /is unavailable: HTTP 503 with a body that is not JSON \(after 3 attempts\)\n$/,
    );
  });

  it("recovers from one 502 on a query and decides", async function () {
    let failedOnce = false;
    const r = await withServer((q, res, answer) => {
      if (!failedOnce && metricOf(q) === "uptime") {
        failedOnce = true;
        res.writeHead(502);
        res.end("bad gateway");
        return;
      }
      json(res, 200, answer());
    });
    // 18 queries (the spans holding scrape samples, the first and the newest sample, six over
    // the window, six over the intervals, the newest sample of the requests, the latency
    // histogram and the labeled predictions) + one retry.
    expect(r.code, r.stderr).to.equal(0);
    expect(r.hits).to.equal(19);
  });

  it("exits 2 when Prometheus answers slower than --query-timeout", async function () {
    // The answers would come after a minute: only the deadline can end the run before that.
    const timers: NodeJS.Timeout[] = [];
    const r = await withServer(
      (_q, res, answer) => {
        timers.push(setTimeout(() => json(res, 200, answer()), 60_000));
      },
      ["--query-timeout", "300ms"],
      promote,
    );
    timers.forEach(clearTimeout);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.match(/is unavailable: no answer within 300 ms\n$/);
  });

  it("fails only the slow query's check with exit 3 when the others answer in time", async function () {
    const timers: NodeJS.Timeout[] = [];
    const r = await withServer(
      (q, res, answer) => {
        const send = (): void => json(res, 200, answer());
        if (metricOf(q) === "latency") timers.push(setTimeout(send, 60_000));
        else send();
      },
      ["--query-timeout", "300ms"],
    );
    timers.forEach(clearTimeout);
    expect(r.code).to.equal(3);
    const failed = failedChecks(r.stdout);
    expect(failed.map((c) => [c.name, c.status, c.value, c.reason])).to.deep.equal([
      ["latency_p99", "error", null, "latency histogram: query failed: no answer within 300 ms"],
    ]);
  });

  it("exits 2 when the URL serves an HTML page instead of the Prometheus API", async function () {
    const r = await withServer(
      (_q, res) => {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end("<!doctype html><html><body>Grafana</body></html>");
      },
      [],
      promote,
    );
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(
      /is unavailable: answered with an HTML\/XML page \(text\/html; charset=utf-8\), not the Prometheus API\n$/,
    );
  });

  it("exits 3 when every query returns an empty vector: no data fails every metric check", async function () {
    const r = await withServer((_q, res, answer) =>
      json(
        res,
        200,
        answer(() => null),
      ),
    );
    expect(r.code).to.equal(3);
    const d = decisionOf(r.stdout);
    expect(d.checks.filter((c) => !c.passed).map((c) => c.name)).to.deep.equal(GATE_CHECKS);
    expect(d.checks.some((c) => c.status === "pass")).to.equal(false);
  });

  it("exits 3 naming the checks whose vectors are empty when the answer is partial", async function () {
    const r = await withServer((q, res, answer) => {
      const m = metricOf(q);
      json(res, 200, m === "uptime" || m === "labeled" ? answer(() => null) : answer());
    });
    expect(r.code).to.equal(3);
    const failed = failedChecks(r.stdout);
    expect(failed.map((c) => [c.name, c.status, c.reason])).to.deep.equal([
      ["accuracy", "inconclusive", "labeled predictions: no data (no series)"],
      ["uptime", "inconclusive", "uptime: no data (no series)"],
      ["samples", "inconclusive", "labeled predictions: no data (no series)"],
    ]);
  });

  it("exits 3 when Prometheus returns NaN and +Inf strings", async function () {
    const r = await withServer((q, res, answer) => {
      const m = metricOf(q);
      json(
        res,
        200,
        answer((v) => (m === "accuracy" ? "NaN" : m === "latency" ? "+Inf" : v)),
      );
    });
    expect(r.code).to.equal(3);
    const failed = failedChecks(r.stdout);
    expect(failed.map((c) => [c.name, c.status, c.value, c.reason])).to.deep.equal([
      ["accuracy", "inconclusive", null, "correct predictions: NaN (no events)"],
      ["latency_p99", "error", null, "latency histogram: bucket le=0.1 has count Infinity"],
    ]);
  });

  it("exits 3 when one answer is truncated JSON and one is a Prometheus query error", async function () {
    const r = await withServer((q, res, answer) => {
      const m = metricOf(q);
      if (m === "errors") return json(res, 200, answer().slice(0, 40));
      if (m === "uptime") {
        return json(
          res,
          422,
          JSON.stringify({ status: "error", errorType: "execution", error: "query timed out" }),
        );
      }
      json(res, 200, answer());
    });
    expect(r.code).to.equal(3);
    const failed = failedChecks(r.stdout);
    expect(failed.map((c) => [c.name, c.status, c.reason])).to.deep.equal([
      [
        "error_rate",
        "error",
        "5xx responses: query failed: answered with a body that is not JSON, not the Prometheus API",
      ],
      ["uptime", "error", "uptime: query failed: Prometheus refused the query (execution): query timed out"],
    ]);
  });

  it("exits 3 when a value is not a number at all", async function () {
    const r = await withServer((q, res, answer) => {
      const m = metricOf(q);
      json(
        res,
        200,
        answer((v) => (m === "requests" ? "lots" : v)),
      );
    });
    expect(r.code).to.equal(3);
    const failed = failedChecks(r.stdout);
    expect(failed.map((c) => [c.name, c.status, c.reason])).to.deep.equal([
      ["error_rate", "error", 'requests: query failed: sample value "lots" is not a number'],
      ["samples", "error", 'requests: query failed: sample value "lots" is not a number'],
    ]);
  });
});
