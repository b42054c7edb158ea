/**
 * The production rollout's unit tests' stand-in for a stack: the parts of the Automation API's
 * `Stack` the rollout uses, in memory, recording each call; `up` does what the test says. And
 * a rollout on it, with its lock beside a file backend in a temporary directory.
 */
import * as fs from "fs";
import * as path from "path";
import type { ProductionStack } from "../../scripts/promotion/production-stack";
import { promotionLockDir, StackRollout } from "../../scripts/promotion/rollout";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import { stackConfigMap } from "./stack-config";
import { initialPosition, POSITION_OUTPUT } from "../../policy/contract";

export const THRESHOLDS_FILE = path.resolve(__dirname, "..", "fixtures", "thresholds", "production.json");
export const THRESHOLDS: Thresholds = JSON.parse(fs.readFileSync(THRESHOLDS_FILE, "utf8"))[
  "promotion-evidence"
];

/** The fully qualified name the fake production stack's position names. */
export const FAKE_STACK = "organization/churn-model/production";

export type ConfigMap = Record<string, { value: string; secret?: boolean }>;

export class FakeStack {
  /** Every call that changes something, in order: `set <key>[, <key>…]`, `remove <key>[, <key>…]`, `up` or `up with the pack`, `refresh`, `cancel`. */
  readonly calls: string[] = [];
  readonly config: ConfigMap;
  /** The config each `up` ran with. */
  readonly upConfigs: ConfigMap[] = [];
  historyEntries: {
    startTime: Date;
    kind: string;
    version: number;
    result?: string;
    config?: Record<string, { value: string }>;
  }[] = [];
  constructor(
    config: Record<string, string>,
    private readonly opts: { up?: () => Promise<void>; outputs?: Record<string, unknown> } = {},
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
  /** One engine process for all: the calls record one entry, `set a, b`. */
  async setAllConfig(config: Record<string, { value: string; secret?: boolean }>): Promise<void> {
    this.calls.push(`set ${Object.keys(config).join(", ")}`);
    for (const [key, value] of Object.entries(config))
      this.config[key] = { value: value.value, ...(value.secret ? { secret: true } : {}) };
  }
  async removeAllConfig(keys: string[]): Promise<void> {
    this.calls.push(`remove ${keys.join(", ")}`);
    for (const key of keys) delete this.config[key];
  }
  async up(opts: { policyPacks?: string[] } = {}): Promise<unknown> {
    this.calls.push(`up${opts.policyPacks?.length ? " with the pack" : ""}`);
    this.upConfigs.push(JSON.parse(JSON.stringify(this.config)) as ConfigMap);
    await this.opts.up?.();
    return {};
  }
  async refresh(): Promise<unknown> {
    this.calls.push("refresh");
    return {};
  }
  async cancel(): Promise<void> {
    this.calls.push("cancel");
  }
  async history(): Promise<unknown[]> {
    return this.historyEntries;
  }
  /** The outputs given, and production's position (a stack that has recorded none yet) unless given. */
  async outputs(): Promise<Record<string, { value: unknown }>> {
    const outputs = { [POSITION_OUTPUT]: initialPosition(FAKE_STACK), ...(this.opts.outputs ?? {}) };
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { value: v }]));
  }
  /** The stack's tags (the promotion journal in the backend); `failTagWrites` makes writes fail. */
  readonly tags: Record<string, string> = {};
  failTagWrites = false;
  async listTags(): Promise<Record<string, string>> {
    return { ...this.tags };
  }
  async setTag(key: string, value: string): Promise<void> {
    if (this.failTagWrites) throw new Error("error: [403] forbidden");
    this.calls.push(`tag ${key}`);
    this.tags[key] = value;
  }
  asStack(): ProductionStack {
    return this as unknown as ProductionStack;
  }
}

/** The production stack's config of test/helpers/stack-config.ts as `churn-model:` keys, with `over` on top. */
export function productionConfig(over: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of stackConfigMap("production")) out[`churn-model:${k}`] = v;
  return { ...out, ...over };
}

/** The file backend the rollouts of `tmp` share. */
export const backendEnv = (tmp: string) => ({ PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}` });

/** Where the rollouts of `tmp` keep the promotion lock of production. */
export const lockDirOf = (tmp: string) => promotionLockDir({ env: backendEnv(tmp) }, "production");

/** A rollout of production on `stack`, its project and state in `tmp`. */
export function fakeRollout(
  tmp: string,
  stack: FakeStack,
  over: Partial<ConstructorParameters<typeof StackRollout>[0]> = {},
): StackRollout {
  return new StackRollout({
    stack: "production",
    policyConfigFile: THRESHOLDS_FILE,
    thresholds: THRESHOLDS,
    bakeSeconds: 2,
    projectDir: tmp,
    env: backendEnv(tmp),
    engineLocks: () => [],
    selectStack: async () => stack.asStack(),
    ...over,
  });
}
