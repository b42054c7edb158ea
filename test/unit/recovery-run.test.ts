/**
 * How a failed engine step of a recovery becomes an exit code: a table over the step, whether
 * it started, and what the engine said; and what of the engine's output the message keeps.
 */
import { TEST_TARGET } from "../fixtures/evidence-records";
import { assert, expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { PrepareOptions } from "../../scripts/promotion/deployer";
import {
  BadInput,
  CdError,
  ConcurrentUpdate,
  DependencyUnavailable,
  exitCodeOf,
  HumanNeeded,
} from "../../scripts/promotion/errors";
import { acquirePromotionLock, generationFile, Journal, pendingRecovery } from "../../scripts/promotion/lock";
import { bootId } from "../../scripts/promotion/processes";
import { planRecovery } from "../../scripts/promotion/recovery";
import {
  carryOutRecovery,
  engineFailure,
  recoveryStepError,
  RecoveryStep,
  ranBefore,
  resolveRecovery,
} from "../../scripts/promotion/recovery-run";
import type { ProductionStack } from "../../scripts/promotion/production-stack";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import { earlierPromotionRecord } from "../fixtures/evidence-records";
import { deadHolderJournal } from "../fixtures/journals";

/** The shape of the Automation API's CommandError message: exit code, then the whole output. */
function commandError(...lines: string[]): Error {
  return new Error(["code: 255", " stdout: ", ...lines, "", " stderr: ", " err?: "].join("\n"));
}

const UNREACHABLE = commandError(
  "Refreshing (production):",
  "    warning: configured Kubernetes cluster is unreachable: no configuration has been provided",
  "    error: failed to read resource state due to unreachable cluster.",
  "    error: failed to read resource state due to unreachable cluster.",
  "Resources:",
  "    8 errored",
);
const LOCKED = commandError(
  "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
);
const NO_BACKEND = new Error("spawn /opt/pulumi/bin/pulumi ENOENT");

describe("a failed recovery step's exit code", function () {
  const interrupted = { phase: "verifying" as const, target: "1.1.0" };
  const rows: [string, RecoveryStep, boolean, Error, new (m: string) => CdError, number, RegExp][] = [
    [
      "a refresh that started and could not read the cluster: production is unknown",
      "refresh",
      true,
      UNREACHABLE,
      HumanNeeded,
      6,
      /^recovering production: the refresh of its state failed: failed to read resource state due to unreachable cluster\. What production runs is unknown \(the promotion of 1\.1\.0 was interrupted during "verifying"\): a person must look at it now; the recovery .* stays pending/,
    ],
    [
      "a refresh that never started (the engine could not run)",
      "refresh",
      false,
      NO_BACKEND,
      DependencyUnavailable,
      2,
      /^recovering production: the refresh of its state did not start: spawn \/opt\/pulumi\/bin\/pulumi ENOENT\. Nothing was changed; the recovery of the promotion of 1\.1\.0 interrupted during "verifying" stays pending/,
    ],
    [
      "a refresh refused because another update holds the stack, even if history moved",
      "refresh",
      true,
      LOCKED,
      ConcurrentUpdate,
      2,
      /^recovering production: the refresh of its state did not start: another update of production is in progress\. Nothing was changed/,
    ],
    [
      "a cancel that failed (it changes nothing unless it succeeds)",
      "cancel",
      false,
      NO_BACKEND,
      DependencyUnavailable,
      2,
      /^recovering production: clearing the engine's lock did not start: spawn .* ENOENT\. Nothing was changed/,
    ],
  ];
  for (const [name, step, started, err, type, code, message] of rows) {
    it(`${name} → exit ${code}`, function () {
      const e = recoveryStepError({ stack: "production", step, interrupted, started, err });
      expect(e).to.be.instanceOf(type);
      expect(exitCodeOf(e)).to.equal(code);
      expect(e.message).to.match(message);
    });
  }

  it("tells a person how to clear a killed update's lock when the stack is locked, and still exits 2", function () {
    const holder = {
      host: "runner-7",
      bootId: "b",
      pid: 4242,
      startTime: 1,
      startedAt: "2026-12-01T09:00:00.000Z",
      nonce: "n",
    };
    for (const step of ["refresh", "cancel"] as const) {
      const e = recoveryStepError({
        stack: "acme/production",
        step,
        interrupted: { phase: "updating", target: "1.1.0", holder },
        started: false,
        err: LOCKED,
      });
      expect(e).to.be.instanceOf(ConcurrentUpdate);
      expect(exitCodeOf(e)).to.equal(2);
      expect(e.message).to.contain(
        "If the update in progress is the one the interrupted promotion (host runner-7, pid 4242, started " +
          '2026-12-01T09:00:00.000Z) left behind when it was killed during "updating"',
      );
      expect(e.message).to.contain(
        "a person must first confirm that it is that promotion's update (the backend's update list: who started it, when, from where)",
      );
      expect(e.message).to.contain(
        "then run `pulumi cancel --stack acme/production` and run the promotion again",
      );
      expect(e.message).to.match(/Never cancel an update that could be live$/);
    }
    const anonymous = recoveryStepError({
      stack: "production",
      step: "refresh",
      interrupted: { phase: "rolling-back", target: "1.0.0" },
      started: true,
      err: LOCKED,
    });
    expect(exitCodeOf(anonymous)).to.equal(2);
    expect(anonymous.message).to.contain(
      'the one the interrupted promotion left behind when it was killed during "rolling-back"',
    );
  });

  it("gives no such hint when the engine failed for another reason", function () {
    const e = recoveryStepError({
      stack: "production",
      step: "refresh",
      interrupted: { phase: "updating", target: "1.1.0" },
      started: true,
      err: UNREACHABLE,
    });
    expect(e.message).to.not.contain("pulumi cancel");
  });

  it("names an unknown target as such", function () {
    const e = recoveryStepError({
      stack: "production",
      step: "refresh",
      interrupted: { phase: "updating", target: undefined },
      started: true,
      err: UNREACHABLE,
    });
    expect(e.message).to.contain('the promotion of a version was interrupted during "updating"');
  });
});

describe("the engine's failure in a message", function () {
  it("keeps its distinct error lines, at most two", function () {
    expect(engineFailure(UNREACHABLE)).to.equal("failed to read resource state due to unreachable cluster.");
    expect(engineFailure(commandError("error: a", "error: b", "error: c"))).to.equal("a; b");
    expect(engineFailure(commandError("error: update failed", "    error: the cause"))).to.equal("the cause");
  });

  it("falls back to the first line when the engine printed no error line", function () {
    expect(engineFailure(NO_BACKEND)).to.equal("spawn /opt/pulumi/bin/pulumi ENOENT");
    expect(engineFailure("plain text\nmore")).to.equal("plain text");
  });
});

const THRESHOLDS = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, "..", "fixtures", "thresholds", "production.json"), "utf8"),
)["promotion-evidence"] as Thresholds;
const PREVIOUS_EVIDENCE = JSON.stringify(
  signEvidence(
    earlierPromotionRecord({
      image: "registry.internal.example.com/ml/churn-model:1.0.0",
      thresholds: THRESHOLDS,
    }),
    generateEvidenceKeyPair().privateKeyPem,
  ),
);

