import type { PromotionTarget } from "../../scripts/promotion/evidence";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { SignedCanaryRecord } from "../../scripts/promotion/canary/promote";
import {
  canonicalJson,
  generateEvidenceKeyPair,
  signEvidence,
  SignedEvidence,
} from "../../scripts/promotion/evidence";
import type {
  CanarySpec,
  CanaryTarget,
  PrepareOptions,
  ProductionDeployer,
  ProductionState,
  UpdateResult,
  VerifyResult,
} from "../../scripts/promotion/deployer";
import type { InstantResult, PrometheusClient } from "../../scripts/promotion/prometheus";
import type { EventInput } from "../../scripts/promotion/notify/events";
import type { EventSink } from "../../scripts/promotion/notify/notifier";
import type { PromotionDeps } from "../../scripts/promotion/promotion";
import { FakePrometheus, Numbers } from "../helpers/fake-prometheus";
import { GOOD, NOW, runPromote, THRESHOLDS_FILE } from "../helpers/promote-harness";
import { earlierPromotionRecord } from "../fixtures/evidence-records";

const ERRORS: Numbers = { ...GOOD, errors: 0.08 };

const CANARY = {
  steps: [
    { weight: 10, durationSeconds: 60, maxDurationSeconds: 120 },
    { weight: 50, durationSeconds: 60, maxDurationSeconds: 120 },
  ],
  analysisIntervalSeconds: 20,
  confidence: 0.95,
  minRequestsPerArm: 100,
  minLabeledPredictionsPerArm: 0,
  maxErrorRateIncrease: 0.02,
  maxLatencyP99IncreaseMs: 150,
  maxAccuracyDrop: 0.05,
};

/** Staging's and the stable's series answer with GOOD; the production canary's with `canary`. */
function prometheus(canary: Numbers): PrometheusClient {
  const good = new FakePrometheus(GOOD);
  const bad = new FakePrometheus(canary);
  const pick = (q: string) => (q.includes('namespace="production",version="1.1.0"') ? bad : good);
  return {
    baseUrl: "http://prometheus.test",
    instantQuery: (q: string, t: Date): Promise<InstantResult> => pick(q).instantQuery(q, t),
    rangeQuery: (q: string, s: Date, e: Date, step: number): Promise<InstantResult> =>
      pick(q).rangeQuery(q, s, e, step),
  } as PrometheusClient;
}

class CanaryProduction implements ProductionDeployer {
  readonly calls: string[] = [];
  readonly records: (string | undefined)[] = [];
  /** The evidence each deploy moved the stable with. */
  readonly deployed: SignedEvidence[] = [];
  canary: CanarySpec | null = null;
  constructor(private readonly state: ProductionState) {}
  async prepare(_opts: PrepareOptions): Promise<void> {}
  async close(): Promise<void> {}
  async current(): Promise<ProductionState> {
    this.calls.push("current");
    return this.state;
  }
  async target(): Promise<PromotionTarget> {
    return TEST_TARGET;
  }
  async deploy(evidence: SignedEvidence, _p: unknown, canaryRecord?: string): Promise<UpdateResult> {
    this.calls.push(`deploy ${evidence.record.modelVersion}`);
    this.records.push(canaryRecord);
    this.deployed.push(evidence);
    this.canary = null;
    return { ok: true, updateVersion: 9 };
  }
  async verify(modelVersion: string): Promise<VerifyResult> {
    this.calls.push(`verify ${modelVersion}`);
    return { healthy: true, reasons: [] };
  }
  async rollback(evidence: SignedEvidence): Promise<UpdateResult> {
    this.calls.push(`rollback ${evidence.record.modelVersion}`);
    return { ok: true, updateVersion: 10 };
  }
  async setCanary(canary: CanarySpec | null, _p: unknown, record?: string): Promise<UpdateResult> {
    this.calls.push(canary === null ? "remove canary" : `canary ${canary.version} at ${canary.weight} %`);
    if (canary !== null) this.records.push(undefined);
    else this.records.push(record);
    this.canary = canary;
    return { ok: true, updateVersion: 8 };
  }
  async canaryTarget(): Promise<CanaryTarget> {
    return {
      prometheusUrl: "http://prometheus.test",
      namespace: "production",
      replicas: { min: 10, max: 20 },
      stableSelector: { namespace: "production", version: "1.0.0" },
      ...(this.canary !== null
        ? { canarySelector: { namespace: "production", version: this.canary.version } }
        : {}),
    };
  }
}

