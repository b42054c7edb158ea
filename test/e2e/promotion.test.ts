/**
 * End to end on the sandbox: the demo's five stories with assertions on exit codes, stack
 * state, Kubernetes objects and evidence (each promotion signed-approved by demo-approver through
 * `approve`); an approval whose candidate and numbers changed before the update (exit 4); two promotions at
 * once; a promotion killed during the production update and run again; and the report.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { Approval } from "../../policy/contract";
import { renderReport } from "../../scripts/demo/report";
import { Stories } from "../../scripts/demo/stories";
import { PRODUCTION_POLICY, VERSIONS } from "../../scripts/sandbox/driver";
import { selectStack } from "../../scripts/promotion/engine";
import { parseSignedEvidence, verifyEvidence } from "../../scripts/promotion/evidence";
import { loadPolicyPublicKey } from "../../scripts/promotion/thresholds";
import { lockHeld } from "../../scripts/promotion/lock";
import { promotionLockDir } from "../../scripts/promotion/rollout";
import { PRODUCTION_REPLICAS, SANDBOX_REGISTRY, sandboxEnv, SandboxState } from "../../scripts/sandbox/cli";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";
import { isAlive } from "../../scripts/sandbox/controlplane";
import { sandboxSuite } from "../helpers/sandbox-suite";
import { processEnv, REPO_ROOT } from "../../scripts/toolchain/env";

describe("staging → production on the sandbox (e2e)", function () {
  this.timeout(60 * 60_000);
  const suite = sandboxSuite("churn-e2e-");
  const productionDeployment = () => suite.productionDeployment();
  const productionConfig = () => suite.productionConfig();
  let s: SandboxState;
  let stories: Stories;
  /** demo-approver's approval of 1.0.0 as story 1 promoted it (its staging deployment, its numbers). */
  let baselineApproval: Approval | undefined;

  before(async function () {
    await suite.up();
    s = suite.s;
    stories = suite.stories;
  });

  after(() => suite.down());

  afterEach(function () {
    suite.printLogIfFailed(this.currentTest);
  });

  it("1. promotes the baseline: gate passes, production runs it with verifiable evidence", async function () {
    const r = await stories.promoteStory(1, VERSIONS.baseline, "baseline");
    // deploy, approve, promote
    expect(r.runs.map((x) => x.code)).to.deep.equal([0, 0, 0]);
    expect(r.runs[1].command).to.match(/^npm run promote -- approve --approver demo-approver /);
    expect(r.decision?.decision).to.equal("promote");
    expect(r.decision?.checks.map((c) => c.name)).to.include.members([
      "accuracy",
      "latency_p99",
      "error_rate",
      "uptime",
      "soak_time",
      "samples",
    ]);
    expect(r.productionVersionAfter).to.equal("1.0.0");
    const d = await productionDeployment();
    expect(d.spec.template.spec.containers[0].image).to.match(
      /^localhost:5000\/ml\/churn-model:1\.0\.0@sha256:[0-9a-f]{64}$/,
    );
    expect(await suite.productionRuns("1.0.0")).to.equal(d.spec.template.spec.containers[0].image);
    expect(d.status.readyReplicas).to.equal(PRODUCTION_REPLICAS.min);
    const annotation = d.metadata.annotations?.["churn-model/promotion-evidence"];
    expect(annotation).to.be.a("string");
    const evidence = parseSignedEvidence(annotation!);
    expect(evidence.record).to.include({
      kind: "promotion",
      modelVersion: "1.0.0",
      approver: "demo-approver",
    });
    // The approval the pack required: demo-approver's signature over the digest approve showed.
    const approvals = evidence.record.approvals ?? [];
    expect(approvals.map((a) => [a.statement.approver, a.signature !== null])).to.deep.equal([
      ["demo-approver", true],
    ]);
    expect(r.runs[1].stderr).to.contain(`Approved decision ${approvals[0].statement.decisionDigest}`);
    baselineApproval = approvals[0];
    expect(
      verifyEvidence(annotation, {
        publicKeyPem: loadPolicyPublicKey(PRODUCTION_POLICY),
        thresholds: stories.thresholds,
        imageVersion: "1.0.0",
        image: d.spec.template.spec.containers[0].image,
        now: new Date(),
      }),
    ).to.deep.equal([]);
  });

  it("2. promotes the improved version over the baseline through every canary step", async function () {
    const r = await stories.promoteStory(2, VERSIONS.improved, "improved", "canary");
    expect(r.runs.map((x) => x.code)).to.deep.equal([0, 0, 0]);
    expect(r.productionVersionAfter).to.equal("1.1.0");
    expect(r.runs[2].stderr).to.contain("Canary of 1.1.0 passed every step");
    const d = await productionDeployment();
    const steps = parseSignedEvidence(d.metadata.annotations!["churn-model/promotion-evidence"]).record.canary
      ?.steps;
    expect(steps?.map((x) => [x.weight, x.verdict])).to.deep.equal([
      [10, "pass"],
      [50, "pass"],
    ]);
    const accuracy = r.decision!.checks.find((c) => c.name === "accuracy")!;
    expect(accuracy.passed).to.equal(true);
    expect(accuracy.value).to.be.greaterThan(0.85);
    await suite.productionRuns("1.1.0");
  });

  it("stops with exit 4 when staging's candidate and numbers changed since the approval, changing nothing", async function () {
    expect(baselineApproval, "story 1's approval").to.not.equal(undefined);
    // Approved: 1.0.0's decision. Since then staging moved on to 1.1.0 (story 2): other numbers.
    const file = path.join(suite.dir, "approval-story-1.json");
    fs.writeFileSync(file, JSON.stringify(baselineApproval));
    const before = await productionConfig();
    const stale = await stories.promote(VERSIONS.improved, [], {}, { approval: file });
    expect(stale.run.code, stale.run.stderr).to.equal(4);
    expect(stale.decision?.decision, "the gate itself passes").to.equal("promote");
    expect(stale.run.stderr).to.contain("differs in outcome from the approval by demo-approver");
    expect(stale.run.stderr).to.contain("the version is 1.1.0, the approval is for 1.0.0");
    expect(stale.run.stderr).to.contain(
      `the approval is for staging at ${baselineApproval!.statement.decision.staging.deployedAt}`,
    );
    expect(stale.run.stderr).to.contain("nothing was changed");
    expect(await productionConfig()).to.deep.equal(before);
    expect(lockHeld(promotionLockDir({ env: sandboxEnv(s) }, "production"))).to.equal(false);
  });

  it("3. refuses the accuracy regression at the gate, naming the check, and leaves production alone", async function () {
    const r = await stories.rejectStory(VERSIONS.regressed);
    // deploy, approve (refused: a rejected decision cannot be approved), promote
    expect(r.runs.map((x) => x.code)).to.deep.equal([0, 3, 3]);
    expect(r.decision?.decision).to.equal("reject");
    const failed = r.decision!.checks.filter((c) => !c.passed).map((c) => c.name);
    expect(failed).to.deep.equal(["accuracy"]);
    expect(r.decision!.checks.find((c) => c.name === "accuracy")!.value).to.be.lessThan(0.85);
    expect(r.productionVersionAfter).to.equal("1.1.0");
    expect((await productionConfig())["churn-model:modelVersion"]).to.equal("1.1.0");
  });

  it("4. refuses the regressed version pushed by hand: without the pack, with it, and with forged evidence", async function () {
    const r = await stories.manualStory(VERSIONS.regressed);
    const [noPack, withPack, forged, unapproved] = r.runs;
    const text = (x: (typeof r.runs)[number]) => x.stdout + x.stderr;
    expect(noPack.code).to.not.equal(0);
    expect(text(noPack)).to.contain("production refuses model version 1.2.0");
    expect(text(noPack)).to.contain("promotion evidence names version 1.1.0");
    expect(withPack.code).to.not.equal(0);
    expect(text(withPack)).to.contain("production refuses model version 1.2.0");
    expect(forged.code).to.not.equal(0);
    expect(text(forged)).to.not.contain("production refuses");
    expect(text(forged)).to.contain("promotion-evidence");
    expect(text(forged)).to.contain(
      "promotion evidence carries a signature that does not verify under the configured public key",
    );
    // The evidence key alone: genuine-key evidence, no approver's signature, a program told to
    // require none: the pack refuses it.
    expect(unapproved.code).to.not.equal(0);
    expect(text(unapproved)).to.not.contain("production refuses");
    expect(text(unapproved)).to.contain(
      "promotion evidence carries 0 verifying signed approvals from distinct approvers; the policy config requires 1 (minApprovals)",
    );
    expect(text(unapproved)).to.not.contain("does not verify under the configured public key");
    expect(r.productionVersionAfter).to.equal("1.1.0");
    await suite.productionRuns("1.1.0");
  });

  it("5. aborts the error-prone version as a canary on 10 % of production; the stable never changed", async function () {
    const before = await productionDeployment();
    const r = await stories.canaryAbortStory(VERSIONS.errorProne);
    expect(r.decision?.decision).to.equal("promote");
    const promote = r.runs[r.runs.length - 1];
    expect(promote.code, promote.stderr).to.equal(5);
    // At its first step, the 10 % one (see canary.test.ts).
    expect(promote.stderr).to.match(/the canary of 1\.4\.0 was aborted at its 10 % step \(fail\)/);
    expect(r.productionVersionAfter).to.equal("1.1.0");
    const after = await productionDeployment();
    expect(after.spec.template).to.deep.equal(before.spec.template);
    expect(after.metadata.annotations?.["churn-model/promotion-evidence"]).to.equal(
      before.metadata.annotations?.["churn-model/promotion-evidence"],
    );
    const config = await productionConfig();
    expect(config).to.not.have.property("churn-model:canary");
    const record = JSON.parse(config["churn-model:canaryRecord"]) as {
      record: { modelVersion: string; canary: { aborted?: { cause: string } } };
    };
    expect(record.record.modelVersion).to.equal("1.4.0");
    expect(record.record.canary.aborted?.cause).to.equal("fail");
    expect(r.ok).to.equal(true);
  });

  it("rolls the error-prone version promoted all at once back by itself when production traffic breaks it", async function () {
    const r = await stories.rollbackStory(VERSIONS.errorProne, 6);
    expect(r.decision?.decision).to.equal("promote");
    const promote = r.runs[r.runs.length - 1];
    expect(promote.code).to.equal(5);
    expect(promote.stderr).to.match(/error rate .* exceeds 0\.01/);
    expect(promote.stderr).to.contain("rolled back to 1.1.0");
    expect(r.productionVersionAfter).to.equal("1.1.0");
    const config = await productionConfig();
    const evidence = parseSignedEvidence(config["churn-model:promotionEvidence"]);
    expect(evidence.record.kind).to.equal("rollback");
    expect(evidence.record.rollbackOf?.record.modelVersion).to.equal("1.1.0");
  });

  it("lets one of two promotions started at once win; the other fails clearly and changes nothing", async function () {
    const deploy = await stories.deployStaging(VERSIONS.improved);
    expect(deploy.code).to.equal(0);
    await stories.soak(VERSIONS.improved);
    // Both promotions take one approval of the decision now.
    const approval = (await stories.approve(VERSIONS.improved)).file;
    expect(approval).to.be.a("string");
    const [a, b] = await Promise.all([
      stories.promote(VERSIONS.improved, [], {}, { approval }),
      stories.promote(VERSIONS.improved, [], {}, { approval }),
    ]);
    const codes = [a.run.code, b.run.code].sort();
    expect(codes).to.deep.equal([0, 2]);
    const loser = a.run.code === 2 ? a.run : b.run;
    expect(loser.stderr).to.match(/another (promotion|update) of production is (running|in progress)/);
    const config = await productionConfig();
    expect(config["churn-model:modelVersion"]).to.equal("1.1.0");
    expect(parseSignedEvidence(config["churn-model:promotionEvidence"]).record.kind).to.equal("promotion");
    expect(lockHeld(promotionLockDir({ env: sandboxEnv(s) }, "production"))).to.equal(false);
  });

  it("recovers when the promotion is killed during the production update and is run again", async function () {
    const env = processEnv({ ...process.env, ...sandboxEnv(s) });
    const approval = (await stories.approve(VERSIONS.improved)).file!;
    const args = [
      "-r",
      require.resolve("ts-node/register/transpile-only"),
      path.join(REPO_ROOT, "scripts", "promote.ts"),
      "--model-version",
      VERSIONS.improved,
      "--window",
      "1h",
      "--approval",
      approval,
      "--bake",
      "20s",
    ];
    const child: ChildProcess = spawn(process.execPath, args, {
      cwd: s.projectDir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the update never started:\n${stderr}`)), 300_000);
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        // Killed once the engine is updating production's resources.
        if (
          /updating|Updating \(production\)|~ {2}kubernetes:apps\/v1:Deployment/i.test(stderr) &&
          /pulumi up on stack production/.test(stderr)
        ) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    expect(isAlive(child.pid!)).to.equal(false);
    expect(lockHeld(promotionLockDir({ env: sandboxEnv(s) }, "production"))).to.equal(true);

    const again = await stories.promote(VERSIONS.improved);
    expect(again.run.code, again.run.stderr).to.equal(0);
    expect(again.run.stderr).to.contain("recovering production");
    expect(lockHeld(promotionLockDir({ env: sandboxEnv(s) }, "production"))).to.equal(false);
    const stack = await selectStack("production", { projectDir: s.projectDir, env: sandboxEnv(s) });
    const state = await stack.exportStack();
    expect(state.deployment.pending_operations ?? []).to.deep.equal([]);
    await suite.productionRuns("1.1.0");
  });

  it("promotes a digest-pinned version end to end: staging and production run it by that digest", async function () {
    // The sandbox registry holds 1.1.0's build under this digest (scripts/sandbox/artifact.ts):
    // a version that is only a digest is deployed, measured under its label, gated and promoted.
    const digest = sandboxArtifact(`${SANDBOX_REGISTRY}/churn-model:${VERSIONS.improved}`).digest;
    const deploy = await stories.deployStaging(digest);
    expect(deploy.code, deploy.stderr).to.equal(0);
    await stories.soak(digest);
    const { run, decision } = await stories.promote(digest, ["--strategy", "all-at-once"]);
    expect(run.code, run.stderr).to.equal(0);
    expect(decision?.decision).to.equal("promote");
    expect(await suite.productionRuns(digest)).to.equal(`${SANDBOX_REGISTRY}/churn-model@${digest}`);
  });

  it("renders the report with every story, the charts and the production history", async function () {
    const html = renderReport({
      startedAt: new Date(Date.now() - 60_000),
      finishedAt: new Date(),
      thresholds: stories.thresholds,
      stories: stories.results,
      charts: [],
      history: [],
    });
    for (const r of stories.results) expect(html).to.contain(r.title.replace(/&/g, "&amp;"));
    expect(html).to.not.match(/<script|https?:\/\//);
    expect(stories.results.filter((r) => !r.ok).map((r) => r.title)).to.deep.equal([]);
  });
});
