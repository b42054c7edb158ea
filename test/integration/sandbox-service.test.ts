/**
 * The sandbox's churn-model service processes, traffic and Prometheus together, without
 * Kubernetes: four real service processes in two namespaces, the traffic generator
 * replaying the dataset with ground truth, a real Prometheus scraping them through
 * file_sd, and the gate's default queries answering per namespace and version.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { collectMetrics, DEFAULT_QUERIES, windowSeconds } from "../../scripts/promotion/metrics";
import { createPrometheusClient, InstantResult, PrometheusClient } from "../../scripts/promotion/prometheus";
import { processRunner, ServiceProcess } from "../../scripts/sandbox/service-runner";
import { isPortFree } from "../../scripts/sandbox/ports";
import {
  PrometheusState,
  ScrapeTarget,
  startPrometheus,
  stopPrometheus,
  writeScrapeTargets,
} from "../../scripts/sandbox/prometheus";
import { isAlive } from "../../scripts/sandbox/controlplane";
import { startTraffic, TrafficReport } from "../../scripts/sandbox/traffic";
import {
  readTrafficProcess,
  startTrafficProcess,
  stopTrafficProcess,
} from "../../scripts/sandbox/traffic-process";

interface Placement {
  namespace: string;
  deployment: string;
  version: string;
}

const PLACEMENTS: Placement[] = [
  { namespace: "staging", deployment: "churn-model", version: "1.0.0" },
  { namespace: "production", deployment: "churn-model", version: "1.2.0" },
  { namespace: "staging", deployment: "churn-model-slow", version: "1.3.0" },
  { namespace: "production", deployment: "churn-model-faulty", version: "1.4.0" },
];

async function vector(
  client: PrometheusClient,
  query: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const result: InstantResult = await client.instantQuery(query, new Date());
  if (result.resultType !== "vector") throw new Error(`${query} returned a ${result.resultType}`);
  return result.samples.map((s) => ({ labels: { ...s.labels }, value: s.value }));
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function activeTargets(url: string): Promise<{ scrapeUrl: string; labels: Record<string, string> }[]> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/api/v1/targets?state=active`, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => {
          const parsed = JSON.parse(body) as {
            data: { activeTargets: { scrapeUrl: string; labels: Record<string, string> }[] };
          };
          resolve(parsed.data.activeTargets);
        });
      })
      .on("error", reject);
  });
}

describe("sandbox service, traffic and Prometheus", function () {
  this.timeout(180_000);
  let stateDir: string;
  let prometheus: PrometheusState;
  let client: PrometheusClient;
  const processes: ServiceProcess[] = [];
  const targets: ScrapeTarget[] = [];
  let report: TrafficReport;
  let trafficStart: Date;

  const reportFor = (p: Placement) => report.targets[PLACEMENTS.indexOf(p)];
  const measure = async (p: Placement) => {
    const end = new Date();
    const window = { start: trafficStart, end };
    const [metrics] = await collectMetrics(client, DEFAULT_QUERIES, [
      { selector: { namespace: p.namespace, version: p.version }, window },
    ]);
    return { ...metrics, window };
  };
  /**
   * What `increase()` of the labeled-predictions counter may answer over `window`: at least
   * the raw rise of the scraped samples, and at most that rise extrapolated from the sampled
   * span to the whole window (Prometheus extrapolates towards the range's edges, more so when
   * a loaded machine scrapes late).
   */
  const labeledBounds = async (p: Placement, window: { start: Date; end: Date }) => {
    const seconds = windowSeconds(window);
    const result = await client.instantQuery(
      `churn_model_predictions_labeled_total{namespace="${p.namespace}",version="${p.version}"}[${seconds}s]`,
      window.end,
    );
    if (result.resultType !== "matrix")
      throw new Error(`the raw samples came back as a ${result.resultType}`);
    let low = 0;
    let high = 0;
    for (const s of result.series) {
      const first = s.points[0];
      const last = s.points[s.points.length - 1];
      const rise = last[1] - first[1];
      low += rise;
      high += last[0] > first[0] ? (rise * seconds) / (last[0] - first[0]) : rise;
    }
    return { low, high };
  };

  before(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "sandbox-service-it-"));
    const runner = processRunner({
      logDir: path.join(stateDir, "logs"),
      buildDir: path.join(stateDir, "service-build"),
    });
    const [prom, ...started] = await Promise.all([
      startPrometheus({ stateDir }),
      ...PLACEMENTS.map(async (p, i) => runner.start({ ...p, port: 0 }).then((proc) => ({ proc, i }))),
    ]);
    prometheus = prom as PrometheusState;
    client = createPrometheusClient({ baseUrl: prometheus.url });
    for (const s of started as { proc: ServiceProcess; i: number }[]) {
      processes[s.i] = s.proc;
    }
    for (const [i, p] of PLACEMENTS.entries()) {
      targets.push({ ...p, address: processes[i].url.replace("http://", "") });
    }
    writeScrapeTargets(prometheus.targetsFile, targets);
    await until(
      "every target scraped and up",
      async () => (await vector(client, 'up{job="churn-model"} == 1')).length === PLACEMENTS.length,
      30_000,
    );
    trafficStart = new Date(Date.now() - 1000);
    report = await startTraffic({
      targets: processes.map((p) => p.url),
      ratePerSecond: 25,
      durationMs: 16_000,
      feedbackDelayMs: 300,
    }).done;
    // Wait until Prometheus has scraped the last ground truth of every target.
    await until(
      "the last labels scraped",
      async () => {
        const labeled = await vector(
          client,
          "sum by (namespace, version) (churn_model_predictions_labeled_total)",
        );
        return PLACEMENTS.every((p) =>
          labeled.some(
            (s) =>
              s.labels.namespace === p.namespace &&
              s.labels.version === p.version &&
              s.value === reportFor(p).feedbackAccepted,
          ),
        );
      },
      20_000,
    );
  });

  after(async () => {
    await Promise.all(processes.filter((p) => p).map((p) => p.stop()));
    if (prometheus) {
      expect(await stopPrometheus(stateDir)).to.equal(true);
      expect(await isPortFree(prometheus.port)).to.equal(true);
    }
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("sent every service the same customers and got an answer for each", () => {
    for (const p of PLACEMENTS) {
      const t = reportFor(p);
      // 25/s for 16 s is 400 at most; a loaded machine sends fewer, and fewer still measure the same way.
      expect(t.sent, p.version).to.be.within(100, 420);
      expect(t.sent, p.version).to.equal(report.targets[0].sent);
      expect(t.failed.network, p.version).to.equal(undefined);
    }
  });

  it("measures 1.0.0 in staging above the accuracy threshold, fast, without errors and always up", async () => {
    const p = PLACEMENTS[0];
    const m = await measure(p);
    const t = reportFor(p);
    expect(m.accuracy.value).to.be.above(0.85);
    expect(m.accuracy.value).to.be.closeTo(t.correct / (t.correct + t.incorrect), 0.01);
    expect(m.latencyP99Ms.value).to.be.below(100);
    expect(m.errorRate.value).to.equal(0);
    expect(m.uptime.value).to.equal(1);
    // The window starts a second before the traffic, so its first scrape may already count
    // the first labels; increase() answers the scraped rise, extrapolated to the window.
    const bounds = await labeledBounds(p, m.window);
    expect(bounds.low).to.be.within(t.feedbackAccepted * 0.5, t.feedbackAccepted);
    expect(m.labeledPredictions.value).to.be.within(bounds.low * 0.999, bounds.high * 1.001);
  });

  it("measures the regressed 1.2.0 in production below the accuracy threshold", async () => {
    const p = PLACEMENTS[1];
    const m = await measure(p);
    const t = reportFor(p);
    expect(m.accuracy.value).to.be.below(0.85);
    expect(m.accuracy.value).to.be.closeTo(t.correct / (t.correct + t.incorrect), 0.01);
    expect(m.uptime.value).to.equal(1);
  });

  it("measures the slow 1.3.0 with a p99 latency above 250 ms", async () => {
    const m = await measure(PLACEMENTS[2]);
    expect(m.latencyP99Ms.value).to.be.above(250);
    expect(m.accuracy.value).to.be.above(0.85);
    expect(m.errorRate.value).to.equal(0);
  });

  it("measures the error-prone 1.4.0 with an error rate above 1%", async () => {
    const p = PLACEMENTS[3];
    const m = await measure(p);
    const t = reportFor(p);
    expect(m.errorRate.value).to.be.above(0.01);
    const clientRate = (t.failed["500"] ?? 0) / (t.sent + t.feedbackAccepted + t.feedbackFailed);
    expect(m.errorRate.value).to.be.closeTo(clientRate, 0.01);
  });

  it("gives every series, up included, exactly one namespace and version label and the deployment", async () => {
    const up = await vector(client, 'up{job="churn-model"}');
    const requests = await vector(client, "churn_model_requests_total");
    expect(up).to.have.length(PLACEMENTS.length);
    for (const s of [...up, ...requests]) {
      expect(Object.keys(s.labels).filter((k) => k.startsWith("exported_"))).to.deep.equal([]);
      const p = PLACEMENTS.find(
        (x) => x.deployment === s.labels.deployment && x.namespace === s.labels.namespace,
      );
      expect(p, JSON.stringify(s.labels)).to.not.equal(undefined);
      expect(s.labels.version).to.equal(p!.version);
      expect(s.labels.job).to.equal("churn-model");
    }
  });

  it("follows a rewritten targets file without a restart", async () => {
    const pidBefore = prometheus.pid;
    writeScrapeTargets(prometheus.targetsFile, targets.slice(0, 2));
    await until("two active targets", async () => (await activeTargets(prometheus.url)).length === 2, 20_000);
    const active = await activeTargets(prometheus.url);
    expect(active.map((t) => t.labels.version).sort()).to.deep.equal(["1.0.0", "1.2.0"]);
    expect(fs.readFileSync(`/proc/${pidBefore}/cmdline`, "utf8")).to.include("prometheus");
  });

  it("returns the running Prometheus when started again for the same state dir", async () => {
    const again = await startPrometheus({ stateDir });
    expect(again).to.deep.equal(prometheus);
  });

  it("runs traffic as a detached process against services.json and stops it by PID", async () => {
    fs.writeFileSync(
      path.join(stateDir, "services.json"),
      JSON.stringify({ staging: { url: processes[0].url }, production: { url: processes[1].url } }),
    );
    const countOf = async () =>
      (await vector(client, 'churn_model_requests_total{namespace="staging",version="1.0.0",code="200"}'))[0]
        .value;
    const before = await countOf();
    const traffic = startTrafficProcess({ stateDir, namespaces: ["staging"], ratePerSecond: 20 });
    expect(traffic.targets).to.deep.equal([processes[0].url]);
    expect(startTrafficProcess({ stateDir }).pid).to.equal(traffic.pid);
    await until("traffic from the detached process", async () => (await countOf()) >= before + 20, 30_000);
    expect(await stopTrafficProcess(stateDir)).to.equal(true);
    expect(isAlive(traffic.pid)).to.equal(false);
    expect(readTrafficProcess(stateDir)).to.equal(undefined);
    const log = fs.readFileSync(traffic.logFile, "utf8");
    const report = JSON.parse(log.slice(log.indexOf("{"))) as TrafficReport;
    expect(report.targets[0].url).to.equal(processes[0].url);
    expect(report.targets[0].predicted).to.be.at.least(20);
  });

  it("refuses to run a service version the catalog does not have", async () => {
    const runner = processRunner({
      logDir: path.join(stateDir, "logs"),
      buildDir: path.join(stateDir, "service-build"),
    });
    const error = await runner
      .start({ namespace: "staging", deployment: "x", version: "9.9.9", port: 0 })
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect(error?.message).to.include('unknown churn-model version "9.9.9"; the catalog has 1.0.0, 1.1.0');
  });
});
