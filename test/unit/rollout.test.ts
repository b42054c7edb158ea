/**
 * The production rollout against an in-process fake of the stack (config, `up`, history,
 * outputs) and small local HTTP servers standing in for the service and Prometheus: the
 * error flow of an update that never started, and verification on the configured
 * readiness path.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import {
  ConcurrentUpdate,
  DependencyUnavailable,
  HumanNeeded,
  RecoveryPending,
} from "../../scripts/promotion/errors";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { generationFile, Journal, pendingRecovery, readLatest } from "../../scripts/promotion/lock";
import { bootId } from "../../scripts/promotion/processes";
import { decodeJournalTags, PHASE_TAG } from "../../scripts/promotion/backend-journal";
import { promotionLockDir, StackRollout } from "../../scripts/promotion/rollout";
import {
  backendEnv,
  fakeRollout,
  FakeStack,
  lockDirOf,
  productionConfig,
  THRESHOLDS,
} from "../helpers/fake-stack";
import { earlierPromotionRecord } from "../fixtures/evidence-records";

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Answers every instant query with one sample: requests 5000, error rate 0, p99 120 ms. */
function prometheusAnswering(): http.RequestListener {
  return (req, res) => {
    const query = new URL(req.url ?? "/", "http://x").searchParams.get("query") ?? "";
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const q = query || new URLSearchParams(body).get("query") || "";
      const value = q.includes("histogram_quantile") ? "120" : q.includes('code=~"5.."') ? "0" : "5000";
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          status: "success",
          data: { resultType: "vector", result: [{ metric: {}, value: [Date.now() / 1000, value] }] },
        }),
      );
    });
  };
}

