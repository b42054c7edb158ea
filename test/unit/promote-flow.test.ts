import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BadInput, ConcurrentUpdate, RecoveryPending } from "../../scripts/promotion/errors";
import {
  generateEvidenceKeyPair,
  signEvidence,
  SignedEvidence,
  verifyEvidence,
} from "../../scripts/promotion/evidence";
import { FakePrometheus } from "../helpers/fake-prometheus";
import type { PromotionDeps } from "../../scripts/promotion/promotion";
import { earlierPromotionRecord, TEST_TARGET } from "../fixtures/evidence-records";
import { FakeDeployer, GOOD, NOW, Run, runPromote, snapshot, THRESHOLDS } from "../helpers/promote-harness";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";

describe("the promote flow with fake Prometheus and production", function () {
  const keys = generateEvidenceKeyPair();
  const privateKey = crypto.createPrivateKey(keys.privateKeyPem);
  let tmp: string;
  let previousEvidence: SignedEvidence;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-promote-flow-"));
    previousEvidence = signEvidence(earlierPromotionRecord({ thresholds: THRESHOLDS }), privateKey);
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function run(
    argv: string[],
    overrides: Partial<PromotionDeps> = {},
    env: NodeJS.ProcessEnv = {},
  ): Promise<Run> {
    return runPromote(
      argv,
      { signingKey: () => privateKey, deployer: () => production(), ...overrides },
      env,
    );
  }

  function production(outcomes: ConstructorParameters<typeof FakeDeployer>[1] = {}): FakeDeployer {
    return new FakeDeployer({ modelVersion: "1.0.0", evidence: previousEvidence }, outcomes);
  }

  it("passes a dry run with exit 0, a table on stdout, and neither key nor production touched", async function () {
    const prometheus = new FakePrometheus(GOOD);
    const deployer = production();
    const r = await run(["--dry-run"], {
      prometheus: () => prometheus,
      signingKey: () => {
        throw new Error("the key must not be read in a dry run");
      },
      deployer: () => deployer,
    });
    expect(r.code).to.equal(0);
    expect(deployer.lifecycle).to.deep.equal(["prepare read-only", "close"]);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stdout).to.match(/^Promotion gate for churn-model 1\.1\.0 \(staging → production\): PROMOTE\n/);
    expect(r.stderr).to.include("Dry run: the gate passed for 1.1.0; nothing was changed.");
    // One range query for the spans holding scrape samples, the first sample in the earliest
    // of them, then the window's six counts, its newest sample and the newest sample of each of
    // its three judged series; six range queries for the 24 hourly intervals.
    const spans = prometheus.rangeQueries.filter((q) => q.query.includes("count(count_over_time(up"));
    const intervals = prometheus.rangeQueries.filter((q) => !spans.includes(q));
    const counts = prometheus.queries.filter((q) => !q.query.includes("timestamp("));
    expect(spans).to.have.length(1);
    expect(prometheus.queries).to.have.length(11);
    expect(intervals).to.have.length(6);
    expect(intervals.every((q) => q.step === 3600 && /\[(3600s|3599s:)/.test(q.query))).to.equal(true);
    expect(counts).to.have.length(6);
    expect(counts.every((q) => q.time.getTime() === NOW.getTime())).to.equal(true);
    expect(counts.every((q) => /\[(86400s|86399s:)/.test(q.query))).to.equal(true);
    expect(prometheus.queries.map((q) => q.query).join("\n")).to.include(
      '{namespace="staging",version="1.1.0",correct="true"}',
    );
  });

  it("prints only the decision JSON on stdout with --json and exits 3 on a rejection", async function () {
    const r = await run(["--dry-run", "--json"], {
      prometheus: () => new FakePrometheus({ ...GOOD, accuracy: 0.5 }),
    });
    expect(r.code).to.equal(3);
    const decision = JSON.parse(r.stdout);
    expect(decision.decision).to.equal("reject");
    expect(
      decision.checks.filter((c: { passed: boolean }) => !c.passed).map((c: { name: string }) => c.name),
    ).to.deep.equal(["accuracy"]);
    expect(r.stderr).to.include("promote: the gate rejected 1.1.0 for production; nothing was changed:");
    expect(r.stderr).to.match(
      /accuracy \(fail\): accuracy 0\.5 \[[\d.]+, [\d.]+\] on 34560 labeled predictions: upper bound below the minimum 0\.85/,
    );
  });

  it("measures a window that starts when the version went live when that is within the window", async function () {
    const prometheus = new FakePrometheus(GOOD);
    const r = await run(["--dry-run", "--json", "--at", "2025-03-01T18:00:00Z"], {
      prometheus: () => prometheus,
    });
    expect(r.code).to.equal(3);
    const decision = JSON.parse(r.stdout);
    expect(decision.window).to.deep.equal({
      start: "2025-03-01T06:00:00.000Z",
      end: "2025-03-01T18:00:00.000Z",
    });
    expect(prometheus.queries[1].query).to.include("[43200s]");
    expect(decision.checks.find((c: { name: string }) => c.name === "soak_time").value).to.equal(12);
  });

  it("refuses a --model-version that staging does not run, with exit 2", async function () {
    const r = await run(["--dry-run", "--model-version", "1.2.0"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      "promote: --model-version 1.2.0 is not what staging runs (1.1.0); only the version staging runs can be promoted\n",
    );
  });

  it("refuses an --at before the version went live, with exit 2", async function () {
    const r = await run(["--dry-run", "--at", "2025-03-01T05:00:00Z"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include(
      "--at 2025-03-01T05:00:00.000Z is not after 1.1.0 went live in staging (deployedAt 2025-03-01T06:00:00.000Z)",
    );
  });

  it("refuses a baseline selector when the thresholds file has no margins", async function () {
    const r = await run(["--dry-run", "--baseline-selector", '{"namespace":"production","version":"1.0.0"}']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/--baseline-selector needs baseline margins in .*production\.json/);
  });

  it("appends a Markdown summary when GITHUB_STEP_SUMMARY is set", async function () {
    const file = path.join(tmp, "summary.md");
    const r = await run(["--dry-run"], {}, { GITHUB_STEP_SUMMARY: file });
    expect(r.code).to.equal(0);
    expect(fs.readFileSync(file, "utf8")).to.match(
      /^### ✅ Promotion gate for churn-model 1\.1\.0 .*PROMOTE\n/,
    );
  });

  it("stops with exit 4 and changes nothing without a terminal or --approved-by", async function () {
    const deployer = production();
    const r = await run([], { deployer: () => deployer });
    expect(r.code).to.equal(4);
    expect(deployer.lifecycle).to.deep.equal(["prepare", "close"]);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stderr).to.include(
      "promote: promoting 1.1.0 to production needs an approval: run it on a terminal to be asked, or pass --approved-by ID; nothing was changed",
    );
  });

  it("stops with exit 4 when the person at the terminal denies", async function () {
    const questions: string[] = [];
    const deployer = production();
    const r = await run([], {
      ask: async (q) => {
        questions.push(q);
        return "";
      },
      deployer: () => deployer,
    });
    expect(r.code).to.equal(4);
    expect(questions).to.have.length(1);
    expect(questions[0]).to.match(
      /^Approve promotion of churn-model 1\.1\.0 to production \(decision sha256:[0-9a-f]{64}, the numbers above\)\? Type your approver ID to approve, or press Enter to deny: $/,
    );
    expect(r.stdout).to.include(`Decision digest: ${/sha256:[0-9a-f]{64}/.exec(questions[0])?.[0]}`);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stderr).to.include("was denied at the prompt; nothing was changed");
  });

  it("stops with exit 4 when the ID typed at the prompt is not an approver ID", async function () {
    const deployer = production();
    const r = await run([], { ask: async () => "jane doe", deployer: () => deployer });
    expect(r.code).to.equal(4);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stderr).to.include(
      'promote: the approver ID typed at the prompt "jane doe" is not an approver ID',
    );
  });

  it("fails with exit 2 before asking anyone when the signing key is missing", async function () {
    let asked = false;
    const r = await run([], {
      signingKey: () => {
        throw new BadInput("no evidence signing key");
      },
      ask: async () => {
        asked = true;
        return "jane";
      },
    });
    expect(r.code).to.equal(2);
    expect(asked).to.equal(false);
    expect(r.stderr.split("\n").slice(-2)).to.deep.equal(["promote: no evidence signing key", ""]);
  });

  it("promotes with signed evidence that production verifies, recording the terminal approver", async function () {
    const deployer = production();
    const r = await run([], { ask: async () => " jane@example.com ", deployer: () => deployer });
    expect(r.code).to.equal(0);
    expect(deployer.calls).to.deep.equal(["current", "deploy 1.1.0", "verify 1.1.0"]);
    const evidence = deployer.deployed[0];
    expect(
      verifyEvidence(evidence, {
        publicKeyPem: keys.publicKeyPem,
        thresholds: THRESHOLDS,
        imageVersion: "1.1.0",
        now: NOW,
      }),
    ).to.deep.equal([]);
    expect(evidence.record.measured.latencyP99Ms).to.be.closeTo(183.333, 0.001);
    expect(evidence.record).to.deep.equal({
      format: 4,
      target: TEST_TARGET,
      kind: "promotion",
      modelVersion: "1.1.0",
      image: "registry.local/churn-model:1.1.0",
      artifact: sandboxArtifact("registry.local/churn-model:1.1.0"),
      measured: {
        accuracy: 0.91,
        // Interpolated in the (100, 250] ms bucket the fake histogram puts the p99 in.
        latencyP99Ms: evidence.record.measured.latencyP99Ms,
        errorRate: 0.002,
        uptime: 1,
        soakHours: 30,
        requests: 172800,
        labeledPredictions: 34560,
      },
      window: { start: "2025-03-01T12:00:00.000Z", end: "2025-03-02T12:00:00.000Z" },
      thresholds: THRESHOLDS,
      staging: { stack: "staging", updateVersion: 7, deployedAt: "2025-03-01T06:00:00.000Z" },
      approver: "jane@example.com",
      createdAt: "2025-03-02T12:00:00.000Z",
      analysis: evidence.record.analysis,
      approvals: evidence.record.approvals,
    });
    // The name typed at the prompt, recorded as an unsigned approval of this decision for an hour.
    expect(evidence.record.approvals).to.have.length(1);
    expect(evidence.record.approvals?.[0].signature).to.equal(null);
    expect(evidence.record.approvals?.[0].statement).to.deep.include({
      approver: "jane@example.com",
      target: "production",
      approvedAt: "2025-03-02T12:00:00.000Z",
      expiresAt: "2025-03-02T13:00:00.000Z",
    });
    expect(evidence.record.analysis?.method).to.include({
      method: "clopper-pearson",
      confidence: 0.95,
      intervals: 24,
    });
    expect(evidence.record.analysis?.intervals).to.have.length(24);
    expect(r.stderr).to.match(
      /Promoted 1\.1\.0 to production\. Time: gate [\d.]+ s · approval [\d.]+ s · update [\d.]+ s · verification [\d.]+ s/,
    );
  });

  it("evaluates the gate again after approval and stops with exit 4 when its outcome differs from the approved", async function () {
    const prometheus = new FakePrometheus(GOOD);
    const deployer = production();
    const r = await run(["--approved-by", "ci:octocat"], {
      prometheus: () => prometheus,
      signingKey: () => {
        prometheus.numbers = { ...GOOD, errors: 0.2 };
        return privateKey;
      },
      deployer: () => deployer,
    });
    expect(r.code).to.equal(4);
    // The 11 instant queries of one evaluation (the dry run above), twice: before the approval
    // and just before the update.
    expect(prometheus.queries).to.have.length(22);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stderr).to.match(
      /promote: the gate's decision now \(sha256:[0-9a-f]{64}\) differs in outcome from the approval by ci:octocat \(decision sha256:[0-9a-f]{64}\); nothing was changed:/,
    );
    expect(r.stderr).to.include("the gate now decides reject, the approval is for promote");
    expect(r.stderr).to.match(/check error_rate is now fail at 0\.2; the approval is for pass at 0\.002/);
  });

  it("stops with exit 4 when staging changed while waiting for approval (another decision than approved)", async function () {
    const deployer = production();
    let reads = 0;
    const r = await run(["--approved-by", "ci:octocat"], {
      readStaging: async () =>
        ++reads === 1 ? snapshot() : snapshot({ deployedAt: new Date("2025-03-01T07:00:00Z") }),
      deployer: () => deployer,
    });
    expect(r.code).to.equal(4);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stderr).to.include(
      "staging's deployment is staging at 2025-03-01T07:00:00.000Z, the approval is for staging at 2025-03-01T06:00:00.000Z",
    );
  });

  it("reports a concurrent update with exit 2 and does not roll back or retry", async function () {
    const deployer = production({
      deploy: new ConcurrentUpdate("another update of stack production is in progress"),
    });
    const r = await run(["--approved-by", "ci:octocat"], { deployer: () => deployer });
    expect(r.code).to.equal(2);
    expect(deployer.calls).to.deep.equal(["current", "deploy 1.1.0"]);
    expect(r.stderr).to.include("promote: another update of stack production is in progress");
  });

  it("rolls back with signed rollback evidence and exits 5 when verification fails", async function () {
    const deployer = production({
      verify: [
        { healthy: false, reasons: ["error rate 0.3 above 0.05"] },
        { healthy: true, reasons: [] },
      ],
    });
    const r = await run(["--approved-by", "ci:octocat"], { deployer: () => deployer });
    expect(r.code).to.equal(5);
    expect(deployer.calls).to.deep.equal([
      "current",
      "deploy 1.1.0",
      "verify 1.1.0",
      "rollback 1.0.0",
      "verify 1.0.0",
    ]);
    const rollback = deployer.rolledBack[0];
    expect(rollback.record.kind).to.equal("rollback");
    expect(rollback.record.rollbackOf).to.deep.equal(previousEvidence);
    expect(rollback.record.approver).to.equal("ci:octocat");
    expect(
      verifyEvidence(rollback, {
        publicKeyPem: keys.publicKeyPem,
        thresholds: THRESHOLDS,
        imageVersion: "1.0.0",
        now: NOW,
      }),
    ).to.deep.equal([]);
    expect(r.stderr).to.include(
      "promote: 1.1.0 failed verification in production: error rate 0.3 above 0.05; production was rolled back to 1.0.0 and verified healthy",
    );
  });

  it("rolls back with exit 5 when the update itself fails", async function () {
    const deployer = production({ deploy: { ok: false, reason: "Deployment churn-model timed out" } });
    const r = await run(["--approved-by", "ci:octocat"], { deployer: () => deployer });
    expect(r.code).to.equal(5);
    expect(deployer.calls).to.deep.equal(["current", "deploy 1.1.0", "rollback 1.0.0", "verify 1.0.0"]);
    expect(r.stderr).to.include("the update of production to 1.1.0 failed: Deployment churn-model timed out");
  });

  it("refuses a dry run with exit 2 while a recovery is pending, before measuring anything", async function () {
    const prometheus = new FakePrometheus(GOOD);
    const deployer = production({ prepare: new RecoveryPending("recovery (roll-back) is pending") });
    const r = await run(["--dry-run"], { prometheus: () => prometheus, deployer: () => deployer });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("promote: recovery (roll-back) is pending");
    expect(prometheus.queries).to.have.length(0);
    expect(r.stdout).to.equal("");
    expect(deployer.lifecycle).to.deep.equal(["prepare read-only", "close"]);
  });

  it("recovers before the gate, so a rejected promotion still leaves production recovered", async function () {
    const order: string[] = [];
    const deployer = production();
    const prepare = deployer.prepare.bind(deployer);
    deployer.prepare = async (o) => {
      order.push("prepare");
      await prepare(o);
    };
    const prometheus = new FakePrometheus({ ...GOOD, accuracy: 0.5 });
    const query = prometheus.instantQuery.bind(prometheus);
    prometheus.instantQuery = async (q, t) => {
      if (!order.includes("measure")) order.push("measure");
      return query(q, t);
    };
    const r = await run(["--approved-by", "ci:octocat"], {
      prometheus: () => prometheus,
      deployer: () => deployer,
    });
    expect(r.code).to.equal(3);
    expect(order).to.deep.equal(["prepare", "measure"]);
    expect(deployer.lifecycle).to.deep.equal(["prepare", "close"]);
  });

  it("exits 6 (a person is needed) when a failed first promotion has nothing to roll back to", async function () {
    const deployer = new FakeDeployer(
      { modelVersion: null, evidence: null },
      { deploy: { ok: false, reason: "boom" } },
    );
    const r = await run(["--approved-by", "ci:octocat"], { deployer: () => deployer });
    expect(r.code).to.equal(6);
    expect(deployer.calls).to.deep.equal(["current", "deploy 1.1.0"]);
    expect(r.stderr).to.include("production has no earlier promoted version to roll back to");
    expect(r.stderr).to.include("needs a person now");
    expect(r.stderr).to.not.include("unexpected failure");
  });

  it("exits 6 when the rollback's own update fails", async function () {
    const deployer = production({
      verify: [{ healthy: false, reasons: ["error rate 0.2 over 30s exceeds 0.01"] }],
      rollback: { ok: false, reason: "Deployment churn-model timed out" },
    });
    const r = await run(["--approved-by", "ci:octocat"], { deployer: () => deployer });
    expect(r.code).to.equal(6);
    expect(deployer.calls).to.deep.equal(["current", "deploy 1.1.0", "verify 1.1.0", "rollback 1.0.0"]);
    expect(r.stderr).to.include("the rollback to 1.0.0 failed too: Deployment churn-model timed out");
  });

  it("exits 6 when production is unhealthy after the rollback", async function () {
    const deployer = production({
      verify: [
        { healthy: false, reasons: ["error rate 0.2 over 30s exceeds 0.01"] },
        { healthy: false, reasons: ["readiness: 3 health checks in a row failed"] },
      ],
    });
    const r = await run(["--approved-by", "ci:octocat"], { deployer: () => deployer });
    expect(r.code).to.equal(6);
    expect(deployer.calls).to.deep.equal([
      "current",
      "deploy 1.1.0",
      "verify 1.1.0",
      "rollback 1.0.0",
      "verify 1.0.0",
    ]);
    expect(r.stderr).to.include("after the rollback 1.0.0 is not healthy either: readiness");
  });
});