describe("npm run promote --strategy canary (fake production and Prometheus)", function () {
  const keys = generateEvidenceKeyPair();
  const privateKey = crypto.createPrivateKey(keys.privateKeyPem);
  let tmp: string;
  let policyFile: string;
  let allAtOnceOnly: string;
  let stable: SignedEvidence;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-canary-flow-"));
    const config = JSON.parse(fs.readFileSync(THRESHOLDS_FILE, "utf8"));
    const thresholds = config["promotion-evidence"];
    policyFile = path.join(tmp, "canary.json");
    fs.writeFileSync(
      policyFile,
      JSON.stringify({
        ...config,
        "promotion-evidence": { ...thresholds, strategies: ["canary", "all-at-once"], canary: CANARY },
      }),
    );
    allAtOnceOnly = path.join(tmp, "all-at-once.json");
    fs.writeFileSync(allAtOnceOnly, JSON.stringify(config));
    stable = signEvidence(earlierPromotionRecord({ thresholds }), privateKey);
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function run(
    argv: string[],
    production: CanaryProduction,
    canary: Numbers,
    file = policyFile,
    extra: Partial<PromotionDeps> = {},
  ) {
    let t = NOW.getTime();
    return runPromote(["--approved-by", "alice", ...argv], {
      policyConfig: () => file,
      prometheus: () => prometheus(canary),
      signingKey: () => privateKey,
      now: () => new Date(t),
      sleep: async (ms) => {
        t += ms;
      },
      deployer: () => production,
      ...extra,
    });
  }

  function verifies(json: string): SignedCanaryRecord {
    const signed = JSON.parse(json) as SignedCanaryRecord;
    const ok = crypto.verify(
      null,
      Buffer.from(canonicalJson(signed.record), "utf8"),
      keys.publicKeyPem,
      Buffer.from(signed.signature, "base64"),
    );
    expect(ok, "the canary record's signature verifies").to.equal(true);
    return signed;
  }

  it("walks every step, then moves the stable with a signed record of the passed steps, then bakes", async function () {
    const production = new CanaryProduction({ modelVersion: "1.0.0", evidence: stable });
    const r = await run(["--strategy", "canary"], production, GOOD);
    expect(r.code, r.stderr).to.equal(0);
    expect(production.calls).to.deep.equal([
      "current",
      "canary 1.1.0 at 10 %",
      "canary 1.1.0 at 50 %",
      "deploy 1.1.0",
      "verify 1.1.0",
    ]);
    const record = verifies(production.records[2]!).record;
    expect(record).to.include({ kind: "canary", modelVersion: "1.1.0", approver: "alice" });
    expect(record.canary.stableVersion).to.equal("1.0.0");
    expect(
      record.canary.steps.map((s) => [s.weight, s.canaryReplicas, s.stableReplicas, s.verdict]),
    ).to.deep.equal([
      [10, 1, 9, "pass"],
      [50, 5, 5, "pass"],
    ]);
    expect(record.canary).to.not.have.property("aborted");
    // The stable's own evidence carries the same verdicts, signed with it.
    const moved = production.deployed[0];
    expect(moved.record.canary).to.deep.equal(record.canary);
    expect(
      crypto.verify(
        null,
        Buffer.from(canonicalJson(moved.record), "utf8"),
        keys.publicKeyPem,
        Buffer.from(moved.signature, "base64"),
      ),
    ).to.equal(true);
    expect(r.stderr).to.contain("Canary of 1.1.0 against 1.0.0: 10 % → 50 %, then the stable");
  });

  it("aborts on the canary's error rate with exit 5: canary removed with a signed abort record, stable never moved", async function () {
    const production = new CanaryProduction({ modelVersion: "1.0.0", evidence: stable });
    const r = await run(["--strategy", "canary"], production, ERRORS);
    expect(r.code, r.stderr).to.equal(5);
    expect(production.calls).to.deep.equal(["current", "canary 1.1.0 at 10 %", "remove canary"]);
    const record = verifies(production.records[1]!).record;
    expect(record.canary.aborted?.cause).to.equal("fail");
    expect(record.canary.steps[0]).to.include({ weight: 10, verdict: "fail" });
    expect(record.canary.steps[0].checks.find((c) => c.name === "error_rate")?.status).to.equal("fail");
    expect(r.stderr).to.contain("production's stable still runs 1.0.0");
  });

  it("sends a canary-step event as each step ends, with its weight and verdict", async function () {
    const events: EventInput[] = [];
    const sink: EventSink = {
      notify: (e) => (events.push(e), `evt_${events.length}`),
      drain: async () => {},
    };
    const notifications = async () => sink;
    const passed = new CanaryProduction({ modelVersion: "1.0.0", evidence: stable });
    expect((await run(["--strategy", "canary"], passed, GOOD, policyFile, { notifications })).code).to.equal(
      0,
    );
    const steps = events.filter((e) => e.type === "canary-step");
    expect(
      steps.map((e) => [e.details?.weight, e.details?.verdict, e.details?.canaryReplicas]),
    ).to.deep.equal([
      [10, "pass", 1],
      [50, "pass", 5],
    ]);
    expect(steps[0].reason).to.match(/^canary step 1 \(10 %\) ended pass: /);
    events.length = 0;
    const aborted = new CanaryProduction({ modelVersion: "1.0.0", evidence: stable });
    expect(
      (await run(["--strategy", "canary"], aborted, ERRORS, policyFile, { notifications })).code,
    ).to.equal(5);
    expect(events.filter((e) => e.type === "canary-step").map((e) => e.details?.verdict)).to.deep.equal([
      "fail",
    ]);
  });

  it("keeps today's path with --strategy all-at-once", async function () {
    const production = new CanaryProduction({ modelVersion: "1.0.0", evidence: stable });
    const r = await run(["--strategy", "all-at-once"], production, ERRORS);
    expect(r.code, r.stderr).to.equal(0);
    expect(production.calls).to.deep.equal(["current", "deploy 1.1.0", "verify 1.1.0"]);
    expect(production.records).to.deep.equal([undefined]);
  });

  it("refuses a strategy the target's policy config does not accept, with exit 2 and nothing touched", async function () {
    const production = new CanaryProduction({ modelVersion: "1.0.0", evidence: stable });
    const r = await run(["--strategy", "canary"], production, GOOD, allAtOnceOnly);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("--strategy canary is refused");
    expect(production.calls).to.deep.equal([]);
  });

  it("refuses a canary with nothing to compare it with (no stable yet), with exit 2", async function () {
    const production = new CanaryProduction({ modelVersion: null, evidence: null });
    const r = await run(["--strategy", "canary"], production, GOOD);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("production runs no stable version yet");
    expect(production.calls).to.deep.equal(["current"]);
  });

  it("refuses an unknown --strategy naming the accepted ones", async function () {
    const production = new CanaryProduction({ modelVersion: "1.0.0", evidence: stable });
    const r = await run(["--strategy", "blue-green"], production, GOOD);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('--strategy must be one of canary, all-at-once (got "blue-green")');
  });
});
