/**
 * The production rollout's canary updates against an in-process fake of the stack: the
 * canary key set and removed around the stable, the journal while a canary runs, and the
 * stable's promotion taking the canary away in the same update.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { readLatest } from "../../scripts/promotion/lock";
import { StackRollout } from "../../scripts/promotion/rollout";
import { fakeRollout, FakeStack, lockDirOf, productionConfig, THRESHOLDS } from "../helpers/fake-stack";
import { earlierPromotionRecord } from "../fixtures/evidence-records";

const CANARY_KEY = "churn-model:canary";
const RECORD_KEY = "churn-model:canaryRecord";

describe("canary updates of the production rollout", function () {
  let tmp: string;
  const keys = generateEvidenceKeyPair();

  beforeEach(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-canary-rollout-"));
  });

  afterEach(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const rollout = (stack: FakeStack): StackRollout => fakeRollout(tmp, stack, { bakeSeconds: 10 });

  const journal = () => readLatest(lockDirOf(tmp));

  const prepare = (r: StackRollout) =>
    r
      .prepare({ readOnly: true, signRollback: () => ({}) as never })
      .then(() => r.prepare({ readOnly: false, signRollback: () => ({}) as never }));

  it("sets the canary with the pack, keeps the journal 'updating' while it runs, and settles when it is removed", async function () {
    const stack = new FakeStack(productionConfig());
    const r = rollout(stack);
    await prepare(r);
    const spec = { version: "1.1.0", weight: 10, promotionEvidence: "{}" };
    expect(await r.setCanary(spec, () => undefined)).to.deep.include({ ok: true });
    expect(JSON.parse(stack.config[CANARY_KEY].value)).to.deep.equal(spec);
    expect(stack.config["churn-model:modelVersion"].value).to.equal("1.0.0");
    expect(journal()).to.deep.include({ phase: "updating", target: "1.1.0" });
    expect(journal()?.previousConfig).to.deep.include({
      [CANARY_KEY]: null,
      "churn-model:modelVersion": "1.0.0",
    });

    expect(await r.setCanary(null, () => undefined, '{"record":1}')).to.deep.include({ ok: true });
    expect(stack.config).to.not.have.property(CANARY_KEY);
    expect(stack.config[RECORD_KEY].value).to.equal('{"record":1}');
    expect(journal()?.phase).to.equal("locked");
    expect(stack.calls.filter((c) => c.startsWith("up"))).to.deep.equal([
      "up with the pack",
      "up with the pack",
    ]);
    await r.close();
  });

  it("takes the canary away in the same update that moves the stable, keeping the canary record with it", async function () {
    const stack = new FakeStack(productionConfig());
    const r = rollout(stack);
    await prepare(r);
    await r.setCanary({ version: "1.1.0", weight: 50, promotionEvidence: "{}" }, () => undefined);
    const evidence = signEvidence(
      earlierPromotionRecord({
        modelVersion: "1.1.0",
        image: "registry.internal.example.com/ml/churn-model:1.1.0",
        measured: {
          accuracy: 0.9,
          latencyP99Ms: 100,
          errorRate: 0,
          uptime: 1,
          soakHours: 30,
          requests: 5000,
          labeledPredictions: 500,
        },
        thresholds: THRESHOLDS,
      }),
      keys.privateKeyPem,
    );
    expect(await r.deploy(evidence, () => undefined, '{"passed":true}')).to.deep.include({ ok: true });
    const ran = stack.upConfigs[stack.upConfigs.length - 1];
    expect(ran).to.not.have.property(CANARY_KEY);
    expect(ran["churn-model:modelVersion"].value).to.equal("1.1.0");
    expect(ran[RECORD_KEY].value).to.equal('{"passed":true}');
    // Recovery would return to the version before the canary, with the canary gone.
    expect(journal()?.previousConfig).to.deep.include({
      "churn-model:modelVersion": "1.0.0",
      [CANARY_KEY]: null,
    });
    await r.close();
  });

  it("reads the canary target from the stack's outputs and config", async function () {
    const stack = new FakeStack(productionConfig(), {
      outputs: {
        prometheusUrl: "http://127.0.0.1:9090",
        serviceUrl: "http://127.0.0.1:8080",
        namespace: "production",
        metricsSelector: { namespace: "production", version: "1.0.0" },
        canary: { modelVersion: "1.1.0", metricsSelector: { namespace: "production", version: "1.1.0" } },
      },
    });
    const target = await rollout(stack).canaryTarget();
    expect(target).to.deep.equal({
      prometheusUrl: "http://127.0.0.1:9090",
      namespace: "production",
      replicas: { min: 3, max: 10 },
      stableSelector: { namespace: "production", version: "1.0.0" },
      canarySelector: { namespace: "production", version: "1.1.0" },
    });
  });
});
