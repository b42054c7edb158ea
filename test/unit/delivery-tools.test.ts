import { expect } from "chai";
import * as path from "path";
import { keyLines, lineChart, renderReport } from "../../scripts/demo/report";
import { stagingSegment } from "../../scripts/sandbox/driver";
import { parseDeployArgs } from "../../scripts/deploy";
import { parsePreviewArgs } from "../../scripts/preview";
import { BadInput } from "../../scripts/promotion/errors";
import { formatHistory, HistoryEntry, parseHistoryArgs } from "../../scripts/promotion/history";
import { runSmokeTests } from "../../scripts/promotion/smoke";
import { ChurnModelService } from "../../scripts/sandbox/service/server";
import { generateDataset } from "../../scripts/sandbox/service/dataset";

/** The sandbox's thresholds, as the report shows them. */
const REPORT_THRESHOLDS = {
  minAccuracy: 0.85,
  maxLatencyP99Ms: 250,
  maxErrorRate: 0.01,
  minUptime: 0.99,
  minSoakHours: 0.01,
  minRequests: 200,
  minLabeledPredictions: 50,
  maxEvidenceAgeHours: 72,
};

describe("deploy flags", function () {
  it("reads the stack, version, policy config and smoke options", function () {
    const policy = path.join(__dirname, "..", "..", "policy", "config", "staging.json");
    expect(
      parseDeployArgs([
        "--stack",
        "staging",
        "--model-version",
        "1.2.0",
        "--policy-config",
        policy,
        "--smoke-wait",
        "30s",
      ]),
    ).to.deep.equal({
      stack: "staging",
      modelVersion: "1.2.0",
      policyConfig: policy,
      smokeWaitMs: 30_000,
      smoke: true,
      help: false,
    });
    expect(parseDeployArgs(["--stack", "s", "--model-version", "1.0.0", "--no-smoke"]).smoke).to.equal(false);
  });

  const bad: [string[], string][] = [
    [["--model-version", "1.0.0"], "--stack is required"],
    [["--stack", "staging"], "--model-version is required"],
    [["--stack", "staging", "--model-version", "latest"], "--model-version"],
    [["--stack", "staging", "--model-version", "1.0.0;reboot"], "--model-version"],
    [["--stack", "st aging", "--model-version", "1.0.0"], "is not a stack name"],
    [
      ["--stack", "staging", "--model-version", "1.0.0", "--policy-config", "/nonexistent.json"],
      "--policy-config /nonexistent.json does not exist",
    ],
    [["--stack", "staging", "--stack", "other", "--model-version", "1.0.0"], "--stack was given twice"],
    [["--stack", "staging", "--model-version", "1.0.0", "--force"], 'unknown flag "--force"'],
    [["--stack"], "--stack needs a value"],
  ];
  for (const [argv, message] of bad) {
    it(`refuses ${argv.join(" ")} naming the problem`, function () {
      expect(() => parseDeployArgs(argv)).to.throw(BadInput, message);
    });
  }
});

describe("preview flags", function () {
  it("requires a stack and refuses unknown flags", function () {
    expect(parsePreviewArgs(["--stack", "production"])).to.deep.equal({ stack: "production", help: false });
    expect(() => parsePreviewArgs([])).to.throw(BadInput, "--stack is required");
    expect(() => parsePreviewArgs(["--stack", "x", "--yes"])).to.throw(BadInput, 'unknown flag "--yes"');
  });
});

/** A rollback approved by alice (signed) and bob (by name), as `history` reads it. */
const entry: HistoryEntry = {
  update: 3,
  result: "update succeeded",
  startedAt: "2026-11-26T12:00:00.000Z",
  durationSeconds: 14,
  modelVersion: "1.1.0",
  kind: "rollback",
  evidenceFor: "1.1.0",
  approver: "alice, bob",
  approvals: [
    { approver: "alice", signed: true, decisionDigest: `sha256:${"ab".repeat(32)}` },
    { approver: "bob", signed: false, decisionDigest: `sha256:${"ab".repeat(32)}` },
  ],
  measured: {
    accuracy: 0.9371,
    latencyP99Ms: 9.4,
    errorRate: 0.0004,
    uptime: 1,
    soakHours: 25.5,
    requests: 9000,
    labeledPredictions: 4000,
  },
  evidenceCreatedAt: "2026-11-26T11:59:00.000Z",
};

