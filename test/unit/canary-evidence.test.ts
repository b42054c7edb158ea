/**
 * The canary part of promotion evidence (`record.canary`, evidence format 3): its strict shape
 * in the contract's schema, and the stable-chain rule applied to whole evidence.
 */
import { expect } from "chai";
import {
  ContractError,
  parseSignedEvidence,
  stableChainOfEvidence,
  validateRecord,
  verifyEvidence,
} from "../../policy/contract";
import { canaryEvidence } from "../../scripts/promotion/canary/chain";
import type { CanaryOutcome } from "../../scripts/promotion/canary/run";
import { BadInput } from "../../scripts/promotion/errors";
import { EvidenceRecord, generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { canaryPart } from "../fixtures/canary-evidence";
import { earlierPromotionRecord } from "../fixtures/evidence-records";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";

const keys = generateEvidenceKeyPair();
const NOW = new Date("2025-02-21T13:00:00Z");
const CANARY_ONLY = { strategies: ["canary" as const], canary: { steps: [{ weight: 10 }, { weight: 50 }] } };

function withCanary(canary: unknown, overrides: Partial<EvidenceRecord> = {}): EvidenceRecord {
  return { ...earlierPromotionRecord(overrides), canary } as EvidenceRecord;
}

function verify(evidence: unknown): string[] {
  return verifyEvidence(evidence, {
    publicKeyPem: keys.publicKeyPem,
    thresholds: DESIGN_THRESHOLDS,
    imageVersion: "1.0.0",
    now: NOW,
  });
}

/** The ContractError message validateRecord throws for a record, or undefined when it is valid. */
function schemaProblem(record: unknown): string | undefined {
  try {
    validateRecord(record, "record");
    return undefined;
  } catch (err) {
    if (err instanceof ContractError) return err.message;
    throw err;
  }
}

const REMOVED = Symbol("removed");

/** A copy of the fixture's canary part with the value at `at` set (or removed). */
function changed(at: (string | number)[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(canaryPart("0.9.0"))) as Record<string, unknown>;
  const parent = at
    .slice(0, -1)
    .reduce<Record<string | number, unknown>>((o, k) => o[k] as Record<string | number, unknown>, copy);
  const last = at[at.length - 1];
  if (value === REMOVED) delete parent[last];
  else parent[last] = value;
  return copy;
}

describe("the canary part of promotion evidence (format 3)", () => {
  it("signs and verifies promotion evidence carrying the part a canary walk leaves, unbounded edges as null", () => {
    const walk: CanaryOutcome = {
      outcome: "passed",
      steps: [10, 50].map((weight, i) => ({
        index: i + 1,
        weight,
        canaryReplicas: weight === 10 ? 1 : 5,
        stableReplicas: weight === 10 ? 9 : 5,
        startedAt: `2025-02-21T12:0${i}:00.000Z`,
        endedAt: `2025-02-21T12:0${i}:30.000Z`,
        analyses: 3,
        verdict: "pass",
        reason: "every check passed",
        comparison: {
          outcome: "pass",
          window: { start: `2025-02-21T12:0${i}:00.000Z`, end: `2025-02-21T12:0${i}:30.000Z` },
          canaryVersion: "1.0.0",
          stableVersion: "0.9.0",
          checks: [
            {
              name: "accuracy",
              status: "pass",
              canary: null,
              stable: null,
              worseBy: null,
              margin: 0.02,
              reason: "not compared",
            },
            {
              name: "latency_p99",
              status: "pass",
              canary: 30,
              stable: 28,
              worseBy: { estimate: 2, lower: -Infinity, upper: 20 },
              margin: 50,
              reason: "…",
            },
          ],
        },
      })),
    };
    const canary = canaryEvidence(walk, "0.9.0");
    const evidence = signEvidence(withCanary(canary), keys.privateKeyPem);
    expect(verify(JSON.stringify(evidence))).to.deep.equal([]);
    const parsed = parseSignedEvidence(JSON.stringify(evidence));
    expect(parsed.record.canary).to.deep.equal(canary);
    expect(parsed.record.canary!.steps[0].checks[1].worseBy).to.deep.equal({ lower: null, upper: 20 });
    expect(stableChainOfEvidence(evidence, CANARY_ONLY)).to.deep.equal([]);
  });

  it("keeps an aborted canary's cause and reason", () => {
    const aborted = canaryPart("0.9.0", {
      weights: [10],
      verdict: "fail",
      aborted: { cause: "fail", reason: "worse" },
    });
    expect(schemaProblem(withCanary(aborted))).to.equal(undefined);
  });

  const malformed: [string, unknown, string][] = [
    ["not an object", [], "record.canary must be an object {strategy, stableVersion, steps[, aborted]}"],
    [
      "an unknown field",
      changed(["verdicts"], []),
      "record.canary has unknown field verdicts {strategy, stableVersion, steps[, aborted]}",
    ],
    [
      "no steps",
      changed(["steps"], REMOVED),
      "record.canary is missing steps {strategy, stableVersion, steps[, aborted]}",
    ],
    [
      "another strategy",
      changed(["strategy"], "all-at-once"),
      'record.canary.strategy must be "canary" (got "all-at-once")',
    ],
    [
      "an empty stable version",
      changed(["stableVersion"], " "),
      "record.canary.stableVersion must be a non-empty string",
    ],
    [
      "an unknown field in a step",
      changed(["steps", 1, "approved"], true),
      "record.canary.steps[1] has unknown field approved",
    ],
    [
      "a step without its verdict",
      changed(["steps", 0, "verdict"], REMOVED),
      "record.canary.steps[0] is missing verdict",
    ],
    [
      "a verdict that is no outcome",
      changed(["steps", 0, "verdict"], "ok"),
      "record.canary.steps[0].verdict must be one of pass, inconclusive, error, fail",
    ],
    [
      "a fractional replica count",
      changed(["steps", 0, "canaryReplicas"], 1.5),
      "record.canary.steps[0].canaryReplicas must be a non-negative integer",
    ],
    [
      "a weight that is no number",
      changed(["steps", 0, "weight"], "10"),
      "record.canary.steps[0].weight must be a finite number",
    ],
    [
      "a window that is no timestamp",
      changed(["steps", 1, "window", "end"], "yesterday"),
      "record.canary.steps[1].window.start and .end must be RFC3339 timestamps",
    ],
    [
      "an unknown field in a window",
      changed(["steps", 1, "window", "length"], 30),
      "record.canary.steps[1].window has unknown field length {start, end}",
    ],
    [
      "checks that are no list",
      changed(["steps", 0, "checks"], {}),
      "record.canary.steps[0].checks must be a list",
    ],
    [
      "an unknown field in a check",
      changed(["steps", 0, "checks", 0, "note"], "x"),
      "record.canary.steps[0].checks[0] has unknown field note",
    ],
    [
      "a check status that is no outcome",
      changed(["steps", 0, "checks", 0, "status"], "good"),
      "record.canary.steps[0].checks[0].status must be one of pass, inconclusive, error, fail",
    ],
    [
      "an estimate that is no number",
      changed(["steps", 0, "checks", 0, "canary"], "0.002"),
      "record.canary.steps[0].checks[0].canary must be a finite number or null",
    ],
    [
      "an interval edge that is no number",
      changed(["steps", 0, "checks", 0, "worseBy", "upper"], "small"),
      "record.canary.steps[0].checks[0].worseBy.lower and .upper must be finite numbers or null",
    ],
    [
      "an interval with an unknown field",
      changed(["steps", 0, "checks", 0, "worseBy", "estimate"], 0),
      "record.canary.steps[0].checks[0].worseBy has unknown field estimate {lower, upper} or null",
    ],
    [
      "a check without its margin",
      changed(["steps", 0, "checks", 0, "margin"], REMOVED),
      "record.canary.steps[0].checks[0] is missing margin",
    ],
    [
      "an abort of an unknown cause",
      changed(["aborted"], { cause: "bored", reason: "x" }),
      "record.canary.aborted.cause must be one of fail, inconclusive, error",
    ],
    [
      "an abort with an unknown field",
      changed(["aborted"], { cause: "fail", reason: "x", at: 10 }),
      "record.canary.aborted has unknown field at {cause, reason}",
    ],
  ];
  for (const [what, canary, message] of malformed) {
    it(`refuses a canary part with ${what}, naming where`, () => {
      expect(schemaProblem(withCanary(canary))).to.equal(message);
      expect(() => signEvidence(withCanary(canary), keys.privateKeyPem)).to.throw(BadInput, message);
    });
  }

  it("refuses a canary part in rollback evidence", () => {
    const earlier = signEvidence(earlierPromotionRecord(), keys.privateKeyPem);
    const rollback = withCanary(canaryPart("0.9.0"), { kind: "rollback", rollbackOf: earlier });
    expect(schemaProblem(rollback)).to.equal("record.canary belongs to promotion evidence only");
  });

  it("reports a malformed canary part as malformed evidence before the signature, and the chain rule does too", () => {
    const good = signEvidence(withCanary(canaryPart("0.9.0")), keys.privateKeyPem);
    const bad = JSON.parse(JSON.stringify(good));
    bad.record.canary.steps[0].verdict = "passed";
    const problem =
      "promotion evidence is malformed: evidence.record.canary.steps[0].verdict must be one of pass, inconclusive, error, fail";
    expect(verify(JSON.stringify(bad))).to.deep.equal([problem]);
    expect(stableChainOfEvidence(JSON.stringify(bad), CANARY_ONLY)).to.deep.equal([problem]);
  });

  it("applies the stable-chain rule to whole evidence: all-at-once evidence where only canary is accepted", () => {
    const allAtOnce = signEvidence(earlierPromotionRecord(), keys.privateKeyPem);
    expect(verify(allAtOnce)).to.deep.equal([]);
    expect(stableChainOfEvidence(JSON.stringify(allAtOnce), CANARY_ONLY)).to.deep.equal([
      "the evidence of 1.0.0 shows no canary, and this target accepts only canary: the stable may move only " +
        "to a version that passed its canary in production (or back to an earlier promoted one)",
    ]);
    expect(stableChainOfEvidence(allAtOnce, { strategies: ["all-at-once", "canary"] })).to.deep.equal([]);
  });
});
