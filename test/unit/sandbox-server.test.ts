import { expect } from "chai";
import * as http from "http";
import { generateDataset } from "../../scripts/sandbox/service/dataset";
import { ChurnModelService, parseServiceArgs } from "../../scripts/sandbox/service/server";

interface Reply {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
}

function request(url: string, method: string, body?: unknown, raw?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const req = http.request(url, { method, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: text,
          json: () => JSON.parse(text) as Record<string, unknown>,
        }),
      );
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** The value of one sample line in a Prometheus text exposition, or undefined. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const rows = generateDataset(200);
const mailed = rows.find((r) => r.features.paymentMethod === "mailed-check")!;
const card = rows.find((r) => r.features.paymentMethod === "credit-card")!;

describe("sandbox churn-model service", () => {
  let service: ChurnModelService;
  let url: string;

  beforeEach(async () => {
    service = new ChurnModelService({ version: "1.4.0", namespace: "staging" });
    url = await service.listen(0);
  });

  afterEach(async () => {
    await service.close();
  });

  it("listens on 127.0.0.1 and reports its version and namespace on /healthz", async () => {
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await request(`${url}/healthz`, "GET");
    expect(res.status).to.equal(200);
    expect(res.json()).to.deep.equal({ status: "ok", version: "1.4.0", namespace: "staging" });
  });

  it("answers a prediction with an id, a probability and a decision", async () => {
    const res = await request(`${url}/predict`, "POST", card.features);
    expect(res.status).to.equal(200);
    const body = res.json();
    expect(body.id).to.be.a("string").with.length.above(10);
    expect(body.churnProbability).to.be.within(0, 1);
    expect(body.churn).to.equal((body.churnProbability as number) >= 0.5);
  });

  it("answers 500 with the model's message when 1.4.0 meets a mailed-check customer", async () => {
    const res = await request(`${url}/predict`, "POST", mailed.features);
    expect(res.status).to.equal(500);
    expect(res.json()).to.deep.equal({ error: 'paymentMethod: unknown category "mailed-check"' });
  });

  it("rejects invalid features with 400 naming each bad field", async () => {
    const res = await request(`${url}/predict`, "POST", {
      ...card.features,
      tenureMonths: -1,
      contract: "weekly",
    });
    expect(res.status).to.equal(400);
    expect(res.json().error).to.equal(
      "tenureMonths must be a non-negative integer; contract must be one of month-to-month, one-year, two-year",
    );
    const notJson = await request(`${url}/predict`, "POST", undefined, "{nope");
    expect(notJson.status).to.equal(400);
    expect(notJson.json().error).to.equal("body is not valid JSON");
  });

  it("counts ground truth as correct or not, once per prediction", async () => {
    const predicted = (await request(`${url}/predict`, "POST", card.features)).json();
    const first = await request(`${url}/feedback`, "POST", { id: predicted.id, churned: predicted.churn });
    expect(first.status).to.equal(204);
    const again = await request(`${url}/feedback`, "POST", { id: predicted.id, churned: predicted.churn });
    expect(again.status).to.equal(404);
    const other = (await request(`${url}/predict`, "POST", card.features)).json();
    expect(
      (await request(`${url}/feedback`, "POST", { id: other.id, churned: !other.churn })).status,
    ).to.equal(204);
    const metrics = (await request(`${url}/metrics`, "GET")).body;
    const labeled = (correct: string) =>
      sample(
        metrics,
        `churn_model_predictions_labeled_total{correct="${correct}",namespace="staging",version="1.4.0"}`,
      );
    expect(labeled("true")).to.equal(1);
    expect(labeled("false")).to.equal(1);
  });

  it("refuses feedback for an unknown id and a body without churned", async () => {
    const unknown = await request(`${url}/feedback`, "POST", { id: "nope", churned: true });
    expect(unknown.status).to.equal(404);
    expect(unknown.json().error).to.match(/no pending prediction with id nope/);
    const bad = await request(`${url}/feedback`, "POST", { id: "x" });
    expect(bad.status).to.equal(400);
    expect(bad.json().error).to.equal("churned must be a boolean");
  });

  it("exposes the contract's series with namespace and version labels, zero before traffic", async () => {
    const metrics = (await request(`${url}/metrics`, "GET")).body;
    const labels = 'namespace="staging",version="1.4.0"';
    expect(sample(metrics, `churn_model_requests_total{code="200",${labels}}`)).to.equal(0);
    expect(sample(metrics, `churn_model_requests_total{code="500",${labels}}`)).to.equal(0);
    expect(sample(metrics, `churn_model_predictions_labeled_total{correct="true",${labels}}`)).to.equal(0);
    expect(sample(metrics, `churn_model_predictions_labeled_total{correct="false",${labels}}`)).to.equal(0);
    expect(sample(metrics, `churn_model_request_duration_seconds_bucket{le="0.25",${labels}}`)).to.equal(0);
    expect(sample(metrics, `churn_model_request_duration_seconds_bucket{le="+Inf",${labels}}`)).to.equal(0);
    for (const line of metrics.split("\n").filter((l) => l.startsWith("churn_model_"))) {
      expect(line).to.include(labels);
    }
  });

  it("counts and times API requests by status code, but not /metrics or /healthz", async () => {
    await request(`${url}/predict`, "POST", card.features);
    await request(`${url}/predict`, "POST", mailed.features);
    await request(`${url}/predict`, "POST", {});
    await request(`${url}/nowhere`, "GET");
    await request(`${url}/healthz`, "GET");
    await request(`${url}/metrics`, "GET");
    const metrics = (await request(`${url}/metrics`, "GET")).body;
    const labels = 'namespace="staging",version="1.4.0"';
    expect(sample(metrics, `churn_model_requests_total{code="200",${labels}}`)).to.equal(1);
    expect(sample(metrics, `churn_model_requests_total{code="500",${labels}}`)).to.equal(1);
    expect(sample(metrics, `churn_model_requests_total{code="400",${labels}}`)).to.equal(1);
    expect(sample(metrics, `churn_model_requests_total{code="404",${labels}}`)).to.equal(1);
    expect(sample(metrics, `churn_model_request_duration_seconds_count{${labels}}`)).to.equal(4);
  });

  it("serves a build or digest version with its catalog model, labelling its series with the version's label", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const label = "sha256_" + Buffer.from("ab".repeat(32), "hex").toString("base64url");
    const other = new ChurnModelService({
      version: digest,
      model: "1.4.0",
      versionLabel: label,
      namespace: "staging",
    });
    const otherUrl = await other.listen(0);
    try {
      expect((await request(`${otherUrl}/healthz`, "GET")).json()).to.include({ version: digest });
      expect(
        (await request(`${otherUrl}/predict`, "POST", mailed.features)).status,
        "1.4.0's model",
      ).to.equal(500);
      const metrics = (await request(`${otherUrl}/metrics`, "GET")).body;
      expect(
        sample(metrics, `churn_model_requests_total{code="500",namespace="staging",version="${label}"}`),
      ).to.equal(1);
    } finally {
      await other.close();
    }
  });

  it("refuses to start at a version the catalog does not have", () => {
    expect(() => new ChurnModelService({ version: "2.0.0", namespace: "staging" })).to.throw(
      'unknown churn-model version "2.0.0"',
    );
  });
});

