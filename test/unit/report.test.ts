import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DependencyUnavailable } from "../../scripts/promotion/errors";
import type { Decision } from "../../scripts/promotion/gate";
import {
  appendStepSummary,
  decisionJson,
  decisionMarkdown,
  decisionTable,
} from "../../scripts/promotion/report";

const base = { mode: "enforce" as const, lower: null, upper: null };

const DECISION: Decision = {
  decision: "reject",
  outcome: "inconclusive",
  modelVersion: "1.1.0",
  window: { start: "2025-03-01T12:00:00.000Z", end: "2025-03-02T12:00:00.000Z" },
  checks: [
    {
      ...base,
      name: "accuracy",
      value: 0.91234567,
      threshold: 0.85,
      passed: true,
      status: "pass",
      lower: 0.9,
      upper: 0.92,
      reason: "accuracy 0.912346 [0.9, 0.92] on 34560 labeled predictions: lower bound ≥ 0.85",
      intervals: [
        { start: "a", end: "b", status: "pass", value: 0.9, lower: 0.88, upper: 0.92, reason: "ok" },
        {
          start: "b",
          end: "c",
          status: "inconclusive",
          value: null,
          lower: null,
          upper: null,
          reason: "quiet",
        },
      ],
    },
    {
      ...base,
      name: "latency_p99",
      value: null,
      threshold: 250,
      passed: false,
      status: "inconclusive",
      reason: "latency histogram: NaN (no events)",
      intervals: [],
    },
    {
      ...base,
      name: "error_rate",
      value: 0.002,
      threshold: 0.01,
      passed: true,
      status: "pass",
      reason: "ok",
    },
    {
      ...base,
      name: "uptime",
      value: 0.5,
      threshold: 0.999,
      passed: false,
      status: "fail",
      mode: "dryRun",
      reason: "dry run (never decides): uptime 0.5 is below the minimum 0.999",
    },
    {
      ...base,
      name: "soak_time",
      value: 2.5,
      threshold: 24,
      passed: false,
      status: "inconclusive",
      reason: "1.1.0: only 2.5 h; 24 h are required",
      next: "wait until 2025-03-03T09:30:00.000Z",
    },
    { ...base, name: "samples", value: 1500, threshold: 1000, passed: true, status: "pass", reason: "a | b" },
  ],
  analysis: {
    method: "clopper-pearson",
    confidence: 0.95,
    intervalConfidence: 0.975,
    analysisIntervalMinutes: 60,
    intervals: 2,
    maxFailedIntervals: 0,
    maxStalenessSeconds: 120,
  },
};

const CTX = { from: "staging", to: "production" };

