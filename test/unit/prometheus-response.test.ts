import { expect } from "chai";
import { toMeasurement } from "../../scripts/promotion/metrics";
import * as http from "http";
import type { AddressInfo } from "net";
import {
  apiUrl,
  createPrometheusClient,
  parseQueryResponse,
  parseSampleValue,
  QueryFailure,
} from "../../scripts/promotion/prometheus";

function failure(fn: () => unknown): QueryFailure {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(QueryFailure);
    return err as QueryFailure;
  }
  throw new Error("expected a QueryFailure");
}

const ok = (data: unknown): string => JSON.stringify({ status: "success", data });

describe("Prometheus responses", function () {
  it("parses sample value strings, including NaN and infinities", function () {
    expect(parseSampleValue("0.25")).to.equal(0.25);
    expect(parseSampleValue("1e-3")).to.equal(0.001);
    expect(Number.isNaN(parseSampleValue("NaN"))).to.equal(true);
    expect(parseSampleValue("+Inf")).to.equal(Infinity);
    expect(parseSampleValue("-Inf")).to.equal(-Infinity);
    expect(failure(() => parseSampleValue(0.25)).message).to.equal("sample value 0.25 is not a number");
    expect(failure(() => parseSampleValue("")).message).to.equal('sample value "" is not a number');
  });

  it("types a vector with its labels and values", function () {
    const r = parseQueryResponse(
      200,
      "application/json",
      ok({ resultType: "vector", result: [{ metric: { le: "0.1" }, value: [1700000000.5, "42"] }] }),
    );
    expect(r).to.deep.equal({ resultType: "vector", samples: [{ labels: { le: "0.1" }, value: 42 }] });
  });

  it("types a scalar", function () {
    expect(
      parseQueryResponse(200, "application/json", ok({ resultType: "scalar", result: [1, "0.5"] })),
    ).to.deep.equal({
      resultType: "scalar",
      value: 0.5,
    });
  });

  it("turns a Prometheus error body into a query failure that counts as an answer", function () {
    const f = failure(() =>
      parseQueryResponse(
        400,
        "application/json",
        JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }),
      ),
    );
    expect(f.kind).to.equal("query");
    expect(f.answeredByPrometheus).to.equal(true);
    expect(f.message).to.equal("Prometheus refused the query (bad_data): parse error");
  });

  const malformed: [string, number, string, string, string][] = [
    [
      "an HTML page",
      200,
      "<html></html>",
      "not-prometheus",
      "answered with an HTML/XML page (text/html), not the Prometheus API",
    ],
    ["a 404 HTML page", 404, "<html>404</html>", "http", "HTTP 404 with an HTML/XML page (text/html)"],
    [
      "JSON without status",
      200,
      '{"data":{}}',
      "not-prometheus",
      'the JSON body is not a Prometheus API response (no "status")',
    ],
    [
      "a success without data",
      200,
      '{"status":"success"}',
      "not-prometheus",
      'the response has no "data.resultType"',
    ],
    [
      "a vector that is not an array",
      200,
      ok({ resultType: "vector", result: {} }),
      "not-prometheus",
      "the vector result is not an array",
    ],
    [
      "a sample without a pair",
      200,
      ok({ resultType: "vector", result: [{ metric: {}, value: "1" }] }),
      "not-prometheus",
      'a vector sample\'s value is not a [timestamp, "value"] pair',
    ],
    [
      "a numeric label",
      200,
      ok({ resultType: "vector", result: [{ metric: { a: 1 }, value: [1, "1"] }] }),
      "not-prometheus",
      "label a of a vector sample is not a string",
    ],
    [
      "an unknown result type",
      200,
      ok({ resultType: "table", result: [] }),
      "not-prometheus",
      'unknown resultType "table"',
    ],
    [
      "a success with HTTP 500",
      500,
      ok({ resultType: "scalar", result: [1, "1"] }),
      "http",
      "HTTP 500 with a success body",
    ],
  ];
  for (const [what, status, body, kind, message] of malformed) {
    it(`refuses ${what}`, function () {
      const f = failure(() => parseQueryResponse(status, "text/html", body));
      expect(f.kind).to.equal(kind);
      expect(f.answeredByPrometheus).to.equal(false);
      expect(f.message).to.equal(message);
    });
  }

  it("reduces results to one number or a reason", function () {
    expect(toMeasurement({ resultType: "vector", samples: [] })).to.deep.equal({ value: null });
    expect(Number.isNaN(toMeasurement({ resultType: "scalar", value: NaN }).value)).to.equal(true);
    expect(toMeasurement({ resultType: "matrix", series: [] })).to.deep.equal({
      value: null,
      error: "the query returned a matrix, not a vector or scalar",
    });
  });
});

describe("the Prometheus client's requests (Node's own HTTP client)", function () {
  it("joins the API path to a base URL with or without a path prefix and slashes", function () {
    expect(apiUrl("http://127.0.0.1:9090", "/api/v1/query").href).to.equal(
      "http://127.0.0.1:9090/api/v1/query",
    );
    expect(apiUrl("http://127.0.0.1:9090/", "api/v1/query").href).to.equal(
      "http://127.0.0.1:9090/api/v1/query",
    );
    expect(apiUrl("https://m.example/prom//", "/api/v1/query").href).to.equal(
      "https://m.example/prom/api/v1/query",
    );
  });

  it("posts the query as a form, follows no redirect, and names a refused connection and a slow answer", async function () {
    const seen: { method?: string; url?: string; type?: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, type: req.headers["content-type"], body });
        if (body.includes("slow")) return void setTimeout(() => res.end(), 2_000);
        if (body.includes("moved")) {
          res.writeHead(302, { location: "/elsewhere" });
          return void res.end();
        }
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "2.5"] } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
    try {
      const client = createPrometheusClient({ baseUrl: base, timeoutMs: 300, attempts: 1 });
      expect(await client.instantQuery("up", new Date(1_000_000))).to.deep.equal({
        resultType: "scalar",
        value: 2.5,
      });
      expect(seen[0]).to.deep.include({
        method: "POST",
        url: "/prefix/api/v1/query",
        type: "application/x-www-form-urlencoded",
      });
      expect(new URLSearchParams(seen[0].body).get("query")).to.equal("up");
      const failure = (q: string) =>
        client.instantQuery(q, new Date(1_000_000)).then(
          () => undefined,
          (e: unknown) => e as QueryFailure,
        );
      const slow = await failure("slow");
      expect(slow).to.be.instanceOf(QueryFailure);
      expect([slow?.kind, slow?.message]).to.deep.equal(["timeout", "no answer within 300 ms"]);
      const moved = await failure("moved");
      expect([moved?.kind, moved?.message]).to.deep.equal([
        "not-prometheus",
        "answered with a body that is not JSON, not the Prometheus API",
      ]);
      expect(seen.filter((x) => x.url === "/elsewhere")).to.have.length(0);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    // A port nothing listens on (a server that closed before anyone connected).
    const gone = http.createServer();
    await new Promise<void>((r) => gone.listen(0, "127.0.0.1", r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const refused = await createPrometheusClient({
      baseUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 300,
      attempts: 1,
    })
      .instantQuery("up", new Date(1_000_000))
      .then(
        () => undefined,
        (e: unknown) => e as QueryFailure,
      );
    expect(refused?.kind).to.equal("unreachable");
    expect(refused?.message).to.match(/ECONNREFUSED/);
    expect(refused?.transient).to.equal(true);
  });
});