describe("sandbox service arguments", () => {
  it("reads flags, defaulting the host to 127.0.0.1 and the port to 0", () => {
    expect(parseServiceArgs(["--version", "1.1.0", "--namespace=staging"], {})).to.deep.equal({
      version: "1.1.0",
      namespace: "staging",
      port: 0,
      host: "127.0.0.1",
    });
  });

  it("reads the model and the version label of a version the catalog does not name", () => {
    expect(
      parseServiceArgs(
        ["--version", "1.1.0+b7", "--model", "1.1.0", "--version-label=1.1.0_b7", "--namespace", "x"],
        {},
      ),
    ).to.deep.equal({
      version: "1.1.0+b7",
      model: "1.1.0",
      versionLabel: "1.1.0_b7",
      namespace: "x",
      port: 0,
      host: "127.0.0.1",
    });
  });

  it("falls back to the environment for version, namespace and port", () => {
    const env = { CHURN_MODEL_VERSION: "1.0.0", CHURN_MODEL_NAMESPACE: "production", PORT: "8080" };
    expect(parseServiceArgs([], env)).to.include({ version: "1.0.0", namespace: "production", port: 8080 });
  });

  it("names what is missing or wrong", () => {
    expect(() => parseServiceArgs(["--namespace", "x"], {})).to.throw(
      "--version (or CHURN_MODEL_VERSION) is required",
    );
    expect(() => parseServiceArgs(["--version", "1.0.0"], {})).to.throw(
      "--namespace (or CHURN_MODEL_NAMESPACE) is required",
    );
    expect(() =>
      parseServiceArgs(["--version", "1.0.0", "--namespace", "x", "--port", "70000"], {}),
    ).to.throw("--port (70000) must be an integer from 0 to 65535");
    expect(() => parseServiceArgs(["--verbose"], {})).to.throw("unknown argument --verbose");
  });
});
