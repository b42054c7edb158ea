/**
 * The promote CLI's main() with fake Prometheus, staging and production (unit tests): the
 * fixtures of a healthy candidate, a recording production deployer, and a runner.
 */
import type { PromotionTarget } from "../../scripts/promotion/evidence";
import { TEST_TARGET } from "../fixtures/evidence-records";
import * as fs from "fs";
import * as path from "path";
import { PassThrough } from "stream";
import { CliIO, main } from "../../scripts/promote";
import type { SignedEvidence } from "../../scripts/promotion/evidence";
import type { StagingSnapshot } from "../../scripts/promotion/outputs";
import type { PromotionDeps } from "../../scripts/promotion/promotion";
import type { Thresholds } from "../../scripts/promotion/thresholds";
import type {
  PrepareOptions,
  ProductionDeployer,
  ProductionState,
  UpdateResult,
  VerifyResult,
} from "../../scripts/promotion/deployer";
import { FakePrometheus, Numbers } from "./fake-prometheus";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";

export const THRESHOLDS_FILE = path.resolve(__dirname, "..", "fixtures", "thresholds", "production.json");
export const THRESHOLDS: Thresholds = JSON.parse(fs.readFileSync(THRESHOLDS_FILE, "utf8"))[
  "promotion-evidence"
];
export const NOW = new Date("2025-03-02T12:00:00Z");
export const DEPLOYED_AT = new Date("2025-03-01T06:00:00Z");

export const GOOD: Numbers = {
  accuracy: 0.91,
  latency: 180,
  errors: 0.002,
  uptime: 1,
  requests: 172800,
  labeled: 34560,
};

/** Staging's outputs; the artifact is the one the sandbox reports for the image, unless `over` names one. */
export function snapshot(over: Partial<StagingSnapshot["outputs"]> = {}): StagingSnapshot {
  const image = over.image ?? "registry.local/churn-model:1.1.0";
  return {
    stack: "staging",
    updateVersion: 7,
    outputs: {
      modelVersion: "1.1.0",
      image,
      namespace: "staging",
      deployedAt: DEPLOYED_AT,
      serviceUrl: "http://churn-model.staging.svc:8080",
      prometheusUrl: "http://prometheus.test",
      metricsSelector: { namespace: "staging", version: "1.1.0" },
      artifact: sandboxArtifact(image),
      ...over,
    },
  };
}

/** Records what the CLI asks of production. */
export class FakeDeployer implements ProductionDeployer {
  readonly calls: string[] = [];
  /** How each run started and ended: "prepare read-only", "prepare", "close". */
  readonly lifecycle: string[] = [];
  readonly deployed: SignedEvidence[] = [];
  readonly rolledBack: SignedEvidence[] = [];
  constructor(
    private readonly state: ProductionState,
    private readonly outcomes: {
      deploy?: UpdateResult | Error;
      verify?: VerifyResult[];
      rollback?: UpdateResult;
      prepare?: Error;
    } = {},
  ) {}
  async prepare(opts: PrepareOptions): Promise<void> {
    this.lifecycle.push(opts.readOnly ? "prepare read-only" : "prepare");
    if (this.outcomes.prepare !== undefined) throw this.outcomes.prepare;
  }
  async close(): Promise<void> {
    this.lifecycle.push("close");
  }
  async current(): Promise<ProductionState> {
    this.calls.push("current");
    return this.state;
  }
  async target(): Promise<PromotionTarget> {
    return TEST_TARGET;
  }
  async deploy(evidence: SignedEvidence): Promise<UpdateResult> {
    this.calls.push(`deploy ${evidence.record.modelVersion}`);
    this.deployed.push(evidence);
    const o = this.outcomes.deploy ?? { ok: true, updateVersion: 3 };
    if (o instanceof Error) throw o;
    return o;
  }
  async verify(modelVersion: string): Promise<VerifyResult> {
    this.calls.push(`verify ${modelVersion}`);
    return this.outcomes.verify?.shift() ?? { healthy: true, reasons: [] };
  }
  async rollback(evidence: SignedEvidence): Promise<UpdateResult> {
    this.calls.push(`rollback ${evidence.record.modelVersion}`);
    this.rolledBack.push(evidence);
    return this.outcomes.rollback ?? { ok: true, updateVersion: 4 };
  }
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs main() on `argv` with the fixtures' dependencies (the policy config, staging, Prometheus,
 * the clock) and `overrides`; an override given as undefined is the CLI's real dependency.
 */
export async function runPromote(
  argv: string[],
  overrides: Partial<PromotionDeps> = {},
  env: NodeJS.ProcessEnv = {},
): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: new PassThrough(),
    env,
  };
  const deps: Partial<PromotionDeps> = {
    policyConfig: () => THRESHOLDS_FILE,
    readStaging: async () => snapshot(),
    prometheus: () => new FakePrometheus(GOOD),
    now: () => NOW,
    ...overrides,
  };
  // An override given as undefined leaves that dependency the CLI's real one.
  const code = await main(
    argv,
    io,
    Object.fromEntries(Object.entries(deps).filter(([, v]) => v !== undefined)) as Partial<PromotionDeps>,
  );
  return { code, stdout, stderr };
}
