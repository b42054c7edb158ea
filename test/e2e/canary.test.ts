/**
 * Canary promotions end to end on ONE sandbox (real engine, policy pack, control plane,
 * Prometheus, traffic), started once and reused by every case: production's stable is the
 * baseline 1.0.0 (promoted all at once in `before`, a canary needs a stable to be compared
 * with), then
 * - the error-prone 1.4.0 meets 10 % of production and is aborted on error rate: exit 5, the
 *   stable never changed, a signed abort record, the canary removed;
 * - 1.4.0 again while production has no traffic: aborted as inconclusive at the step's maximum;
 * - 1.1.0 SIGKILLed during its first step's analysis: the next run recovers production to
 *   the stable only (the canary removed, nothing pending), and then
 * - takes 1.1.0 through every step: the stable becomes 1.1.0, with evidence that carries the
 *   passed steps; `history` shows each step and its verdict.
 * Sizes: production runs 10 pods (PRODUCTION_REPLICAS), so the 10 % step is 1 canary beside 9
 * stable pods; the steps are policy/config/sandbox-production.json's.
 */
import { expect } from "chai";
import * as crypto from "crypto";
import { Stories } from "../../scripts/demo/stories";
import { canonicalJson, parseSignedEvidence } from "../../scripts/promotion/evidence";
import { lockHeld } from "../../scripts/promotion/lock";
import { selectStack } from "../../scripts/promotion/engine";
import { promotionLockDir } from "../../scripts/promotion/rollout";
import type { SignedCanaryRecord } from "../../scripts/promotion/canary/promote";
import { demoPublicKey, PRODUCTION_REPLICAS, sandboxEnv, SandboxState } from "../../scripts/sandbox/cli";
import { VERSIONS } from "../../scripts/sandbox/driver";
import { processEnv } from "../../scripts/toolchain/env";
import { promoteAndKill } from "../helpers/killed-promotion";
import { sandboxSuite } from "../helpers/sandbox-suite";

/** Production's traffic: enough that a 10 % canary bounds its p99 within the step (docs/canary.md). */
const PRODUCTION_RATE = 30;

