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

const DECISION: Decision = {
  decision: "reject",
  modelVersion: "1.1.0",
  window: { start: "2025-03-01T12:00:00.000Z", end: "2025-03-02T12:00:00.000Z" },
  checks: [
    {
      name: "accuracy",
      value: 0.91234567,
      threshold: 0.85,
      passed: true,
      reason: "accuracy 0.912346 ≥ 0.85",
    },
    {
      name: "latency_p99",
      value: null,
      threshold: 250,
      passed: false,
      reason: "p99 latency (ms): value is NaN (no events in the window)",
    },
    { name: "error_rate", value: 0.002, threshold: 0.01, passed: true, reason: "error rate 0.002 ≤ 0.01" },
    { name: "uptime", value: 1, threshold: 0.999, passed: true, reason: "uptime 1 ≥ 0.999" },
    {
      name: "soak_time",
      value: 2.5,
      threshold: 24,
      passed: false,
      reason: "1.1.0 has run in staging for only 2.5 h; 24 h are required",
    },
    { name: "samples", value: 1500, threshold: 1000, passed: true, reason: "a | b" },
  ],
};

const CTX = { from: "staging", to: "production" };

describe("decision reports", function () {
  it("prints the contract's JSON with exactly its keys, null for a missing value", function () {
    const parsed = JSON.parse(decisionJson({ ...DECISION, extra: "x" } as Decision)) as Record<
      string,
      unknown
    >;
    expect(Object.keys(parsed)).to.deep.equal(["decision", "modelVersion", "window", "checks"]);
    const checks = parsed.checks as Record<string, unknown>[];
    expect(checks.map((c) => Object.keys(c))).to.deep.equal(
      DECISION.checks.map(() => ["name", "value", "threshold", "passed", "reason"]),
    );
    expect(checks[1].value).to.equal(null);
    expect(checks[0].value).to.equal(0.91234567);
    expect(parsed.window).to.deep.equal(DECISION.window);
  });

  it("shows a table with value, threshold with its comparison and unit, result and reason", function () {
    const lines = decisionTable(DECISION, CTX).split("\n");
    expect(lines[0]).to.equal("Promotion gate for churn-model 1.1.0 (staging → production): REJECT");
    expect(lines[1]).to.equal("Window: 2025-03-01T12:00:00.000Z → 2025-03-02T12:00:00.000Z");
    expect(lines[3]).to.match(/^CHECK\s+VALUE\s+THRESHOLD\s+RESULT\s+REASON$/);
    expect(lines[4]).to.match(/^accuracy\s+0\.912346\s+≥ 0\.85\s+pass\s+accuracy 0\.912346 ≥ 0\.85$/);
    expect(lines[5]).to.match(/^latency_p99\s+—\s+≤ 250 ms\s+FAIL\s+p99 latency \(ms\): value is NaN/);
    expect(lines[8]).to.match(/^soak_time\s+2\.5 h\s+≥ 24 h\s+FAIL\s+/);
    const col = lines[3].indexOf("VALUE");
    for (const row of lines.slice(4, 10)) {
      expect(row[col - 1]).to.equal(" ");
      expect(row[col]).not.to.equal(" ");
    }
  });

  it("colors only when asked", function () {
    expect(decisionTable(DECISION, CTX)).not.to.include("\u001b[");
    const colored = decisionTable(DECISION, CTX, true);
    expect(colored).to.include("\u001b[31mPromotion gate for churn-model 1.1.0");
    expect(colored).to.include("\u001b[31mFAIL  \u001b[0m");
    expect(colored).to.include("\u001b[32mpass  \u001b[0m");
  });

  it("writes a Markdown table for the job summary, escaping pipes", function () {
    const md = decisionMarkdown(DECISION, CTX);
    expect(md.split("\n")[0]).to.equal(
      "### ❌ Promotion gate for churn-model 1.1.0 (staging → production): REJECT",
    );
    expect(md).to.include("| Check | Value | Threshold | Result | Reason |");
    expect(md).to.include(
      "| latency_p99 | — | ≤ 250 ms | ❌ fail | p99 latency (ms): value is NaN (no events in the window) |",
    );
    expect(md).to.include("| samples | 1500 | ≥ 1000 | ✅ pass | a \\| b |");
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