describe("promotion history", function () {
  it("prints who approved which decision, what, when and the numbers of each update", function () {
    const text = formatHistory([
      entry,
      {
        ...entry,
        update: 2,
        kind: "none",
        evidenceFor: null,
        approver: null,
        approvals: [],
        measured: null,
        modelVersion: "1.0.0",
      },
    ]);
    const [header, first, second] = text.trim().split("\n");
    expect(header).to.match(
      /^update\s+started \(UTC\)\s+result\s+version\s+evidence\s+approver\s+decision\s+accuracy\s+p99 ms\s+errors\s+soak h$/,
    );
    expect(first).to.match(
      /^3\s+2026-11-26 12:00:00\s+update succeeded\s+1\.1\.0\s+rollback of 1\.1\.0\s+alice \(signed\), bob\s+sha256:abababababab\s+0\.937\s+9\s+0\.0004\s+25\.50$/,
    );
    expect(second).to.match(/^2\s+.*1\.0\.0\s+none\s+-\s+-\s+-\s+-\s+-\s+-$/);
  });

  it("reads its flags and refuses bad ones", function () {
    expect(parseHistoryArgs(["--to", "prod-eu", "--json", "--limit", "5"])).to.deep.equal({
      to: "prod-eu",
      json: true,
      limit: 5,
      help: false,
    });
    expect(() => parseHistoryArgs(["--limit", "0"])).to.throw(
      BadInput,
      '--limit must be a whole number from 1 to 1000 (got "0")',
    );
    expect(() => parseHistoryArgs(["--since", "x"])).to.throw(BadInput, 'unknown option "--since"');
  });
});

describe("smoke tests against a real service process", function () {
  let service: ChurnModelService;
  let url: string;

  before(async function () {
    service = new ChurnModelService({ version: "1.1.0", namespace: "staging" });
    url = await service.listen(0);
  });

  after(async function () {
    await service.close();
  });

  it("pass for a sound model serving the expected version", async function () {
    const lines: string[] = [];
    const r = await runSmokeTests(url, "1.1.0", { waitMs: 5000, log: (l) => lines.push(l) });
    expect(r).to.deep.equal({ passed: true, failures: [] });
    expect(lines[0]).to.equal(`smoke: ${url} serves 1.1.0 and is healthy`);
  });

  it("fail, naming the version, when the service never serves the expected one", async function () {
    const r = await runSmokeTests(url, "1.2.0", { waitMs: 1500 });
    expect(r.passed).to.equal(false);
    expect(r.failures[0]).to.match(
      /^the service never reported version 1\.2\.0 healthy: GET \/healthz answered 200 with version "1\.1\.0"$/,
    );
  });

  it("fail when nothing listens", async function () {
    const r = await runSmokeTests("http://127.0.0.1:9", "1.1.0", { waitMs: 1000 });
    expect(r.passed).to.equal(false);
    expect(r.failures[0]).to.match(/GET \/healthz failed/);
  });
});

