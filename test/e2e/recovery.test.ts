/**
 * Kill tests on the sandbox (real engine, control plane, Prometheus, traffic): a promotion
 * SIGKILLed while production verifies the candidate, and one SIGKILLed during its own
 * rollback's `pulumi up`. Each is followed by a dry run (it reports the pending recovery and
 * changes nothing) and by a promotion the gate rejects (a freshly staged version short of its
 * soak; it recovers production first:
 * production runs the last good version, verified, nothing pending, the lock free). The third
 * kills one with the journal kept in the backend (the stack's tags, as with a cloud backend)
 * and deletes the killed run's lock directory, as a lost CI runner takes its checkout with it.
 * The fourth kills one during the candidate's own `pulumi up`, with the same follow-up.
 */
import { expect } from "chai";
import * as fs from "fs";
import { Stories } from "../../scripts/demo/stories";
import { VERSIONS } from "../../scripts/sandbox/driver";
import { selectStack } from "../../scripts/promotion/engine";
import { parseSignedEvidence } from "../../scripts/promotion/evidence";
import { BackendJournal, decodeJournalTags } from "../../scripts/promotion/backend-journal";
import { Journal, lockHeld, pendingRecovery, readLatest } from "../../scripts/promotion/lock";
import { sessionMembers } from "../../scripts/promotion/processes";
import { engineLocks, promotionLockDir } from "../../scripts/promotion/rollout";
import { sandboxEnv, SandboxState } from "../../scripts/sandbox/cli";
import { processEnv } from "../../scripts/toolchain/env";
import {
  DURING_VERIFICATION,
  duringCandidateUpdate,
  duringRollbackUpdate,
  KillPoint,
  promoteAndKill,
} from "../helpers/killed-promotion";
import { sandboxSuite } from "../helpers/sandbox-suite";