describe("the production rollout", function () {
  let tmp: string;

  beforeEach(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-rollout-"));
  });

  afterEach(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function rollout(stack: FakeStack, over: Parameters<typeof fakeRollout>[2] = {}) {
    return fakeRollout(tmp, stack, {
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 200))),
      ...over,
    });
  }

  const prepare = { readOnly: false, signRollback: () => evidence };
  const evidence = {
    record: { modelVersion: "1.1.0" },
    signature: "x",
  } as unknown as Parameters<StackRollout["deploy"]>[0];

  it("turns an update that never started into DependencyUnavailable (exit 2) and restores the config", async function () {
    const stack = new FakeStack(productionConfig(), {
      up: async () => {
        throw new Error("error: could not load plugin for kubernetes provider: no resource plugin found");
      },
    });
    const before = await stack.getAllConfig();
    const r = rollout(stack);
    await r.prepare(prepare);
    try {
      const err = await r
        .deploy(evidence, () => undefined)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(DependencyUnavailable);
      expect((err as DependencyUnavailable).exitCode).to.equal(2);
      expect((err as Error).message).to.equal(
        "the promotion update of production did not start: error: could not load plugin for kubernetes provider: no resource plugin found",
      );
      expect(await stack.getAllConfig()).to.deep.equal(before);
    } finally {
      await r.close();
    }
  });

  it("writes a promotion's config in one engine process, and removes a canary and its record in one more", async function () {
    const plain = new FakeStack(productionConfig());
    const r1 = rollout(plain);
    await r1.prepare(prepare);
    try {
      expect((await r1.deploy(evidence, () => undefined)).ok).to.equal(true);
    } finally {
      await r1.close();
    }
    expect(plain.calls).to.deep.equal([
      "set churn-model:modelVersion, churn-model:promotionEvidence",
      "up with the pack",
    ]);

    const withCanary = new FakeStack(
      productionConfig({ "churn-model:canary": '{"version":"1.2.0"}', "churn-model:canaryRecord": "old" }),
    );
    // A lock of its own: the first promotion was never verified, so its journal is left unsettled.
    const r2 = rollout(withCanary, { env: backendEnv(path.join(tmp, "second")) });
    await r2.prepare(prepare);
    try {
      expect((await r2.deploy(evidence, () => undefined)).ok).to.equal(true);
    } finally {
      await r2.close();
    }
    expect(withCanary.calls).to.deep.equal([
      "set churn-model:modelVersion, churn-model:promotionEvidence",
      "remove churn-model:canary, churn-model:canaryRecord",
      "up with the pack",
    ]);
    expect(withCanary.upConfigs[0]).to.not.have.property("churn-model:canary");
    expect(withCanary.upConfigs[0]["churn-model:modelVersion"].value).to.equal("1.1.0");
  });

  it("with the journal in the backend, the backend says what is about to change before the update starts", async function () {
    let seen: ReturnType<typeof decodeJournalTags>;
    const stack = new FakeStack(productionConfig(), {
      up: async () => {
        seen = decodeJournalTags(stack.tags, "production");
      },
    });
    const r = rollout(stack, {
      env: { PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}`, CHURN_PROMOTION_JOURNAL: "backend" },
    });
    await r.prepare(prepare);
    expect(
      promotionLockDir({ projectDir: tmp, env: { CHURN_PROMOTION_JOURNAL: "backend" } }, "production"),
    ).to.equal(path.join(tmp, ".churn-model", "promotions", "production"));
    try {
      expect((await r.deploy(evidence, () => undefined)).ok).to.equal(true);
      expect(seen!).to.deep.include({ state: "held", phase: "updating", target: "1.1.0" });
      const tagged = stack.calls.indexOf(`tag ${PHASE_TAG}`);
      expect(tagged).to.be.at.least(0);
      expect(tagged).to.be.below(stack.calls.indexOf("up with the pack"));
    } finally {
      await r.close();
    }
    expect(decodeJournalTags(stack.tags, "production")).to.deep.include({
      state: "held",
      phase: "verifying",
    });
  });

  it("with the journal in the backend, a write the backend refuses stops the promotion before anything changed", async function () {
    const stack = new FakeStack(productionConfig());
    const before = await stack.getAllConfig();
    const r = rollout(stack, {
      env: { PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}`, CHURN_PROMOTION_JOURNAL: "backend" },
    });
    stack.failTagWrites = true;
    const err = await r.prepare(prepare).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DependencyUnavailable);
    expect((err as Error).message).to.contain("[403] forbidden");
    expect(stack.calls.filter((c) => c.startsWith("up") || c.startsWith("set "))).to.deep.equal([]);
    expect(await stack.getAllConfig()).to.deep.equal(before);
    expect(pendingRecovery(path.join(tmp, ".churn-model", "promotions", "production"))).to.equal(undefined);
  });

  it("turns a locked stack into ConcurrentUpdate and restores the config", async function () {
    const stack = new FakeStack(productionConfig(), {
      up: async () => {
        throw new Error(
          "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
        );
      },
    });
    const before = await stack.getAllConfig();
    const r = rollout(stack);
    await r.prepare(prepare);
    try {
      const err = await r.deploy(evidence, () => undefined).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConcurrentUpdate);
      expect(await stack.getAllConfig()).to.deep.equal(before);
    } finally {
      await r.close();
    }
  });

  it("reports a failed update that started as { ok: false } and keeps the new config for the rollback", async function () {
    const stack = new FakeStack(productionConfig(), {
      up: async () => {
        stack.historyEntries = [{ startTime: new Date(), kind: "update", version: 0 }];
        throw new Error("error: update failed\n  kubernetes:apps/v1:Deployment churn-model: timed out");
      },
    });
    const r = rollout(stack);
    await r.prepare(prepare);
    try {
      const res = await r.deploy(evidence, () => undefined);
      expect(res).to.deep.equal({
        ok: false,
        reason: "error: update failed | kubernetes:apps/v1:Deployment churn-model: timed out",
      });
      expect(stack.config["churn-model:modelVersion"].value).to.equal("1.1.0");
    } finally {
      await r.close();
    }
  });

  describe("verification", function () {
    let prometheus: { url: string; close: () => Promise<void> };
    let service: { url: string; close: () => Promise<void> };
    const probed: string[] = [];

    before(async function () {
      prometheus = await listen(prometheusAnswering());
      // The service is ready on /ready only; /healthz does not exist here.
      service = await listen((req, res) => {
        probed.push(req.url ?? "");
        res.statusCode = req.url === "/ready" ? 200 : 404;
        res.end();
      });
    });

    after(async function () {
      await prometheus.close();
      await service.close();
    });

    beforeEach(function () {
      probed.length = 0;
    });

    function served(config: Record<string, string>): FakeStack {
      return new FakeStack(config, {
        outputs: { serviceUrl: service.url, prometheusUrl: prometheus.url, namespace: "production" },
      });
    }

    it("probes the readiness path the stack config names and passes a healthy bake", async function () {
      const stack = served(productionConfig({ "churn-model:probes": '{"readinessPath":"/ready"}' }));
      const r = rollout(stack);
      const result = await r.verify("1.1.0", () => undefined);
      expect(result).to.deep.equal({ healthy: true, reasons: [] });
      expect(probed.length).to.be.greaterThan(0);
      expect([...new Set(probed)]).to.deep.equal(["/ready"]);
    });

    it("selects the stack once for a whole promotion (each selection is an engine process), and again after a failed one", async function () {
      const stack = served(productionConfig({ "churn-model:probes": '{"readinessPath":"/ready"}' }));
      let selections = 0;
      let failNext = true;
      const r = rollout(stack, {
        selectStack: async () => {
          selections++;
          if (failNext) {
            failNext = false;
            throw new Error("backend unreachable");
          }
          return stack.asStack();
        },
      });
      await r.prepare(prepare);
      try {
        const err = await r.current().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(err?.message).to.equal("backend unreachable");
        await r.current();
        await r.target();
        expect((await r.deploy(evidence, () => undefined)).ok).to.equal(true);
        expect((await r.verify("1.1.0", () => undefined)).healthy).to.equal(true);
        expect(selections).to.equal(2);
      } finally {
        await r.close();
      }
    });

    it("fires the readiness trigger on the default /healthz when the config names no path", async function () {
      const stack = served(productionConfig());
      const r = rollout(stack, { bakeSeconds: 60 });
      const result = await r.verify("1.1.0", () => undefined);
      expect(result.healthy).to.equal(false);
      expect(result.reasons).to.deep.equal([
        "readiness: 3 health checks in a row failed (GET /healthz answered 404)",
      ]);
      expect([...new Set(probed)]).to.deep.equal(["/healthz"]);
    });

    describe("recovery first", function () {
      const previousEvidence = JSON.stringify(
        signEvidence(
          earlierPromotionRecord({
            image: "registry.internal.example.com/ml/churn-model:1.0.0",
            thresholds: THRESHOLDS,
          }),
          generateEvidenceKeyPair().privateKeyPem,
        ),
      );
      const lockDir = () => lockDirOf(tmp);
      function plantStale(over: Partial<Journal> = {}): void {
        const j: Journal = {
          generation: 3,
          stack: "production",
          holder: {
            host: os.hostname(),
            bootId: bootId(),
            pid: 2 ** 22 + 99,
            startTime: 1,
            startedAt: "2026-01-01T00:00:00Z",
            nonce: "n",
          },
          state: "held",
          phase: "updating",
          previousConfig: {
            "churn-model:modelVersion": "1.0.0",
            "churn-model:promotionEvidence": previousEvidence,
          },
          target: "1.1.0",
          approver: "alice",
          sessions: [],
          updatedAt: "2026-01-01T00:00:01Z",
          ...over,
        };
        fs.mkdirSync(lockDir(), { recursive: true });
        fs.writeFileSync(generationFile(lockDir(), 3), JSON.stringify(j));
      }
      function interrupted(): FakeStack {
        // What a promotion killed mid-update leaves: the candidate's version and evidence in the
        // config, and in the engine's history the update before it that ran 1.0.0.
        const stack = served(
          productionConfig({
            "churn-model:probes": '{"readinessPath":"/ready"}',
            "churn-model:modelVersion": "1.1.0",
            "churn-model:promotionEvidence": '{"record":{"modelVersion":"1.1.0"}}',
          }),
        );
        stack.historyEntries = [
          {
            startTime: new Date("2025-12-31T12:00:00Z"),
            kind: "update",
            version: 1,
            result: "succeeded",
            config: {
              "churn-model:modelVersion": { value: "1.0.0" },
              "churn-model:promotionEvidence": { value: previousEvidence },
            },
          },
        ];
        return stack;
      }

      it("refuses a dry run while a recovery is pending and changes nothing", async function () {
        plantStale();
        const stack = interrupted();
        const before = fs.readdirSync(lockDir());
        const r = rollout(stack);
        const err = await r.prepare({ ...prepare, readOnly: true }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(RecoveryPending);
        expect((err as Error).message).to.match(
          /^the promotion of 1\.1\.0 to production started 2026-01-01T00:00:00Z \(host .*, pid 4194403\) ended during "updating" without finishing\. Recovery \(roll-back\) is pending: the next promotion does it first\. Nothing was decided or changed$/,
        );
        await r.close();
        expect(stack.calls).to.deep.equal([]);
        expect(fs.readdirSync(lockDir())).to.deep.equal(before);
      });

      it("rolls an interrupted promotion back to the version before it, with fresh evidence, then verifies it", async function () {
        plantStale();
        const stack = interrupted();
        const signed: string[] = [];
        const rollbackEvidence = {
          record: { modelVersion: "1.0.0", approver: "alice", kind: "rollback" },
          signature: "fresh",
        } as unknown as Parameters<StackRollout["deploy"]>[0];
        const log: string[] = [];
        const r = rollout(stack, { log: (l) => log.push(l) });
        await r.prepare({
          readOnly: false,
          signRollback: (prev, approver) => {
            signed.push(`${prev.record.modelVersion} by ${approver}`);
            return rollbackEvidence;
          },
        });
        expect(signed).to.deep.equal(["1.0.0 by alice"]);
        expect(stack.calls).to.deep.equal([
          "refresh",
          "set churn-model:modelVersion, churn-model:promotionEvidence",
          "up with the pack",
        ]);
        expect(stack.config["churn-model:modelVersion"].value).to.equal("1.0.0");
        expect(JSON.parse(stack.config["churn-model:promotionEvidence"].value)).to.deep.equal(
          rollbackEvidence,
        );
        expect(
          log.some((l) => l.startsWith("recovering production: the promotion started 2026-01-01T00:00:00Z")),
        ).to.equal(true);
        expect(log).to.include("recovered production: it runs 1.0.0 again, verified healthy");
        expect(readLatest(lockDir())).to.deep.include({ phase: "locked", state: "held", tookOverFrom: 3 });
        await r.close();
        expect(readLatest(lockDir())?.state).to.equal("released");
      });

      it("cancels the engine's lock only when an engine process of the journal took it", async function () {
        const session = { pid: 2 ** 22 + 7, startTime: 1, bootId: bootId(), command: "pulumi up" };
        plantStale({ sessions: [session] });
        const stack = interrupted();
        const r = rollout(stack, {
          engineLocks: () => [{ file: "l.json", pid: session.pid, hostname: os.hostname() }],
        });
        await r.prepare(prepare);
        expect(stack.calls.slice(0, 2)).to.deep.equal(["cancel", "refresh"]);
        await r.close();
      });

      it("never cancels an engine update it did not start, and changes nothing", async function () {
        plantStale();
        const stack = interrupted();
        const r = rollout(stack, {
          engineLocks: () => [{ file: "l.json", pid: 4242, hostname: "someone-else" }],
        });
        const err = await r.prepare(prepare).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(ConcurrentUpdate);
        expect((err as Error).message).to.equal(
          "production is locked by an engine update this tool did not start (pid 4242 on someone-else); it is not cancelled, and recovery waits for it: nothing was changed",
        );
        expect(stack.calls).to.deep.equal([]);
        await r.close();
        expect(pendingRecovery(lockDir())?.phase, "the recovery stays pending").to.equal("rolling-back");
      });

      it("keeps the recovery pending (exit 6) when the rollback's verification fails", async function () {
        plantStale();
        const stack = served(
          productionConfig({
            "churn-model:modelVersion": "1.1.0",
            "churn-model:probes": '{"readinessPath":"/missing"}',
          }),
        );
        stack.historyEntries = interrupted().historyEntries;
        const r = rollout(stack, { bakeSeconds: 60 });
        const err = await r.prepare(prepare).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(HumanNeeded);
        expect((err as HumanNeeded).exitCode).to.equal(6);
        expect((err as Error).message).to.match(
          /^recovering production: 1\.0\.0 is not healthy after the rollback: readiness/,
        );
        await r.close();
        expect(pendingRecovery(lockDir())?.phase).to.equal("rolling-back");
      });

      it("restores the config of an interrupted first promotion and asks for a person once", async function () {
        plantStale({
          previousConfig: { "churn-model:modelVersion": null, "churn-model:promotionEvidence": null },
        });
        const stack = interrupted();
        // A first promotion: the engine's history has no update before it.
        stack.historyEntries = [];
        const r = rollout(stack);
        const err = await r.prepare(prepare).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(HumanNeeded);
        expect(stack.calls).to.deep.equal([
          "refresh",
          "remove churn-model:modelVersion",
          "remove churn-model:promotionEvidence",
        ]);
        await r.close();
        expect(readLatest(lockDir())?.state).to.equal("released");
      });
    });

    it("judges production against the policy config's numbers, not restated ones", async function () {
      // The fake Prometheus reports p99 120 ms: over a policy limit of 100 ms, that fires.
      const stack = served(productionConfig({ "churn-model:probes": '{"readinessPath":"/ready"}' }));
      const r = rollout(stack, { thresholds: { ...THRESHOLDS, maxLatencyP99Ms: 100 }, bakeSeconds: 60 });
      const result = await r.verify("1.1.0", () => undefined);
      expect(result.healthy).to.equal(false);
      expect(result.reasons).to.have.length(1);
      expect(result.reasons[0]).to.match(/^p99 latency 120 ms over \d+s exceeds 100 ms$/);
    });
  });
});
