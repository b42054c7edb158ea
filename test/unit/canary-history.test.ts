/**
 * `history` and canaries: each canary step an update ran, with the verdict its walk gave it,
 * and the walk (every step, verdict and both arms' error rates) under the update that ended
 * it; a walk killed and recovered leaves its steps without a verdict. Pure, over stack configs
 * as the engine's update log has them (newest first).
 */
import { expect } from "chai";
import { canaryHistory, formatCanaryHistory } from "../../scripts/promotion/canary/history";
import { formatHistory, HistoryEntry } from "../../scripts/promotion/history";
import { canaryPart } from "../fixtures/canary-evidence";
import type { CanaryEvidence } from "../../policy/contract";

const CANARY = "churn-model:canary";
const RECORD = "churn-model:canaryRecord";
const VERSION = "churn-model:modelVersion";

function record(version: string, canary: CanaryEvidence): string {
  return JSON.stringify({
    record: {
      kind: "canary",
      modelVersion: version,
      approver: "demo-approver",
      createdAt: "2026-03-01T12:05:00.000Z",
      canary,
    },
    signature: "c2ln",
  });
}

function step(version: string, weight: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    [VERSION]: "1.0.0",
    [CANARY]: JSON.stringify({ version, weight, promotionEvidence: "{}" }),
    ...extra,
  };
}

describe("history of canary steps and their verdicts", function () {
  it("gives each step of a walk that passed its verdict, and lists the walk under the stable's move", function () {
    const passed = record("1.1.0", canaryPart("1.0.0"));
    // Oldest first, then reversed: the engine's log is newest first.
    const configs = [
      { [VERSION]: "1.0.0" },
      step("1.1.0", 10),
      step("1.1.0", 50),
      { [VERSION]: "1.1.0", [RECORD]: passed },
    ].reverse();
    const h = canaryHistory(configs);
    expect(h[3]).to.deep.equal({});
    expect(h[2].step).to.deep.equal({ version: "1.1.0", weight: 10, verdict: "pass" });
    expect(h[1].step).to.deep.equal({ version: "1.1.0", weight: 50, verdict: "pass" });
    expect(h[0].step).to.equal(undefined);
    expect(h[0].walk).to.deep.include({
      version: "1.1.0",
      stableVersion: "1.0.0",
      outcome: "passed",
      reason: null,
    });
    expect(
      h[0].walk?.steps.map((s) => [s.weight, s.canaryReplicas, s.stableReplicas, s.verdict]),
    ).to.deep.equal([
      [10, 1, 9, "pass"],
      [50, 5, 5, "pass"],
    ]);
    expect(h[0].walk?.steps[0].errorRate).to.deep.equal({ canary: 0.002, stable: 0.002 });
  });

  it("gives an aborted step its cause, and lists the aborted walk under the canary's removal", function () {
    const aborted = record(
      "1.4.0",
      canaryPart("1.0.0", {
        weights: [10],
        verdict: "fail",
        aborted: { cause: "fail", reason: "error rate" },
      }),
    );
    const configs = [
      { [VERSION]: "1.0.0" },
      step("1.4.0", 10),
      { [VERSION]: "1.0.0", [RECORD]: aborted },
    ].reverse();
    const h = canaryHistory(configs);
    expect(h[1].step).to.deep.equal({ version: "1.4.0", weight: 10, verdict: "fail" });
    expect(h[0].walk).to.deep.include({ version: "1.4.0", outcome: "aborted (fail)", reason: "error rate" });
    const lines = formatCanaryHistory(h[0]);
    expect(lines[0]).to.equal("    canary walk of 1.4.0 against 1.0.0: aborted (fail) — error rate");
    expect(lines[1]).to.equal(
      "      step 1: 10 % (1 canary / 9 stable): fail; error rate canary 0.0020 vs stable 0.0020",
    );
  });

  it("leaves a step killed mid-walk without a verdict, and does not show an earlier walk's record again", function () {
    const aborted = record(
      "1.4.0",
      canaryPart("1.0.0", {
        weights: [10],
        verdict: "fail",
        aborted: { cause: "fail", reason: "error rate" },
      }),
    );
    const passed = record("1.1.0", canaryPart("1.0.0"));
    const configs = [
      { [VERSION]: "1.0.0", [RECORD]: aborted },
      // The next walk, of 1.1.0, killed at its first step: the old record stays in the config.
      step("1.1.0", 10, { [RECORD]: aborted }),
      // The recovery returns to the stable only (a rollback that removes the canary).
      { [VERSION]: "1.0.0" },
      // A new walk of the same version, which passes: its verdicts are not the killed step's.
      step("1.1.0", 10),
      step("1.1.0", 50),
      { [VERSION]: "1.1.0", [RECORD]: passed },
    ].reverse();
    const h = canaryHistory(configs);
    expect(h[5].walk?.outcome).to.equal("aborted (fail)");
    expect(h[4]).to.deep.equal({ step: { version: "1.1.0", weight: 10, verdict: null } });
    expect(h[3]).to.deep.equal({});
    expect(h[2].step?.verdict).to.equal("pass");
    expect(h[1].step?.verdict).to.equal("pass");
    expect(h[0].walk?.outcome).to.equal("passed");
    expect(formatCanaryHistory(h[4])).to.deep.equal([
      "    canary 1.1.0 at 10 %: no verdict (the walk left no record: interrupted and recovered)",
    ]);
  });

  it("ignores a canary record it cannot read", function () {
    expect(
      canaryHistory([
        { [RECORD]: "{not json" },
        { [RECORD]: JSON.stringify({ record: { kind: "promotion" } }) },
      ]),
    ).to.deep.equal([{}, {}]);
  });

  it("prints the canary lines under their update's row", function () {
    const base: HistoryEntry = {
      update: 3,
      result: "update succeeded",
      startedAt: "2026-03-01T12:00:00.000Z",
      durationSeconds: 12,
      modelVersion: "1.0.0",
      kind: "promotion",
      evidenceFor: "1.0.0",
      approver: "demo-approver",
      approvals: [],
      measured: null,
      evidenceCreatedAt: null,
    };
    const text = formatHistory([
      { ...base, canary: { step: { version: "1.4.0", weight: 10, verdict: "fail" } } },
      { ...base, update: 2 },
    ]);
    const lines = text.trimEnd().split("\n");
    expect(lines).to.have.length(4);
    expect(lines[1]).to.match(/^3\s+2026-03-01 12:00:00\s+update succeeded\s+1\.0\.0/);
    expect(lines[2]).to.equal("    canary 1.4.0 at 10 %: fail");
    expect(lines[3]).to.match(/^2\s+/);
  });
});
