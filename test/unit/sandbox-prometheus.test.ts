import { expect } from "chai";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { freePort, isListening, isPortFree } from "../../scripts/sandbox/ports";
import {
  fileSdDocument,
  prometheusConfig,
  prometheusPaths,
  writeScrapeTargets,
} from "../../scripts/sandbox/prometheus";

describe("sandbox Prometheus configuration", () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sandbox-prom-"));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes job churn-model every 2 s from file_sd targets, honouring the service's labels", () => {
    const config = prometheusConfig("/state/prometheus/targets");
    expect(config).to.equal(
      [
        "global:",
        "  scrape_interval: 2s",
        "  scrape_timeout: 2s",
        "  evaluation_interval: 2s",
        "scrape_configs:",
        "  - job_name: churn-model",
        "    honor_labels: true",
        "    metrics_path: /metrics",
        "    file_sd_configs:",
        "      - files:",
        '          - "/state/prometheus/targets/*.json"',
        "        refresh_interval: 5s",
        "",
      ].join("\n"),
    );
  });

  it("refuses a scrape interval that is not a whole number of seconds", () => {
    expect(() => prometheusConfig("/t", 0.5)).to.throw(
      "scrapeIntervalSeconds (0.5) must be a whole number of seconds ≥ 1",
    );
  });

  it("labels each target with its namespace, version and deployment", () => {
    expect(
      fileSdDocument([
        { address: "127.0.0.1:9002", namespace: "production", version: "1.0.0", deployment: "churn-model" },
        { address: "127.0.0.1:9001", namespace: "staging", version: "1.1.0", deployment: "churn-model" },
      ]),
    ).to.deep.equal([
      {
        targets: ["127.0.0.1:9001"],
        labels: { namespace: "staging", version: "1.1.0", deployment: "churn-model" },
      },
      {
        targets: ["127.0.0.1:9002"],
        labels: { namespace: "production", version: "1.0.0", deployment: "churn-model" },
      },
    ]);
  });

  it("writes the targets file whole, leaving no temporary file behind", () => {
    const { targetsFile } = prometheusPaths(dir);
    writeScrapeTargets(targetsFile, [
      { address: "127.0.0.1:1", namespace: "staging", version: "1.0.0", deployment: "d" },
    ]);
    writeScrapeTargets(targetsFile, []);
    expect(JSON.parse(fs.readFileSync(targetsFile, "utf8"))).to.deep.equal([]);
    expect(fs.readdirSync(path.dirname(targetsFile))).to.deep.equal(["churn-model.json"]);
    expect(targetsFile).to.equal(path.join(dir, "prometheus", "targets", "churn-model.json"));
  });
});

describe("sandbox ports", () => {
  it("finds a free loopback port, and sees it taken while something listens there", async () => {
    const port = await freePort();
    expect(await isPortFree(port)).to.equal(true);
    expect(await isListening(port)).to.equal(false);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    try {
      expect(await isPortFree(port)).to.equal(false);
      expect(await isListening(port)).to.equal(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