/** When the interrupted promotion took the lock. */
const LOCKED_AT = "2026-01-02T10:00:00.000Z";

/** The engine's record of production's update that ran 1.0.0 with PREVIOUS_EVIDENCE. */
const RAN_PREVIOUS = {
  kind: "update",
  result: "succeeded",
  startTime: new Date("2026-01-01T09:00:00.000Z"),
  version: 1,
  config: {
    "churn-model:modelVersion": { value: "1.0.0", secret: false },
    "churn-model:promotionEvidence": { value: PREVIOUS_EVIDENCE, secret: false },
  },
};

describe("a recovery whose refresh fails, or that cannot sign", function () {
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-recovery-run-"));
    // A promotion of 1.1.0 over 1.0.0 whose holder died while production verified it.
    const stale: Journal = {
      generation: 1,
      stack: "production",
      holder: {
        host: os.hostname(),
        bootId: bootId(),
        pid: 2 ** 22 + 5,
        startTime: 1,
        startedAt: LOCKED_AT,
        nonce: "n",
      },
      state: "held",
      phase: "verifying",
      previousConfig: {
        "churn-model:modelVersion": "1.0.0",
        "churn-model:promotionEvidence": PREVIOUS_EVIDENCE,
      },
      target: "1.1.0",
      approver: "alice",
      sessions: [],
      updatedAt: "t",
    };
    fs.writeFileSync(generationFile(dir, 1), JSON.stringify(stale));
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the recovery against a stack whose refresh fails with `err`; `recorded` says whether history shows it. */
  async function recoverWith(
    err: Error,
    recorded: boolean,
    signRollback: PrepareOptions["signRollback"] = (e) => e,
  ): Promise<{ error: unknown; calls: string[] }> {
    const calls: string[] = [];
    const stack = {
      refresh: async () => {
        calls.push("refresh");
        throw err;
      },
      history: async () => [
        ...(recorded ? [{ kind: "refresh", startTime: new Date(), version: 2 }] : []),
        RAN_PREVIOUS,
      ],
      outputs: async () => ({}),
      setConfig: async () => void calls.push("setConfig"),
      removeConfig: async () => void calls.push("removeConfig"),
    } as unknown as ProductionStack;
    const held = acquirePromotionLock(dir, "production");
    const error = await carryOutRecovery(
      planRecovery(held.journal()),
      held,
      { readOnly: false, signRollback },
      {
        name: "production",
        stack: async () => stack,
        engineLocks: () => [],
        apply: async () => assert.fail("nothing is applied after a failed refresh"),
        verify: async () => assert.fail("nothing is verified after a failed refresh"),
        target: async () => TEST_TARGET,
        say: () => undefined,
      },
    ).catch((e: unknown) => e);
    held.abandon();
    return { error, calls };
  }

  it("exits 6 when it started (production cannot be read back), and stays pending", async function () {
    const { error, calls } = await recoverWith(UNREACHABLE, true);
    expect(error).to.be.instanceOf(HumanNeeded);
    expect(exitCodeOf(error)).to.equal(6);
    expect(calls).to.deep.equal(["refresh"]);
    expect(pendingRecovery(dir)).to.deep.include({ phase: "rolling-back", target: "1.0.0", tookOverFrom: 1 });
  });

  it("exits 2 when it never started, and stays pending", async function () {
    const { error, calls } = await recoverWith(NO_BACKEND, false);
    expect(error).to.be.instanceOf(DependencyUnavailable);
    expect(exitCodeOf(error)).to.equal(2);
    expect(calls).to.deep.equal(["refresh"]);
    expect(pendingRecovery(dir)?.phase).to.equal("rolling-back");
  });

  it("signs the rollback evidence before touching the stack: without a key it changes nothing (exit 2)", async function () {
    const { error, calls } = await recoverWith(UNREACHABLE, true, () => {
      throw new BadInput("CHURN_EVIDENCE_PRIVATE_KEY is not set");
    });
    expect(error).to.be.instanceOf(BadInput);
    expect(exitCodeOf(error)).to.equal(2);
    expect(calls, "no refresh, no cancel, no config").to.deep.equal([]);
    expect(pendingRecovery(dir)?.phase).to.equal("rolling-back");
  });
});