describe("decision reports", function () {
  it("prints the contract's keys first and in order, then status, mode, bounds and intervals", function () {
    const parsed = JSON.parse(decisionJson({ ...DECISION, extra: "x" } as Decision)) as Record<
      string,
      unknown
    >;
    expect(Object.keys(parsed)).to.deep.equal([
      "decision",
      "modelVersion",
      "window",
      "checks",
      "outcome",
      "analysis",
    ]);
    const checks = parsed.checks as Record<string, unknown>[];
    expect(Object.keys(checks[0])).to.deep.equal([
      "name",
      "value",
      "threshold",
      "passed",
      "reason",
      "status",
      "mode",
      "lower",
      "upper",
      "intervals",
    ]);
    expect(Object.keys(checks[4])).to.include("next");
    expect(checks[1].value).to.equal(null);
    expect(checks[0].value).to.equal(0.91234567);
    expect(checks[3]).to.include({ passed: false, status: "fail", mode: "dryRun" });
    expect(parsed.window).to.deep.equal(DECISION.window);
    expect(parsed.outcome).to.equal("inconclusive");
  });

  it("shows a table with value, bounds, threshold, intervals, result and reason, and what would change it", function () {
    const table = decisionTable(DECISION, CTX);
    const lines = table.split("\n");
    expect(lines[0]).to.equal(
      "Promotion gate for churn-model 1.1.0 (staging → production): REJECT (inconclusive: not enough data to say either way yet)",
    );
    expect(lines[1]).to.equal("Window: 2025-03-01T12:00:00.000Z → 2025-03-02T12:00:00.000Z");
    expect(lines[2]).to.match(
      /^Method: exact \(Clopper–Pearson\) intervals at 95 % confidence; 2 intervals of 60 min judged at 97.5 %/,
    );
    expect(lines[4]).to.match(/^CHECK\s+VALUE\s+BOUNDS\s+THRESHOLD\s+INTERVALS\s+RESULT\s+REASON$/);
    expect(lines[5]).to.match(
      /^accuracy\s+0\.912346\s+\[0\.9, 0\.92\]\s+≥ 0\.85\s+2: 1 pass, 1 inconclusive\s+pass\s+accuracy/,
    );
    expect(lines[6]).to.match(/^latency_p99\s+—\s+≤ 250 ms\s+none\s+INCONCLUSIVE\s+latency histogram/);
    expect(lines[8]).to.match(/^uptime\s+0\.5\s+≥ 0\.999\s+FAIL \(dry run\)\s+dry run/);
    expect(lines[9]).to.match(/^soak_time\s+2\.5 h\s+≥ 24 h\s+INCONCLUSIVE\s+/);
    expect(table).to.include("What would change it:\n");
    expect(table).to.include("  - soak_time: inconclusive — wait until 2025-03-03T09:30:00.000Z\n");
    expect(table).to.include("  - uptime (dry run, not deciding): fail\n");
    const col = lines[4].indexOf("VALUE");
    for (const row of lines.slice(5, 11)) {
      expect(row[col - 1]).to.equal(" ");
      expect(row[col]).not.to.equal(" ");
    }
  });

  it("colors only when asked", function () {
    expect(decisionTable(DECISION, CTX)).not.to.include("\u001b[");
    const colored = decisionTable(DECISION, CTX, true);
    expect(colored).to.include("\u001b[31mPromotion gate for churn-model 1.1.0");
    expect(colored).to.include("\u001b[33mINCONCLUSIVE");
    expect(colored).to.include("\u001b[32mpass ");
  });

  it("writes a Markdown table for the job summary, escaping pipes", function () {
    const md = decisionMarkdown(DECISION, CTX);
    expect(md.split("\n")[0]).to.equal(
      "### ❌ Promotion gate for churn-model 1.1.0 (staging → production): REJECT (inconclusive: not enough data to say either way yet)",
    );
    expect(md).to.include("| Check | Value | Bounds | Threshold | Intervals | Result | Reason |");
    expect(md).to.include(
      "| latency_p99 | — |  | ≤ 250 ms | none | ⏳ inconclusive | latency histogram: NaN (no events) |",
    );
    expect(md).to.include("| samples | 1500 |  | ≥ 1000 |  | ✅ pass | a \\| b |");
    expect(md).to.include("| uptime | 0.5 |  | ≥ 0.999 |  | ❌ fail (dry run) |");
    expect(md).to.include("- soak_time: inconclusive — wait until 2025-03-03T09:30:00.000Z");
  });

  it("appends to the summary file and keeps what was there", function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-summary-"));
    try {
      const file = path.join(dir, "summary.md");
      fs.writeFileSync(file, "earlier step\n");
      appendStepSummary(file, "# one");
      expect(fs.readFileSync(file, "utf8")).to.equal("earlier step\n# one\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports an unwritable summary file as an unavailable dependency", function () {
    expect(() => appendStepSummary("/nonexistent-dir/summary.md", "x"))
      .to.throw(DependencyUnavailable)
      .with.property("message")
      .that.matches(/^cannot append to GITHUB_STEP_SUMMARY \/nonexistent-dir\/summary\.md: ENOENT/);
  });
});