describe("canary promotions on the sandbox (e2e)", function () {
  this.timeout(40 * 60_000);
  const suite = sandboxSuite("churn-e2e-canary-", 120, {
    bake: "10s",
    trafficRate: 15,
    productionTrafficRate: PRODUCTION_RATE,
  });
  let s: SandboxState;
  let stories: Stories;
  const lockDir = () => promotionLockDir({ projectDir: s.projectDir, env: sandboxEnv(s) }, "production");

  /** What must not change while a canary runs or is aborted: the stable's pod, version and evidence. */
  async function stable(): Promise<string> {
    const d = (await suite.productionDeployment()) as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { template: unknown };
    };
    return JSON.stringify({
      template: d.spec.template,
      version: d.metadata.annotations["churn-model/model-version"],
      evidence: d.metadata.annotations["churn-model/promotion-evidence"],
    });
  }

  /** The signed canary record in production's stack config, its signature checked with the evidence key. */
  async function canaryRecord(): Promise<SignedCanaryRecord["record"]> {
    const raw = (await suite.productionConfig())["churn-model:canaryRecord"];
    expect(raw, "churn-model:canaryRecord").to.be.a("string");
    const signed = JSON.parse(raw) as SignedCanaryRecord;
    const ok = crypto.verify(
      null,
      Buffer.from(canonicalJson(signed.record), "utf8"),
      crypto.createPublicKey(demoPublicKey()),
      Buffer.from(signed.signature, "base64"),
    );
    expect(ok, "the canary record's signature (evidence key)").to.equal(true);
    return signed.record;
  }

  async function promoteCanary(version: string) {
    return stories.promote(version, ["--strategy", "canary"]);
  }

  async function throughStaging(version: string): Promise<void> {
    const deploy = await stories.deployStaging(version);
    expect(deploy.code, deploy.stderr).to.equal(0);
    await stories.soak(version);
  }

  async function history(): Promise<string> {
    const h = await stories.runCli("promote", ["history"]);
    expect(h.code, h.stderr).to.equal(0);
    return h.stdout;
  }

  before(async function () {
    await suite.up();
    s = suite.s;
    stories = suite.stories;
    // The first version has no stable to be compared with: all at once.
    const first = await stories.promoteStory(1, VERSIONS.baseline, "baseline", "all-at-once");
    expect(first.ok, first.runs.map((r) => r.stderr).join("\n")).to.equal(true);
    await suite.productionRuns(VERSIONS.baseline);
    await throughStaging(VERSIONS.errorProne);
  });

  after(() => suite.down());

  afterEach(function () {
    suite.printLogIfFailed(this.currentTest);
  });

  it("aborts the error-prone 1.4.0 at a canary step on error rate before the stable moves: exit 5, stable unchanged, signed abort record, canary removed", async function () {
    const before = await stable();
    const { run } = await promoteCanary(VERSIONS.errorProne);
    expect(run.code, run.stderr).to.equal(5);
    // At its first step: the canary answers about a tenth of the predictions (the sandbox's
    // proxy draws a backend per request), ~8 % of which fail; a rotation once sent it only
    // feedback requests and 1.4.0 passed every step.
    const at = /the canary of 1\.4\.0 was aborted at its (\d+) % step \(fail\)/.exec(run.stderr);
    expect(at, run.stderr).to.not.equal(null);
    expect(Number(at![1]), "the step that aborted 1.4.0").to.equal(10);
    expect(await stable()).to.equal(before);
    await suite.productionRuns(VERSIONS.baseline);
    expect(await suite.canaryDeployment()).to.equal(null);
    const config = await suite.productionConfig();
    expect(config).to.not.have.property("churn-model:canary");
    const record = await canaryRecord();
    expect(record).to.include({ kind: "canary", modelVersion: "1.4.0", approver: "demo-approver" });
    expect(record.canary.stableVersion).to.equal("1.0.0");
    expect(record.canary.aborted?.cause).to.equal("fail");
    const steps = record.canary.steps;
    expect([steps[0].weight, steps[0].canaryReplicas, steps[0].stableReplicas]).to.deep.equal([
      10,
      1,
      PRODUCTION_REPLICAS.min - 1,
    ]);
    const last = steps[steps.length - 1];
    expect(last.weight).to.equal(Number(at![1]));
    expect(steps.map((x) => x.verdict)).to.deep.equal([...steps.slice(0, -1).map(() => "pass"), "fail"]);
    const errorRate = last.checks.find((c) => c.name === "error_rate")!;
    expect(errorRate.status).to.equal("fail");
    expect(errorRate.canary).to.be.greaterThan(errorRate.stable!);
    console.log(
      `      1.4.0 canary error rate ${errorRate.canary?.toFixed(4)} vs stable ${errorRate.stable?.toFixed(4)}, ` +
        `difference in [${errorRate.worseBy?.lower?.toFixed(4)}, ${errorRate.worseBy?.upper?.toFixed(4)}], ` +
        `margin ${errorRate.margin}; aborted at the ${last.weight} % step; ${(run.ms / 1000).toFixed(0)} s`,
    );
    const h = await history();
    expect(h).to.contain(`canary 1.4.0 at ${last.weight} %: fail`);
    expect(h).to.contain("canary walk of 1.4.0 against 1.0.0: aborted (fail)");
  });

  it("aborts a canary as inconclusive when production has no traffic to judge it by", async function () {
    const before = await stable();
    await stories.stopProductionTraffic();
    let staged: Promise<void> | undefined;
    try {
      const promotion = promoteCanary(VERSIONS.errorProne);
      // Once the canary runs, staging is no longer read: stage the next candidate meanwhile.
      for (;;) {
        if ((await suite.canaryDeployment()) !== null) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      staged = throughStaging(VERSIONS.improved);
      const { run } = await promotion;
      expect(run.code, run.stderr).to.equal(5);
      expect(run.stderr).to.match(/aborted at its 10 % step \(inconclusive\)/);
    } finally {
      stories.startProductionTraffic();
      await staged;
    }
    expect(await stable()).to.equal(before);
    expect(await suite.canaryDeployment()).to.equal(null);
    const record = await canaryRecord();
    expect(record.modelVersion).to.equal("1.4.0");
    expect(record.canary.aborted?.cause).to.equal("inconclusive");
    expect(record.canary.steps.map((x) => x.verdict)).to.deep.equal(["inconclusive"]);
  });

  let recoveryRun: Awaited<ReturnType<typeof promoteCanary>> | undefined;

  it("recovers a promotion SIGKILLed during a canary step to the stable only, on the next run", async function () {
    const before = await stable();
    const approval = (await stories.approve(VERSIONS.improved)).file!;
    // The kill point: the canary's pods are ready and its step's update has ended (no engine
    // session in the journal): the first step's analysis is running.
    let canaryReady = false;
    let polling = true;
    const poll = (async () => {
      while (polling && !canaryReady) {
        canaryReady = ((await suite.canaryDeployment().catch(() => null))?.status.readyReplicas ?? 0) >= 1;
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const killed = await promoteAndKill({
      cwd: s.projectDir,
      env: processEnv({ ...process.env, ...sandboxEnv(s) }),
      args: [...stories.promoteArgs(VERSIONS.improved, "10s", approval), "--strategy", "canary"],
      lockDir: lockDir(),
      point: {
        name: "the first canary step's analysis",
        reached: (j) =>
          canaryReady && j?.phase === "updating" && j.target === "1.1.0" && j.sessions.length === 0,
      },
    }).finally(() => {
      polling = false;
    });
    await poll;
    expect(killed.stderr).to.contain("canary 1.1.0 at 10 %");
    expect(lockHeld(lockDir())).to.equal(true);
    expect(await suite.canaryDeployment()).to.not.equal(null);
    // Killed mid-step, production runs the canary beside a stable whose pod never changed.
    expect(await stable()).to.equal(before);

    // The next run recovers first: production returns to its stable, the canary removed.
    recoveryRun = await promoteCanary(VERSIONS.improved);
    const run = recoveryRun.run;
    expect(run.stderr).to.contain("recovering production");
    expect(lockHeld(lockDir())).to.equal(false);
    const stack = await selectStack("production", { projectDir: s.projectDir, env: sandboxEnv(s) });
    expect((await stack.exportStack()).deployment.pending_operations ?? []).to.deep.equal([]);
    // The engine's update log, newest first: the killed step is the oldest update with a canary
    // of 1.1.0, and the update right after it is the recovery's, which ran the stable only.
    // (Refreshes are in the log too: the recovery refreshes before it updates.)
    const updates = (await stack.history()).filter((u) => u.kind === "update");
    const canaryOf = (i: number) => updates[i].config?.["churn-model:canary"]?.value;
    let killedStep = -1;
    for (let i = updates.length - 1; i >= 0; i--) {
      if (
        canaryOf(i) !== undefined &&
        (JSON.parse(canaryOf(i)!) as { version: string }).version === "1.1.0"
      ) {
        killedStep = i;
        break;
      }
    }
    expect(killedStep, "the killed step's update").to.be.greaterThan(0);
    const recovered = updates[killedStep - 1].config!;
    expect(recovered, "the recovery's update runs no canary").to.not.have.property("churn-model:canary");
    expect(recovered["churn-model:modelVersion"].value).to.equal("1.0.0");
    expect(parseSignedEvidence(recovered["churn-model:promotionEvidence"].value).record).to.include({
      kind: "rollback",
      modelVersion: "1.0.0",
    });
    const h = await history();
    expect(h).to.contain("canary 1.1.0 at 10 %: no verdict");
  });

  it("then takes 1.1.0 through every canary step: the stable becomes 1.1.0 with the passed steps in its evidence", async function () {
    expect(recoveryRun, "the run after the kill").to.not.equal(undefined);
    const run = recoveryRun!.run;
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.contain("Canary of 1.1.0 passed every step");
    const image = await suite.productionRuns(VERSIONS.improved);
    expect(image).to.match(/churn-model:1\.1\.0@sha256:/);
    expect(await suite.canaryDeployment()).to.equal(null);
    const d = await suite.productionDeployment();
    const evidence = parseSignedEvidence(d.metadata.annotations!["churn-model/promotion-evidence"]);
    expect(evidence.record.canary?.stableVersion).to.equal("1.0.0");
    expect(evidence.record.canary?.aborted).to.equal(undefined);
    expect(evidence.record.canary?.steps.map((x) => [x.weight, x.verdict])).to.deep.equal([
      [10, "pass"],
      [50, "pass"],
    ]);
    const record = await canaryRecord();
    expect(record.modelVersion).to.equal("1.1.0");
    for (const step of record.canary.steps) {
      const e = step.checks.find((c) => c.name === "error_rate")!;
      console.log(
        `      1.1.0 step ${step.weight} %: ${step.verdict}, error rate canary ${e.canary?.toFixed(4)} vs stable ` +
          `${e.stable?.toFixed(4)} (${step.window.start} → ${step.window.end})`,
      );
    }
    const h = await history();
    expect(h).to.contain("canary 1.1.0 at 10 %: pass");
    expect(h).to.contain("canary 1.1.0 at 50 %: pass");
    expect(h).to.contain("canary walk of 1.1.0 against 1.0.0: passed");
    console.log(`      recovery and canary promotion of 1.1.0: ${(run.ms / 1000).toFixed(0)} s`);
  });
});
