import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateEvidenceKeyPair, signEvidence, SignedEvidence } from "../../scripts/promotion/evidence";
import { openNotifier } from "../../scripts/promotion/notify";
import { EventInput, evidenceDigest } from "../../scripts/promotion/notify/events";
import type { EventSink } from "../../scripts/promotion/notify/notifier";
import type { PromotionDeps } from "../../scripts/promotion/promotion";
import { FakePrometheus } from "../helpers/fake-prometheus";
import { FakeDeployer, GOOD, runPromote, snapshot, THRESHOLDS } from "../helpers/promote-harness";
import { earlierPromotionRecord } from "../fixtures/evidence-records";

/** Records every event the promotion sends, and whether it drained. */
class RecordingSink implements EventSink {
  readonly events: EventInput[] = [];
  drained = 0;
  notify(input: EventInput): string {
    this.events.push(input);
    return `evt_${this.events.length}`;
  }
  async drain(): Promise<void> {
    this.drained++;
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

describe("promotion events reach the notifier", function () {
  const keys = generateEvidenceKeyPair();
  const privateKey = crypto.createPrivateKey(keys.privateKeyPem);
  let previous: SignedEvidence;

  before(function () {
    previous = signEvidence(earlierPromotionRecord({ thresholds: THRESHOLDS }), privateKey);
  });

  /** Production at 1.0.0; each verification's health in turn from `healthy` (then healthy). */
  function production(opts: { healthy?: boolean[]; deployThrows?: Error } = {}): {
    p: FakeDeployer;
    deployer: PromotionDeps["deployer"];
  } {
    const p = new FakeDeployer(
      { modelVersion: "1.0.0", evidence: previous },
      {
        deploy: opts.deployThrows,
        verify: (opts.healthy ?? []).map((healthy) =>
          healthy
            ? { healthy: true, reasons: [] }
            : { healthy: false, reasons: ["error rate 0.08 over 30s exceeds 0.01"] },
        ),
      },
    );
    return { p, deployer: () => p };
  }

  async function run(
    argv: string[],
    overrides: Partial<PromotionDeps>,
  ): Promise<{ code: number; stderr: string; opened: string[] }> {
    const opened: string[] = [];
    const sink = overrides.notifications;
    const { code, stderr } = await runPromote(argv, {
      signingKey: () => privateKey,
      deployer: production().deployer,
      ...overrides,
      notifications: async (stack) => {
        opened.push(stack);
        if (sink === undefined) throw new Error("no sink given");
        return sink(stack);
      },
    });
    return { code, stderr, opened };
  }

  it("sends nothing for a dry run and does not even open the notifier", async function () {
    const sink = new RecordingSink();
    const r = await run(["--dry-run"], { notifications: async () => sink });
    expect(r.code).to.equal(0);
    expect(r.opened).to.deep.equal([]);
    expect(sink.events).to.deep.equal([]);
  });

  it("sends a dry run's event with --notify: gate-rejected, or approval-requested when it passes", async function () {
    const rejected = new RecordingSink();
    const r1 = await run(["--dry-run", "--notify"], {
      prometheus: () => new FakePrometheus({ ...GOOD, accuracy: 0.5 }),
      notifications: async () => rejected,
    });
    expect(r1.code).to.equal(3);
    expect(r1.opened).to.deep.equal(["production"]);
    expect(rejected.types()).to.deep.equal(["gate-rejected"]);
    const passed = new RecordingSink();
    const r2 = await run(["--dry-run", "--notify"], { notifications: async () => passed });
    expect(r2.code).to.equal(0);
    expect(passed.types()).to.deep.equal(["approval-requested"]);
    expect(passed.events[0].decision?.decision).to.equal("promote");
    expect(passed.drained).to.equal(1);
  });

  it("refuses --notify without --dry-run", async function () {
    const r = await run(["--notify"], { notifications: async () => new RecordingSink() });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("--notify is for dry runs");
  });

  it("sends gate-rejected with the decision's numbers, and drains before the exit", async function () {
    const sink = new RecordingSink();
    const r = await run(["--approved-by", "ci:octocat"], {
      prometheus: () => new FakePrometheus({ ...GOOD, accuracy: 0.5 }),
      notifications: async () => sink,
    });
    expect(r.code).to.equal(3);
    expect(r.opened).to.deep.equal(["production"]);
    expect(sink.types()).to.deep.equal(["gate-rejected"]);
    const e = sink.events[0];
    expect(e).to.deep.include({
      stack: "production",
      from: "staging",
      modelVersion: "1.1.0",
      details: { exitCode: 3 },
    });
    expect(e.decision?.decision).to.equal("reject");
    expect(e.decision?.checks.find((c) => c.name === "accuracy")).to.deep.include({
      value: 0.5,
      passed: false,
    });
    expect(sink.drained).to.equal(1);
  });

  it("sends approval-requested, then aborted when no approval comes", async function () {
    const sink = new RecordingSink();
    const r = await run([], { notifications: async () => sink });
    expect(r.code).to.equal(4);
    expect(sink.types()).to.deep.equal(["approval-requested", "aborted"]);
    expect(sink.events[0].decision?.decision).to.equal("promote");
    expect(sink.events[1].reason).to.include("needs an approval");
  });

  it("sends promoted with the evidence it deployed, and no approval request when an approver is given", async function () {
    const sink = new RecordingSink();
    const { p, deployer } = production();
    const r = await run(["--approved-by", "ci:octocat"], { deployer, notifications: async () => sink });
    expect(r.code).to.equal(0);
    expect(sink.types()).to.deep.equal(["promoted"]);
    expect(evidenceDigest(sink.events[0].evidence!)).to.equal(evidenceDigest(p.deployed[0]));
    expect(sink.events[0].decision?.decision).to.equal("promote");
  });

  it("sends rolled-back with the trigger when production disagrees", async function () {
    const sink = new RecordingSink();
    const { p, deployer } = production({ healthy: [false, true] });
    const r = await run(["--approved-by", "ci:octocat"], { deployer, notifications: async () => sink });
    expect(r.code).to.equal(5);
    expect(p.calls).to.deep.equal([
      "current",
      "deploy 1.1.0",
      "verify 1.1.0",
      "rollback 1.0.0",
      "verify 1.0.0",
    ]);
    expect(sink.types()).to.deep.equal(["rolled-back"]);
    expect(sink.events[0].reason).to.include("error rate 0.08 over 30s exceeds 0.01");
    expect(sink.events[0].evidence?.record.modelVersion).to.equal("1.1.0");
  });

  it("sends failed when the update breaks unexpectedly", async function () {
    const sink = new RecordingSink();
    const { deployer } = production({ deployThrows: new Error("disk full") });
    const r = await run(["--approved-by", "ci:octocat"], { deployer, notifications: async () => sink });
    expect(r.code).to.equal(1);
    expect(sink.types()).to.deep.equal(["failed"]);
    expect(sink.events[0].reason).to.equal("disk full");
  });

  it("sends aborted when staging changed while waiting for approval", async function () {
    const sink = new RecordingSink();
    let reads = 0;
    const r = await run(["--approved-by", "ci:octocat"], {
      readStaging: async () =>
        ++reads === 1 ? snapshot() : snapshot({ deployedAt: new Date("2025-03-01T07:00:00Z") }),
      notifications: async () => sink,
    });
    expect(r.code).to.equal(4);
    expect(sink.types()).to.deep.equal(["aborted"]);
  });

  it("promotes even when the notifier throws and its drain fails", async function () {
    const broken: EventSink = {
      notify: () => {
        throw new Error("boom");
      },
      drain: () => Promise.reject(new Error("boom again")),
    };
    const { p, deployer } = production();
    const r = await run(["--approved-by", "ci:octocat"], { deployer, notifications: async () => broken });
    expect(r.code).to.equal(0);
    expect(p.calls).to.deep.equal(["current", "deploy 1.1.0", "verify 1.1.0"]);
  });

  it("refuses an invalid notification config with exit 2 before measuring anything", async function () {
    const prometheus = new FakePrometheus(GOOD);
    const r = await run(["--approved-by", "ci:octocat"], {
      prometheus: () => prometheus,
      notifications: (stack) =>
        openNotifier(stack, {
          readConfig: async () => ({
            "churn-model:notifications": {
              value: '{"targets":[{"name":"ops","type":"pager"}]}',
              secret: true,
            },
          }),
          warn: () => undefined,
        }),
    });
    expect(r.code).to.equal(2);
    expect(prometheus.queries).to.have.length(0);
    expect(r.stderr).to.include(
      'promote: stack production: churn-model:notifications.targets[0].type must be "webhook" or "slack"',
    );
  });

  it("goes on without notifications when the stack's config cannot be read, and says so", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-notify-open-"));
    try {
      let stderr = "";
      const sink = await openNotifier("production", {
        readConfig: async () => {
          throw new Error("cannot select stack production");
        },
        warn: (l) => (stderr += l),
        env: { CHURN_NOTIFY_DIR: dir },
      });
      expect(
        sink.notify({ type: "promoted", stack: "production", from: "staging", modelVersion: "1.1.0" }),
      ).to.equal(undefined);
      expect(stderr).to.include(
        "notify: cannot read churn-model:notifications of stack production (cannot select stack production); this run sends no notifications",
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