describe("the demo", function () {
  it("sends staging only the online segment: no mailed-check customers", function () {
    const all = generateDataset();
    const staging = stagingSegment(all);
    expect(staging.length).to.be.greaterThan(all.length / 2);
    expect(staging.some((r) => r.features.paymentMethod === "mailed-check")).to.equal(false);
    expect(all.some((r) => r.features.paymentMethod === "mailed-check")).to.equal(true);
  });

  it("draws a chart with its threshold line and marks a failing last value", function () {
    const svg = lineChart(
      "accuracy",
      {
        points: [
          [0, 0.9],
          [10, 0.8],
        ],
      },
      0.85,
      "above",
      "",
    );
    expect(svg).to.contain('class="threshold"');
    expect(svg).to.contain('<span class="fail">0.800</span>');
    expect(lineChart("p99", { points: [] }, 250, "below", " ms")).to.contain("no data");
  });

  it("renders an offline report that escapes what it shows", function () {
    const html = renderReport({
      startedAt: new Date("2026-01-01T00:00:00Z"),
      finishedAt: new Date("2026-01-01T00:05:00Z"),
      thresholds: REPORT_THRESHOLDS,
      stories: [
        {
          title: "<b>1</b> story",
          expectation: "x",
          ok: true,
          runs: [],
          productionVersionAfter: "1.0.0",
          ms: 1000,
        },
      ],
      charts: [],
      history: [entry],
    });
    expect(html).to.contain("&lt;b&gt;1&lt;/b&gt; story");
    // Who approved which decision digest, signed or by name only.
    expect(html).to.contain(
      `alice (signed) <code>sha256:${"ab".repeat(6)}…</code><br>bob <code>sha256:${"ab".repeat(6)}…</code>`,
    );
    expect(html).to.not.match(/<script|https?:\/\//);
    expect(html).to.contain("(5.0 min)");
  });

  it("says which kind of no a rejected decision is, and what would change each check that did not pass", function () {
    const html = renderReport({
      startedAt: new Date("2026-01-01T00:00:00Z"),
      finishedAt: new Date("2026-01-01T00:05:00Z"),
      thresholds: REPORT_THRESHOLDS,
      stories: [
        {
          title: "a young version",
          expectation: "rejected",
          ok: true,
          runs: [],
          productionVersionAfter: "1.0.0",
          ms: 1000,
          decision: {
            decision: "reject",
            modelVersion: "1.1.0",
            window: { start: "2026-01-01T00:00:00.000Z", end: "2026-01-01T00:04:00.000Z" },
            outcome: "inconclusive",
            checks: [
              { name: "accuracy", value: 0.91, threshold: 0.85, passed: true, reason: "ok", status: "pass" },
              {
                name: "samples",
                value: 12,
                threshold: 50,
                passed: false,
                reason: "12 labeled predictions <50",
                status: "inconclusive",
                next: "needs ~38 more labeled predictions",
              },
              {
                name: "error_rate",
                value: 0.2,
                threshold: 0.01,
                passed: false,
                reason: "0.2 > 0.01",
                status: "fail",
                mode: "dryRun",
              },
            ],
          },
        },
      ],
      charts: [],
      history: [],
    });
    expect(html).to.contain('<strong class="fail">reject (inconclusive)</strong>');
    expect(html).to.contain("<td>INCONCLUSIVE</td>");
    expect(html).to.contain("<em>What would change it: needs ~38 more labeled predictions</em>");
    expect(html).to.contain("<td>FAIL (dry run)</td>");
    expect(html).to.contain('<tr class="pass"><td>accuracy</td>');
    expect(html.match(/What would change it/g)).to.have.length(1);
  });
});

describe("the report's reasons", function () {
  it("picks the lines that say why a command ended as it did", function () {
    const out = [
      "  │ Updating (production):",
      "  │     error: Running program failed with an unhandled exception:",
      "  │     Error: production refuses model version 1.2.0: the promotion evidence is not valid:",
      "  │       - promotion evidence names version 1.1.0 but the container image runs 1.2.0",
      "  │     Error: production refuses model version 1.2.0: the promotion evidence is not valid:",
      "promote: 1.4.0 failed verification in production: error rate 0.03 exceeds 0.01; production was rolled back to 1.1.0",
    ].join("\n");
    expect(keyLines(out)).to.deep.equal([
      "Error: production refuses model version 1.2.0: the promotion evidence is not valid:",
      "- promotion evidence names version 1.1.0 but the container image runs 1.2.0",
      "promote: 1.4.0 failed verification in production: error rate 0.03 exceeds 0.01; production was rolled back to 1.1.0",
    ]);
    expect(keyLines("all good\nnothing to see")).to.deep.equal([]);
  });
});