describe("a recovery's rollback target: the engine's history, not the journal", function () {
  const evidenceOf = (version: string, createdAt?: string) =>
    JSON.stringify(
      signEvidence(
        earlierPromotionRecord({
          modelVersion: version,
          image: `registry.internal.example.com/ml/churn-model:${version}`,
          thresholds: THRESHOLDS,
          ...(createdAt !== undefined ? { createdAt } : {}),
        }),
        generateEvidenceKeyPair().privateKeyPem,
      ),
    );
  const LAUNDERED = evidenceOf("1.0.0", "2025-01-01T00:00:00.000Z");
  const update = (version: string, evidence: string, startTime: string, result = "succeeded") => ({
    kind: "update",
    result,
    startTime: new Date(startTime),
    version: 0,
    config: {
      "churn-model:modelVersion": { value: version, secret: false },
      "churn-model:promotionEvidence": { value: evidence, secret: false },
    },
  });
  const EVIDENCE_110 = evidenceOf("1.1.0");
  const RAN_110 = update("1.1.0", EVIDENCE_110, "2026-01-02T08:00:00.000Z");
  const CANDIDATE = update("1.4.0", evidenceOf("1.4.0"), "2026-01-02T10:00:05.000Z");
  const rollBack = (version: string, evidenceJson: string) =>
    ({
      kind: "roll-back",
      sessions: [],
      version,
      evidenceJson,
      approver: "alice",
      interruptedPhase: "verifying",
    }) as const;
  const stackWith = (history: unknown[], revoked: string[] = []) =>
    ({
      history: async () => history,
      outputs: async () => ({
        promotionPosition: {
          value: { revoked: revoked.map((version, i) => ({ version, sequence: i + 1 })) },
          secret: false,
        },
      }),
    }) as unknown as Pick<ProductionStack, "history" | "outputs">;

  it("returns to what production last ran before the lock, with that update's evidence, whatever the journal says", async function () {
    const cases: [string, ReturnType<typeof rollBack>, string][] = [
      ["laundered evidence for the right version", rollBack("1.1.0", LAUNDERED), "with other evidence"],
      [
        "an older version the history did run",
        rollBack("1.0.0", PREVIOUS_EVIDENCE),
        "the journal names 1.0.0",
      ],
      [
        "the candidate itself",
        rollBack("1.4.0", CANDIDATE.config["churn-model:promotionEvidence"].value),
        "the journal names 1.4.0",
      ],
    ];
    for (const [what, plan, note] of cases) {
      const said: string[] = [];
      const got = await resolveRecovery(
        plan,
        stackWith([CANDIDATE, RAN_110, RAN_PREVIOUS]),
        LOCKED_AT,
        "production",
        (l) => said.push(l),
      );
      expect(got, what).to.deep.include({ kind: "roll-back", version: "1.1.0", evidenceJson: EVIDENCE_110 });
      expect(said.join("\n"), what).to.contain(note);
    }
  });

  it("skips the interrupted run's own updates, failed updates, updates without evidence and revoked versions", async function () {
    const history = [
      CANDIDATE,
      update("1.3.0", evidenceOf("1.3.0"), "2026-01-02T09:30:00.000Z", "failed"),
      { ...update("1.2.0", "", "2026-01-02T09:00:00.000Z") },
      RAN_110,
      RAN_PREVIOUS,
    ];
    expect(await ranBefore(stackWith(history), new Date(LOCKED_AT), "production")).to.deep.equal({
      version: "1.1.0",
      evidenceJson: EVIDENCE_110,
    });
    expect(await ranBefore(stackWith(history, ["1.1.0"]), new Date(LOCKED_AT), "production")).to.deep.equal({
      version: "1.0.0",
      evidenceJson: PREVIOUS_EVIDENCE,
    });
    expect(await ranBefore(stackWith([CANDIDATE]), new Date(LOCKED_AT), "production")).to.equal(undefined);
  });

  it("refuses a journal naming a version when the history ran none before the lock: exit 6, nothing touched", async function () {
    const error = await resolveRecovery(
      rollBack("1.0.0", PREVIOUS_EVIDENCE),
      stackWith([CANDIDATE]),
      LOCKED_AT,
      "production",
      () => undefined,
    ).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(HumanNeeded);
    expect(exitCodeOf(error)).to.equal(6);
    expect((error as Error).message).to.contain(
      "the engine's update history has no succeeded update with promotion evidence before 2026-01-02T10:00:00.000Z",
    );
  });

  it("keeps restoring the config of a first promotion, and rolls back instead when the history ran a version", async function () {
    const restore = {
      kind: "restore-config",
      sessions: [],
      previousConfig: { "churn-model:modelVersion": null },
      interruptedPhase: "updating",
    } as const;
    expect(
      await resolveRecovery(restore, stackWith([CANDIDATE]), LOCKED_AT, "production", () => undefined),
    ).to.equal(restore);
    expect(
      await resolveRecovery(restore, stackWith([RAN_110]), LOCKED_AT, "production", () => undefined),
    ).to.deep.include({
      kind: "roll-back",
      version: "1.1.0",
      evidenceJson: EVIDENCE_110,
    });
  });

  it("reads 'before' as when the interrupted promotion took the lock, not when a recovery killed in turn did", async function () {
    // The second holder took over at 11:00, after the candidate's update: its own start would
    // make the candidate look like what production ran before.
    const got = await resolveRecovery(
      rollBack("1.1.0", EVIDENCE_110),
      stackWith([CANDIDATE, RAN_110]),
      LOCKED_AT,
      "production",
      () => undefined,
    );
    expect(got).to.deep.include({ version: "1.1.0" });
    const wrong = await resolveRecovery(
      rollBack("1.1.0", EVIDENCE_110),
      stackWith([CANDIDATE, RAN_110]),
      "2026-01-02T11:00:00.000Z",
      "production",
      () => undefined,
    );
    expect(wrong, "what the second holder's start would pick").to.deep.include({ version: "1.4.0" });
  });

  it("changes nothing when the history cannot be read (exit 2)", async function () {
    const stack = {
      history: async () => {
        throw new Error("the backend is unreachable");
      },
      outputs: async () => ({}),
    } as unknown as Pick<ProductionStack, "history" | "outputs">;
    const error = await resolveRecovery(
      rollBack("1.0.0", PREVIOUS_EVIDENCE),
      stack,
      LOCKED_AT,
      "production",
      () => undefined,
    ).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(DependencyUnavailable);
    expect((error as Error).message).to.contain(
      "the engine's update history cannot be read (the backend is unreachable)",
    );
  });

  it("through carryOutRecovery: signs and applies the engine's evidence, and refuses with no call at all", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-recovery-provenance-"));
    try {
      const run = async (history: unknown[]) => {
        const stale: Journal = deadHolderJournal({
          generation: 1,
          holder: { ...deadHolderJournal().holder, startedAt: LOCKED_AT },
          phase: "verifying",
          previousConfig: { "churn-model:modelVersion": "1.0.0", "churn-model:promotionEvidence": LAUNDERED },
          target: "1.4.0",
          updatedAt: LOCKED_AT,
        });
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir);
        fs.writeFileSync(generationFile(dir, 1), JSON.stringify(stale));
        const held = acquirePromotionLock(dir, "production");
        const calls: string[] = [];
        const stack = {
          refresh: async () => void calls.push("refresh"),
          cancel: async () => void calls.push("cancel"),
          history: async () => history,
          outputs: async () => ({}),
          setConfig: async () => void calls.push("setConfig"),
          removeConfig: async () => void calls.push("removeConfig"),
        } as unknown as ProductionStack;
        const error = await carryOutRecovery(
          planRecovery(held.journal()),
          held,
          { readOnly: false, signRollback: (e) => (calls.push(`sign ${JSON.stringify(e)}`), e) },
          {
            name: "production",
            stack: async () => stack,
            engineLocks: () => [],
            apply: async (e) => (calls.push(`apply ${JSON.stringify(e)}`), { ok: true }) as never,
            verify: async (v) => (calls.push(`verify ${v}`), { healthy: true, reasons: [] }) as never,
            target: async () => TEST_TARGET,
            say: () => undefined,
          },
        ).catch((e: unknown) => e);
        held.abandon();
        return { error, calls };
      };
      const ok = await run([CANDIDATE, RAN_110, RAN_PREVIOUS]);
      expect(ok.error).to.equal(undefined);
      expect(ok.calls).to.deep.equal([
        `sign ${EVIDENCE_110}`,
        "refresh",
        `apply ${EVIDENCE_110}`,
        "verify 1.1.0",
      ]);
      const refused = await run([CANDIDATE]);
      expect(refused.error).to.be.instanceOf(HumanNeeded);
      expect(refused.calls, "nothing signed, refreshed, set or applied").to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
