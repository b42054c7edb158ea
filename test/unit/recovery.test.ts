/**
 * The recovery judgements as tables: what a dead holder's journal asks for, and whether the
 * engine's lock may be cleared.
 */
import { expect } from "chai";
import type { Journal } from "../../scripts/promotion/lock";
import type { SessionRecord } from "../../scripts/promotion/processes";
import { EngineLock, judgeEngineLocks, planRecovery, RecoveryPlan } from "../../scripts/promotion/recovery";

const SESSION: SessionRecord = { pid: 4100, startTime: 10, bootId: "b", command: "pulumi up" };
const PREVIOUS = { "churn-model:modelVersion": "1.0.0", "churn-model:promotionEvidence": '{"e":1}' };

function journal(over: Partial<Journal>): Journal {
  return {
    generation: 2,
    stack: "production",
    holder: { host: "h", bootId: "b", pid: 1, startTime: 1, startedAt: "2026-01-01T00:00:00Z", nonce: "n" },
    state: "held",
    phase: "locked",
    sessions: [],
    updatedAt: "2026-01-01T00:00:00Z",
    ...over,
  };
}

describe("the recovery plan", function () {
  const rows: [string, Journal | undefined, RecoveryPlan][] = [
    ["nothing without a journal", undefined, { kind: "none" }],
    ["nothing when the holder changed nothing and left nothing running", journal({}), { kind: "none" }],
    [
      "only stopping left-over engine processes when nothing was changed",
      journal({ sessions: [SESSION] }),
      { kind: "stop-leftovers", sessions: [SESSION] },
    ],
    ...(["updating", "verifying", "rolling-back"] as const).map((phase): [string, Journal, RecoveryPlan] => [
      `a rollback to the previous version when interrupted while ${phase}`,
      journal({ phase, previousConfig: PREVIOUS, approver: "alice", sessions: [SESSION] }),
      {
        kind: "roll-back",
        sessions: [SESSION],
        version: "1.0.0",
        evidenceJson: '{"e":1}',
        approver: "alice",
        interruptedPhase: phase,
      },
    ]),
    [
      "restoring the config when there is no earlier promoted version",
      journal({
        phase: "updating",
        previousConfig: { "churn-model:modelVersion": "1.0.0", "churn-model:promotionEvidence": null },
      }),
      {
        kind: "restore-config",
        sessions: [],
        previousConfig: { "churn-model:modelVersion": "1.0.0", "churn-model:promotionEvidence": null },
        interruptedPhase: "updating",
      },
    ],
    [
      "restoring the config when the journal recorded none",
      journal({ phase: "verifying" }),
      { kind: "restore-config", sessions: [], previousConfig: {}, interruptedPhase: "verifying" },
    ],
  ];
  for (const [what, j, plan] of rows) {
    it(`asks for ${what}`, function () {
      expect(planRecovery(j)).to.deep.equal(plan);
    });
  }
});

describe("the engine lock verdict", function () {
  const ours: EngineLock = { file: "a.json", pid: 4100, hostname: "h" };
  const rows: [string, EngineLock[], ReturnType<typeof judgeEngineLocks>][] = [
    ["leaves a stack without engine locks alone", [], { action: "none" }],
    ["cancels a lock taken by an engine process of the journal", [ours], { action: "cancel" }],
    [
      "refuses a lock of another process on this host",
      [ours, { file: "b.json", pid: 777, hostname: "h" }],
      { action: "refuse", foreign: [{ file: "b.json", pid: 777, hostname: "h" }] },
    ],
    [
      "refuses a lock with our PID taken on another host",
      [{ file: "c.json", pid: 4100, hostname: "other" }],
      { action: "refuse", foreign: [{ file: "c.json", pid: 4100, hostname: "other" }] },
    ],
  ];
  for (const [what, locks, verdict] of rows) {
    it(what, function () {
      expect(judgeEngineLocks(locks, [SESSION], "h")).to.deep.equal(verdict);
    });
  }
});
