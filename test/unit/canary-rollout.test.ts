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
import { ProductionStack, promotionLockDir, StackRollout } from "../../scripts/promotion/rollout";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import { stackConfigMap } from "../helpers/stack-config";
import { earlierPromotionRecord } from "../fixtures/evidence-records";

const THRESHOLDS_FILE = path.resolve(__dirname, "..", "fixtures", "thresholds", "production.json");
const THRESHOLDS: Thresholds = JSON.parse(fs.readFileSync(THRESHOLDS_FILE, "utf8"))["promotion-evidence"];
const CANARY_KEY = "churn-model:canary";
const RECORD_KEY = "churn-model:canaryRecord";

type ConfigMap = Record<string, { value: string }>;

class FakeStack {
  readonly calls: string[] = [];
  readonly config: ConfigMap;
  /** The config each `up` ran with. */
  readonly upConfigs: ConfigMap[] = [];
  constructor(
    config: Record<string, string>,
    private readonly outputValues: Record<string, unknown> = {},
  ) {
    this.config = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, { value: v }]));
  }
  async getAllConfig(): Promise<ConfigMap> {
    return JSON.parse(JSON.stringify(this.config)) as ConfigMap;
  }
  async setConfig(key: string, value: { value: string }): Promise<void> {
    this.calls.push(`set ${key}`);
    this.config[key] = { value: value.value };
  }
  async removeConfig(key: string): Promise<void> {
    this.calls.push(`remove ${key}`);
    delete this.config[key];
  }
  async up(opts: { policyPacks?: string[] }): Promise<unknown> {
    this.calls.push(`up${opts.policyPacks?.length ? " with the pack" : ""}`);
    this.upConfigs.push(JSON.parse(JSON.stringify(this.config)) as ConfigMap);
    return {};
  }
  async refresh(): Promise<unknown> {
    return {};
  }
  async cancel(): Promise<void> {}
  async history(): Promise<unknown[]> {
    return [];
  }
  async outputs(): Promise<Record<string, { value: unknown }>> {
    return Object.fromEntries(Object.entries(this.outputValues).map(([k, v]) => [k, { value: v }]));
  }
  asStack(): ProductionStack {
    return this as unknown as ProductionStack;
  }
}

function productionConfig(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of stackConfigMap("production")) out[`churn-model:${k}`] = v;
  return out;
}

describe("canary updates of the production rollout", function () {
  let tmp: string;
  const keys = generateEvidenceKeyPair();

  beforeEach(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-canary-rollout-"));
  });

  afterEach(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function rollout(stack: FakeStack): StackRollout {
    return new StackRollout({
      stack: "production",
      policyConfigFile: THRESHOLDS_FILE,
      thresholds: THRESHOLDS,
      bakeSeconds: 10,
      projectDir: tmp,
      env: { PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}` },
      engineLocks: () => [],
      selectStack: async () => stack.asStack(),
    });
  }

  const journal = () =>
    readLatest(
      promotionLockDir(
        { projectDir: tmp, env: { PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}` } },
        "production",
      ),
    );

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
      prometheusUrl: "http://127.0.0.1:9090",
      serviceUrl: "http://127.0.0.1:8080",
      namespace: "production",
      metricsSelector: { namespace: "production", version: "1.0.0" },
      canary: { modelVersion: "1.1.0", metricsSelector: { namespace: "production", version: "1.1.0" } },
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
