import { expect } from "chai";
import * as http from "http";
import { generateDataset } from "../../scripts/sandbox/service/dataset";
import { ChurnModelService } from "../../scripts/sandbox/service/server";
import { parseDurationMs, parseTrafficArgs, startTraffic } from "../../scripts/sandbox/traffic";

function metricsOf(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/metrics`, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve(text));
      })
      .on("error", reject);
  });
}

function counter(metrics: string, name: string, label: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name}{${label}`));
  return line === undefined ? NaN : Number(line.split(" ").pop());
}

describe("sandbox traffic generator", () => {
  const services: ChurnModelService[] = [];
  const urls: string[] = [];

  before(async () => {
    for (const [version, namespace] of [
      ["1.0.0", "staging"],
      ["1.4.0", "production"],
    ]) {
      const s = new ChurnModelService({ version, namespace });
      services.push(s);
      urls.push(await s.listen(0));
    }
  });

  after(async () => {
    await Promise.all(services.map((s) => s.close()));
  });

  it("sends each customer to every target and feeds back every label, matching the service's counters", async () => {
    const before0 = await metricsOf(urls[0]);
    const report = await startTraffic({ targets: urls, ratePerSecond: 200, count: 60, feedbackDelayMs: 10 })
      .done;
    expect(report.targets.map((t) => t.sent)).to.deep.equal([60, 60]);
    const [staging, production] = report.targets;
    expect(staging.predicted).to.equal(60);
    expect(staging.feedbackAccepted).to.equal(60);
    expect(staging.correct + staging.incorrect).to.equal(60);
    const rows = generateDataset(60);
    const mailed = rows.filter((r) => r.features.paymentMethod === "mailed-check").length;
    expect(production.failed).to.deep.equal(mailed > 0 ? { "500": mailed } : {});
    expect(production.predicted).to.equal(60 - mailed);
    expect(production.feedbackAccepted).to.equal(60 - mailed);
    const after0 = await metricsOf(urls[0]);
    const labels = (correct: string, m: string) =>
      counter(m, "churn_model_predictions_labeled_total", `correct="${correct}"`);
    expect(labels("true", after0) - labels("true", before0)).to.equal(staging.correct);
    expect(labels("false", after0) - labels("false", before0)).to.equal(staging.incorrect);
  });

  it("posts ground truth for about the configured share of predictions, the same rows every run", async () => {
    const run = () =>
      startTraffic({
        targets: [urls[0]],
        ratePerSecond: 500,
        count: 200,
        feedbackShare: 0.3,
        feedbackDelayMs: 0,
      }).done;
    const first = await run();
    const second = await run();
    expect(first.targets[0].feedbackAccepted).to.be.within(40, 80);
    expect(second.targets[0].feedbackAccepted).to.equal(first.targets[0].feedbackAccepted);
    expect(second.targets[0].correct).to.equal(first.targets[0].correct);
  });

  it("holds the rate for a bounded duration and stops by itself", async () => {
    const report = await startTraffic({
      targets: [urls[0]],
      ratePerSecond: 20,
      durationMs: 1000,
      feedbackShare: 0,
    }).done;
    expect(report.targets[0].sent).to.be.within(18, 22);
    expect(report.durationMs).to.be.within(950, 2500);
  });

  it("stops early on stop() and posts the ground truth still pending", async () => {
    const run = startTraffic({
      targets: [urls[0]],
      ratePerSecond: 50,
      durationMs: 60_000,
      feedbackDelayMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 400));
    const t0 = Date.now();
    const report = await run.stop();
    expect(Date.now() - t0).to.be.below(2000);
    expect(report.targets[0].sent).to.be.within(10, 30);
    expect(report.targets[0].feedbackAccepted).to.equal(report.targets[0].predicted);
    expect(await run.done).to.equal(report);
  });

  it("counts a target that does not answer as network failures", async () => {
    const report = await startTraffic({ targets: ["http://127.0.0.1:1"], count: 3, ratePerSecond: 100 }).done;
    expect(report.targets[0].failed).to.deep.equal({ network: 3 });
    expect(report.targets[0].predicted).to.equal(0);
  });

  it("refuses unbounded or malformed runs, naming each problem", () => {
    expect(() => startTraffic({ targets: [] })).to.throw(
      "traffic: targets must name at least one service URL; durationMs or count must bound the run",
    );
    expect(() =>
      startTraffic({ targets: ["ftp://x"], count: 1, ratePerSecond: 0, feedbackShare: 2 }),
    ).to.throw(
      "traffic: target ftp://x must be an http:// URL; ratePerSecond (0) must be above 0 and at most 1000; " +
        "feedbackShare (2) must be from 0 to 1",
    );
  });

  it("reads its CLI flags and durations", () => {
    expect(parseDurationMs("500ms")).to.equal(500);
    expect(parseDurationMs("30s")).to.equal(30_000);
    expect(parseDurationMs("2m")).to.equal(120_000);
    expect(parseDurationMs("5")).to.equal(5000);
    expect(() => parseDurationMs("soon")).to.throw('duration "soon" must look like 500ms, 30s, 2m or 1h');
    expect(
      parseTrafficArgs([
        "--url",
        "http://127.0.0.1:1",
        "--url=http://127.0.0.1:2",
        "--rate",
        "5",
        "--count",
        "9",
      ]),
    ).to.deep.equal({ targets: ["http://127.0.0.1:1", "http://127.0.0.1:2"], ratePerSecond: 5, count: 9 });
    expect(() => parseTrafficArgs(["--speed", "3"])).to.throw("unknown option --speed");
  });
});
