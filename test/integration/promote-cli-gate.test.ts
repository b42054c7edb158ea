/**
 * The promote CLI's gate decisions against a real Prometheus holding the scenarios' history
 * (test/fixtures/gate-scenarios.ts): the exit codes, the decision JSON, the text and Markdown
 * reports, the package script, the baseline margin and which Prometheus is asked.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { GATE_CHECKS } from "../fixtures/check-names";
import { PRODUCTION_BASELINE, SCENARIOS } from "../fixtures/gate-scenarios";
import {
  AT,
  cliSuite,
  decisionOf,
  failedChecks,
  promote,
  promoteInProcess,
  REPO,
  runProcess,
} from "../helpers/promote-cli";
import { freePort } from "../helpers/prometheus";

describe("the promote CLI's gate against a real Prometheus", function () {
  this.timeout(120_000);
  const suite = cliSuite("promote-cli-gate", [
    SCENARIOS.healthy.candidate,
    SCENARIOS.lowAccuracy.candidate,
    SCENARIOS.young.candidate,
    SCENARIOS.idle.candidate,
    ...SCENARIOS.healthyAmongBroken.neighbours,
    SCENARIOS.healthyAmongBroken.candidate,
    PRODUCTION_BASELINE,
  ]);

  before(async function () {
    this.timeout(180_000);
    await suite.up();
  });

  after(() => suite.down());

  it("passes a healthy version's dry run with exit 0 and prints only the decision JSON on stdout", async function () {
    const r = await promote([...suite.scenarioArgs("healthy"), "--dry-run", "--json", "--at", AT]);
    console.log(`      (24 h window: the whole CLI process took ${r.ms} ms)`);
    expect(r.code).to.equal(0);
    const d = decisionOf(r.stdout);
    expect(d.decision).to.equal("promote");
    expect(d.modelVersion).to.equal("2.0.0");
    expect(d.window.end).to.equal(AT);
    expect(d.checks.map((c) => c.name)).to.deep.equal(GATE_CHECKS);
    expect(d.checks.every((c) => c.status === "pass")).to.equal(true);
    expect(r.stderr).to.include("Dry run: the gate passed for 2.0.0; nothing was changed.");
  });

  it("runs through the package script, evaluating as of now by default: history that ended before now is stale", async function () {
    const args = suite.scenarioArgs("healthy");
    const r = await runProcess("npm", ["run", "-s", "promote", "--", ...args, "--dry-run"], {
      ...process.env,
      NO_COLOR: "1",
      GITHUB_STEP_SUMMARY: "",
    });
    // The scenario's history ends at END, before now: evaluated as of now, its newest sample is
    // too old, so the same healthy version that passes with --at END is refused on freshness.
    expect(r.code, r.stderr).to.equal(3);
    expect(r.stdout).to.match(
      /^Promotion gate for churn-model 2\.0\.0 \(staging → production\): REJECT \(fail: /,
    );
    expect(r.stdout).to.match(/\naccuracy\s+0\.9\d*\s+\[0\.9\d*, 0\.9\d*\]\s+≥ 0\.85\s+.*\s+pass\s+/);
    expect(r.stdout).to.match(/\nfreshness\s.*\sFAIL\s+newest scrape sample is \d+(\.\d+)? s old/);
    const end = Date.parse(/Window: \S+ → (\S+)/.exec(r.stdout)?.[1] ?? "");
    expect(Math.abs(end - Date.now())).to.be.lessThan(120_000);
  });

  it("rejects a version with low accuracy with exit 3, naming the check on stderr", async function () {
    const r = await promote([...suite.scenarioArgs("lowAccuracy"), "--dry-run", "--at", AT]);
    expect(r.code).to.equal(3);
    expect(r.stdout).to.match(
      /\naccuracy\s+0\.[67]\d*\s.*\s24: 24 fail\s+FAIL\s+accuracy 0\.[67]\d* .*upper bound below the minimum 0\.85\n/,
    );
    expect(r.stderr).to.match(
      /promote: the gate rejected 2\.0\.1-low-accuracy for production; nothing was changed: fail \(the data say the candidate is worse than a threshold\):\n {2}- accuracy \(fail\): /,
    );
  });

  it("rejects a version that went live 2 h ago with exit 3 on soak time", async function () {
    const r = await promoteInProcess([...suite.scenarioArgs("young"), "--dry-run", "--json", "--at", AT]);
    expect(r.code).to.equal(3);
    const d = decisionOf(r.stdout);
    expect(d.checks.filter((c) => !c.passed).map((c) => [c.name, c.status])).to.deep.equal([
      ["soak_time", "inconclusive"],
    ]);
  });

  it("rejects a version without traffic with exit 3: no events is inconclusive, never a pass", async function () {
    const r = await promoteInProcess([...suite.scenarioArgs("idle"), "--dry-run", "--json", "--at", AT]);
    expect(r.code).to.equal(3);
    const d = decisionOf(r.stdout);
    expect(d.checks.filter((c) => !c.passed).map((c) => [c.name, c.status, c.value, c.reason])).to.deep.equal(
      [
        ["accuracy", "inconclusive", null, "no labeled predictions"],
        ["latency_p99", "inconclusive", null, "no requests"],
        ["error_rate", "inconclusive", null, "no requests"],
        [
          "samples",
          "inconclusive",
          0,
          "only 0 requests in the window; 1000 are required; only 0 labeled predictions in the window; 200 are required",
        ],
      ],
    );
  });

  it("promotes a healthy version whose neighbours in other namespaces and versions are broken", async function () {
    const r = await promoteInProcess([
      ...suite.scenarioArgs("healthyAmongBroken"),
      "--dry-run",
      "--json",
      "--at",
      AT,
    ]);
    expect(r.code).to.equal(0);
    expect(decisionOf(r.stdout).decision).to.equal("promote");
  });

  it("rejects on the baseline margin when production's version is clearly more accurate", async function () {
    const withBaseline = path.join(REPO, "test", "fixtures", "thresholds", "with-baseline.json");
    const r = await promote([
      ...suite.scenarioArgs("healthy", suite.prometheusUrl, withBaseline),
      "--baseline-selector",
      JSON.stringify({ namespace: "production", version: PRODUCTION_BASELINE.version }),
      "--dry-run",
      "--json",
      "--at",
      AT,
    ]);
    expect(r.code, r.stderr).to.equal(3);
    const failed = failedChecks(r.stdout);
    expect(failed.map((c) => c.name)).to.deep.equal(["baseline_accuracy"]);
    expect(failed[0].status).to.equal("fail");
    expect(failed[0].reason).to.match(
      /^accuracy 0\.9\d* vs 0\.9\d* for baseline \{namespace="production",version="1\.9\.0"\}/,
    );
    expect(failed[0].reason).to.include("0.02");
  });

  it("appends the Markdown summary to GITHUB_STEP_SUMMARY", async function () {
    const summary = path.join(suite.tmp, "step-summary.md");
    const r = await promoteInProcess([...suite.scenarioArgs("healthy"), "--dry-run", "--at", AT], {
      GITHUB_STEP_SUMMARY: summary,
    });
    expect(r.code).to.equal(0);
    const md = fs.readFileSync(summary, "utf8");
    expect(md).to.match(/^### ✅ Promotion gate for churn-model 2\.0\.0 \(staging → production\): PROMOTE\n/);
    expect(md).to.match(/\n\| soak_time \| 24\.\d+ h \| {2}\| ≥ 24 h \| {2}\| ✅ pass \| /);
    expect(md).to.match(/\n\| freshness \| \d+ s \| {2}\| ≤ 120 s \| {2}\| ✅ pass \| /);
  });

  it("refuses a --model-version that staging does not run with exit 2", async function () {
    const r = await promoteInProcess([
      ...suite.scenarioArgs("healthy"),
      "--dry-run",
      "--model-version",
      "2.0.1",
      "--at",
      AT,
    ]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      "promote: --model-version 2.0.1 is not what staging runs (2.0.0); only the version staging runs can be promoted\n",
    );
  });

  it("uses --prometheus-url over the outputs' prometheusUrl", async function () {
    const port = await freePort();
    const args = suite.scenarioArgs("healthy", `http://127.0.0.1:${port}`);
    const r = await promoteInProcess([
      ...args,
      "--prometheus-url",
      suite.prometheusUrl,
      "--dry-run",
      "--json",
      "--at",
      AT,
    ]);
    expect(r.code).to.equal(0);
    expect(r.stderr).to.include(`Measuring 2.0.0 in ${suite.prometheusUrl} over `);
  });
});