describe("a promotion killed during the update, verification or rollback, on the sandbox (e2e)", function () {
  this.timeout(60 * 60_000);
  const suite = sandboxSuite("churn-e2e-recovery-", 120);
  const productionConfig = () => suite.productionConfig();
  let s: SandboxState;
  let stories: Stories;
  const lockDir = () => promotionLockDir({ projectDir: s.projectDir, env: sandboxEnv(s) }, "production");

  async function pendingOperations(): Promise<unknown[]> {
    const stack = await selectStack("production", { projectDir: s.projectDir, env: sandboxEnv(s) });
    return (await stack.exportStack()).deployment.pending_operations ?? [];
  }

  /** Staging runs `version` long enough for the gate. */
  async function throughStaging(version: string): Promise<void> {
    const deploy = await stories.deployStaging(version);
    expect(deploy.code, deploy.stderr).to.equal(0);
    await stories.soak(version);
  }

  /** The lock directory's files; none when it is gone (a runner whose checkout was lost). */
  const lockFiles = () => (fs.existsSync(lockDir()) ? fs.readdirSync(lockDir()).sort() : []);

  /**
   * Promotes staging's `version`, approved by demo-approver, and kills it at `point`, with a
   * bake long enough never to end by itself.
   */
  async function killAt(
    version: string,
    point: KillPoint,
    env: Record<string, string> = {},
  ): ReturnType<typeof promoteAndKill> {
    const approval = await stories.approve(version);
    expect(approval.file, approval.run?.stderr).to.be.a("string");
    return promoteAndKill({
      cwd: s.projectDir,
      env: processEnv({ ...process.env, ...sandboxEnv(s), ...env }),
      args: stories.promoteArgs(version, "1h", approval.file),
      lockDir: lockDir(),
      point,
    });
  }

  /**
   * After the kill: a dry run reports the pending recovery and changes nothing; then a
   * promotion the gate rejects (the regressed version, just deployed to staging, short of the
   * soak time) recovers production first and exits 3.
   */
  async function dryRunThenRejected(
    version: string,
    killed: Journal,
    env: Record<string, string> = {},
  ): Promise<string> {
    const filesBefore = lockFiles();
    const configBefore = await productionConfig();
    const dry = await stories.promote(version, ["--dry-run"], env);
    expect(dry.run.code, dry.run.stderr).to.equal(2);
    expect(dry.run.stderr).to.contain(
      `the promotion of ${killed.target} to production started ${killed.holder.startedAt}`,
    );
    expect(dry.run.stderr).to.contain(`ended during "${killed.phase}" without finishing`);
    expect(dry.run.stderr).to.contain("Recovery (roll-back) is pending");
    expect(lockFiles(), "the dry run leaves the lock alone").to.deep.equal(filesBefore);
    expect(await productionConfig(), "the dry run changes nothing").to.deep.equal(configBefore);

    // The gate's rejection: staging gets the accuracy-regressed version, promoted at once
    // (a promotion judges up to now; it takes no --at in the past).
    const deploy = await stories.deployStaging(VERSIONS.regressed);
    expect(deploy.code, deploy.stderr).to.equal(0);
    // No approval: the gate rejects it before one is asked for.
    const rejected = await stories.promote(VERSIONS.regressed, [], env, { approval: null });
    expect(rejected.run.code, rejected.run.stderr).to.equal(3);
    // Short of its soak, or (when the recovery before the gate outlasted the soak) its accuracy.
    const failed = (rejected.decision?.checks ?? []).filter((c) => !c.passed).map((c) => c.name);
    expect(
      failed.filter((name) => name === "soak_time" || name === "accuracy"),
      failed.join(", "),
    ).to.have.length.greaterThan(0);
    return rejected.run.stderr;
  }

  /** Production is back on `good`, verified, with rollback evidence; nothing pending, the lock free. */
  async function expectRecoveredTo(good: string, killed: Journal, stderr: string): Promise<void> {
    expect(stderr).to.contain(`ended during "${killed.phase}" without finishing`);
    expect(stderr).to.contain(`recovering production: returning to ${good}, the version it ran before`);
    expect(stderr).to.contain(`recovered production: it runs ${good} again, verified healthy`);
    await suite.productionRuns(good);
    const config = await productionConfig();
    expect(config["churn-model:modelVersion"]).to.equal(good);
    const evidence = parseSignedEvidence(config["churn-model:promotionEvidence"]);
    expect(evidence.record.kind).to.equal("rollback");
    expect(evidence.record.modelVersion).to.equal(good);
    expect(await pendingOperations()).to.deep.equal([]);
    expect(engineLocks({ env: sandboxEnv(s) }, "production")).to.deep.equal([]);
    expect(sessionMembers(killed.sessions), "nothing of the killed promotion still runs").to.deep.equal([]);
    expect(lockHeld(lockDir())).to.equal(false);
    expect(pendingRecovery(lockDir())).to.equal(undefined);
    expect(readLatest(lockDir())?.tookOverFrom).to.equal(killed.generation);
  }

  /** The promotion journal in the production stack's tags (backend-journal.ts). */
  async function backendJournalOf(): Promise<BackendJournal | undefined> {
    const stack = await selectStack("production", { projectDir: s.projectDir, env: sandboxEnv(s) });
    return decodeJournalTags(await stack.listTags(), "production");
  }

  before(async function () {
    await suite.up();
    s = suite.s;
    stories = suite.stories;
    const first = await stories.promoteStory(1, VERSIONS.baseline, "baseline");
    expect(
      first.runs.map((r) => r.code),
      first.runs.map((r) => r.stderr).join("\n"),
    ).to.deep.equal([0, 0, 0]);
  });

  after(() => suite.down());

  afterEach(function () {
    suite.printLogIfFailed(this.currentTest);
  });

  it("killed while production verifies the candidate: a dry run reports it, the next promotion returns production to the last good version", async function () {
    await throughStaging(VERSIONS.improved);
    const killed = await killAt(VERSIONS.improved, DURING_VERIFICATION);
    expect(killed.journal).to.deep.include({ phase: "verifying", target: VERSIONS.improved });
    expect(killed.journal.previousConfig?.["churn-model:modelVersion"]).to.equal(VERSIONS.baseline);
    expect((await productionConfig())["churn-model:modelVersion"]).to.equal(VERSIONS.improved);
    await suite.productionRuns("1.1.0");

    const stderr = await dryRunThenRejected(VERSIONS.improved, killed.journal);
    await expectRecoveredTo(VERSIONS.baseline, killed.journal, stderr);
  });

  it("killed during its own rollback's pulumi up: a dry run reports it, the next promotion finishes the rollback", async function () {
    await throughStaging(VERSIONS.errorProne);
    const engineLocked = () => engineLocks({ env: sandboxEnv(s) }, "production").length > 0;
    const killed = await killAt(VERSIONS.errorProne, duringRollbackUpdate(engineLocked));
    expect(killed.stderr).to.match(/error rate .* exceeds 0\.01/);
    expect(killed.stderr).to.contain(`Rolling production back to ${VERSIONS.baseline}`);
    expect(killed.journal).to.deep.include({ phase: "rolling-back", target: VERSIONS.baseline });
    expect(killed.journal.previousConfig?.["churn-model:modelVersion"]).to.equal(VERSIONS.baseline);
    expect(engineLocked(), "the killed update left the engine's lock").to.equal(true);

    const stderr = await dryRunThenRejected(VERSIONS.errorProne, killed.journal);
    expect(stderr).to.contain("recovering production: cleared the engine lock the interrupted update left");
    await expectRecoveredTo(VERSIONS.baseline, killed.journal, stderr);
  });

  // It redeploys 1.1.0 to staging, which ran it before: the gate measures the new deployment only.
  it("killed while production verifies, and the runner's files lost with it: the next runner recovers from the journal in the backend", async function () {
    // As with a cloud backend: the lock directory is the runner's, the journal is also in the stack's tags.
    const env = { CHURN_PROMOTION_JOURNAL: "backend" };
    process.env.CHURN_PROMOTION_JOURNAL = "backend";
    try {
      await throughStaging(VERSIONS.improved);
      const killed = await killAt(VERSIONS.improved, DURING_VERIFICATION, env);
      expect(killed.journal).to.deep.include({ phase: "verifying", target: VERSIONS.improved });
      const inBackend = await backendJournalOf();
      expect(inBackend, "the backend holds the journal").to.not.equal(undefined);
      expect(inBackend).to.deep.include({
        state: "held",
        generation: killed.journal.generation,
        target: VERSIONS.improved,
        from: VERSIONS.baseline,
      });
      expect(inBackend!.holder).to.deep.equal(killed.journal.holder);
      expect(["updating", "verifying"]).to.include(inBackend!.phase);

      fs.rmSync(lockDir(), { recursive: true, force: true });
      const seen: Journal = { ...killed.journal, phase: inBackend!.phase };
      const stderr = await dryRunThenRejected(VERSIONS.improved, seen, env);
      await expectRecoveredTo(VERSIONS.baseline, seen, stderr);
      const after = await backendJournalOf();
      expect(after).to.deep.include({ state: "released", phase: "locked" });
      expect(after!.generation).to.equal(killed.journal.generation + 1);
    } finally {
      delete process.env.CHURN_PROMOTION_JOURNAL;
    }
  });

  it("killed during the candidate's own pulumi up: a dry run reports it, the next promotion returns production to the last good version", async function () {
    await throughStaging(VERSIONS.improved);
    const engineLocked = () => engineLocks({ env: sandboxEnv(s) }, "production").length > 0;
    const killed = await killAt(VERSIONS.improved, duringCandidateUpdate(engineLocked));
    expect(killed.journal).to.deep.include({ phase: "updating", target: VERSIONS.improved });
    expect(killed.journal.previousConfig?.["churn-model:modelVersion"]).to.equal(VERSIONS.baseline);
    expect(engineLocked(), "the killed update left the engine's lock").to.equal(true);

    const stderr = await dryRunThenRejected(VERSIONS.improved, killed.journal);
    expect(stderr).to.contain("recovering production: cleared the engine lock the interrupted update left");
    await expectRecoveredTo(VERSIONS.baseline, killed.journal, stderr);
  });
});
