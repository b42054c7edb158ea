/**
 * Driving the sandbox the way a person would, shared by the demo's stories
 * (scripts/demo/stories.ts), the bench (scripts/bench/sandbox.ts) and the e2e suite: steady
 * traffic, the project's CLIs and `pulumi` run as their own processes in the sandbox project,
 * and the road every candidate takes (deploy to staging, soak, approve, promote). The sandbox's
 * policy configs require one signed approval: demo-approver signs the decision of a dry run with
 * `npm run promote -- approve` and the promotion takes the file with `--approval`.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { POSITION_OUTPUT } from "../../policy/contract";
import { selectStack } from "../promotion/engine";
import { loadThresholds, Thresholds } from "../promotion/thresholds";
import { EntryRuntime, nodeEntryArgs, processEnv, REPO_ROOT, toolPath } from "../toolchain/env";
import { DEMO_APPROVER, DEMO_APPROVER_KEY_FILE, sandboxEnv, SandboxState } from "./cli";
import { generateDataset, LabeledCustomer } from "./service/dataset";
import { startTraffic, TrafficRun } from "./traffic";

export const STAGING_POLICY = path.join(REPO_ROOT, "policy", "config", "sandbox-staging.json");
export const PRODUCTION_POLICY = path.join(REPO_ROOT, "policy", "config", "sandbox-production.json");

/** The model catalog's versions the stories use (scripts/sandbox/service/models.ts). */
export const VERSIONS = {
  baseline: "1.0.0",
  improved: "1.1.0",
  regressed: "1.2.0",
  errorProne: "1.4.0",
} as const;

export interface CliRun {
  readonly command: string;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export type Log = (line: string) => void;

export interface DecisionJson {
  decision: "promote" | "reject";
  modelVersion: string;
  window: { start: string; end: string };
  checks: {
    name: string;
    value: number | null;
    threshold: number | null;
    passed: boolean;
    reason: string;
    /** pass, fail, inconclusive or error (docs/analysis.md). */
    status?: string;
    mode?: string;
    /** What would change a non-pass. */
    next?: string;
  }[];
  outcome?: string;
}

/**
 * Staging mirrors the online channel: customers who pay electronically. Production serves
 * everyone, mailed-check payers included — which is where the error-prone version breaks.
 */
export function stagingSegment(rows: readonly LabeledCustomer[]): LabeledCustomer[] {
  return rows.filter((r) => r.features.paymentMethod !== "mailed-check");
}

export interface DriverOptions {
  /** `--bake` of each promotion, e.g. `30s`. */
  readonly bake: string;
  /** Requests per second to each namespace. */
  readonly trafficRate: number;
  /** Requests per second to production, when it differs from `trafficRate`. */
  readonly productionTrafficRate?: number;
}

export class SandboxDriver {
  private traffic: TrafficRun[] = [];
  /** Approval files by `version@staging deployedAt`. */
  private readonly approvals = new Map<string, string>();
  private readonly env: NodeJS.ProcessEnv;
  readonly thresholds: Thresholds;

  constructor(
    readonly sandbox: SandboxState,
    protected readonly log: Log,
    protected readonly opts: DriverOptions = { bake: "30s", trafficRate: 15 },
  ) {
    this.env = processEnv({ ...process.env, ...sandboxEnv(sandbox) });
    this.thresholds = loadThresholds(PRODUCTION_POLICY);
  }

  /** Steady traffic: the online segment to staging, everyone to production. */
  startTraffic(): void {
    const all = generateDataset();
    const common = { ratePerSecond: this.opts.trafficRate, durationMs: 6 * 3_600_000, feedbackDelayMs: 300 };
    this.traffic = [
      startTraffic({ ...common, targets: [this.sandbox.services.staging], dataset: stagingSegment(all) }),
    ];
    this.startProductionTraffic();
    this.log(
      `traffic: ${this.opts.trafficRate} req/s to staging (online customers), ` +
        `${this.productionRate()} req/s to production (all customers)`,
    );
  }

  private productionTraffic: TrafficRun | undefined;

  private productionRate(): number {
    return this.opts.productionTrafficRate ?? this.opts.trafficRate;
  }

  /** Starts production's traffic again after stopProductionTraffic (a no-op while it runs). */
  startProductionTraffic(): void {
    if (this.productionTraffic !== undefined) return;
    this.productionTraffic = startTraffic({
      ratePerSecond: this.productionRate(),
      durationMs: 6 * 3_600_000,
      feedbackDelayMs: 300,
      targets: [this.sandbox.services.production],
      dataset: generateDataset(),
      startIndex: 2500,
    });
  }

  /** Stops production's traffic only (staging's goes on): a production nobody uses. */
  async stopProductionTraffic(): Promise<void> {
    const t = this.productionTraffic;
    this.productionTraffic = undefined;
    if (t !== undefined) {
      await t.stop();
      this.log("traffic: production's stopped");
    }
  }

  async stopTraffic(): Promise<void> {
    await Promise.all(this.traffic.map((t) => t.stop()));
    this.traffic = [];
    await this.stopProductionTraffic();
  }

  /**
   * Runs one of the project's CLIs (scripts/<name>.ts) as its own process, streaming stderr:
   * compiled when this process runs compiled, unless `runtime` says which (env.ts `nodeEntryArgs`).
   */
  runCli(
    name: "deploy" | "promote" | "preview",
    args: string[],
    extraEnv: Record<string, string> = {},
    runtime?: EntryRuntime,
  ): Promise<CliRun> {
    const script = path.join(REPO_ROOT, "scripts", `${name}.ts`);
    const argv = [...nodeEntryArgs(script, runtime), ...args];
    return this.spawn(`npm run ${name} -- ${args.join(" ")}`, process.execPath, argv, extraEnv);
  }

  /** Runs the pulumi CLI in the sandbox project, as a person would by hand. */
  runPulumi(args: string[]): Promise<CliRun> {
    return this.spawn(`pulumi ${args.join(" ")}`, toolPath("pulumi"), args, {});
  }

  private spawn(
    command: string,
    bin: string,
    argv: string[],
    extraEnv: Record<string, string>,
  ): Promise<CliRun> {
    const t0 = Date.now();
    this.log(`$ ${command}`);
    return new Promise((resolve, reject) => {
      const child = spawn(bin, argv, {
        cwd: this.sandbox.projectDir,
        env: { ...this.env, ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      let partial = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (!command.startsWith("npm run promote")) this.echo(d.toString());
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        partial += d.toString();
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const l of lines) if (l.trim()) this.log(`  │ ${l}`);
      });
      child.on("error", reject);
      child.on("close", (code) => {
        if (partial.trim()) this.log(`  │ ${partial}`);
        resolve({ command, code: code ?? 1, stdout, stderr, ms: Date.now() - t0 });
      });
    });
  }

  private echo(text: string): void {
    for (const l of text.split("\n")) if (l.trim()) this.log(`  │ ${l}`);
  }

  /** Production's stack outputs, as the engine holds them. */
  private async productionOutputs(): Promise<Record<string, { value: unknown } | undefined>> {
    const stack = await selectStack("production", {
      projectDir: this.sandbox.projectDir,
      env: sandboxEnv(this.sandbox),
    });
    return stack.outputs();
  }

  async productionVersion(): Promise<string | null> {
    return ((await this.productionOutputs()).modelVersion?.value as string | undefined) ?? null;
  }

  /** Production's promotion sequence (the `promotionPosition` output; 0 before the first). */
  async productionSequence(): Promise<number> {
    const position = (await this.productionOutputs())[POSITION_OUTPUT]?.value as
      | { sequence?: unknown }
      | undefined;
    return typeof position?.sequence === "number" ? position.sequence : 0;
  }

  async stagingDeployedAt(): Promise<Date> {
    const stack = await selectStack("staging", {
      projectDir: this.sandbox.projectDir,
      env: sandboxEnv(this.sandbox),
    });
    return new Date((await stack.outputs()).deployedAt.value as string);
  }

  async deployStaging(version: string): Promise<CliRun> {
    return this.runCli("deploy", [
      "--stack",
      "staging",
      "--model-version",
      version,
      "--policy-config",
      STAGING_POLICY,
    ]);
  }

  /** Waits until staging has run the candidate for the soak time (plus scrapes to show it). */
  async soak(version: string): Promise<void> {
    const deployedAt = await this.stagingDeployedAt();
    const until = deployedAt.getTime() + this.thresholds.minSoakHours * 3_600_000 + 15_000;
    const waitMs = Math.max(0, until - Date.now());
    this.log(
      `soak: staging runs ${version} since ${deployedAt.toISOString()}; waiting ${(waitMs / 1000).toFixed(0)}s ` +
        `(minSoakHours ${this.thresholds.minSoakHours} in the sandbox thresholds)`,
    );
    await new Promise((r) => setTimeout(r, waitMs));
  }

  /**
   * demo-approver's signed approval of the decision a dry run of `version` shows now, through the
   * real `npm run promote -- approve`; undefined (with the run) when it refused, e.g. a rejected
   * decision (exit 3). One approval per staging deployment of a version is made and reused.
   */
  async approve(version: string): Promise<{ file?: string; run?: CliRun }> {
    const key = `${version}@${(await this.stagingDeployedAt()).toISOString()}`;
    const known = this.approvals.get(key);
    if (known !== undefined) return { file: known };
    const dir = path.join(path.dirname(this.sandbox.projectDir), "approvals");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${version}-${Date.now()}.json`);
    const run = await this.runCli("promote", [
      "approve",
      "--approver",
      DEMO_APPROVER,
      "--key",
      DEMO_APPROVER_KEY_FILE,
      "--model-version",
      version,
      "--window",
      "1h",
      "--out",
      file,
    ]);
    if (run.code !== 0) return { run };
    this.approvals.set(key, file);
    const digest = /Approved decision (sha256:[0-9a-f]+)/.exec(run.stderr)?.[1];
    this.log(
      `approval: ${DEMO_APPROVER} signed decision ${digest ?? "(digest not shown)"} of ${version} ` +
        `(${(run.ms / 1000).toFixed(1)} s)`,
    );
    return { file, run };
  }

  /** The flags of a sandbox promotion of `version` to production, approved by `approval`, watched for `bake`. */
  promoteArgs(version: string, bake: string = this.opts.bake, approval?: string): string[] {
    return [
      "--model-version",
      version,
      // The thresholds and the pack's config are the production stack's own
      // (churn-model:thresholdsFile of the sandbox project): a promotion takes no --thresholds.
      "--window",
      "1h",
      ...(approval !== undefined ? ["--approval", approval] : []),
      "--bake",
      bake,
    ];
  }

  /**
   * Promotes `version` with demo-approver's approval: the file `opts.approval` names, none when
   * it is null, else one made now (none for a dry run, or when `approve` refused, e.g. a
   * rejected decision).
   */
  async promote(
    version: string,
    extra: string[] = [],
    env: Record<string, string> = {},
    opts: { approval?: string | null; runtime?: EntryRuntime } = {},
  ): Promise<{ run: CliRun; decision?: DecisionJson; approval?: string }> {
    const approval =
      opts.approval === null
        ? undefined
        : (opts.approval ?? (extra.includes("--dry-run") ? undefined : (await this.approve(version)).file));
    const run = await this.runCli(
      "promote",
      [...this.promoteArgs(version, this.opts.bake, approval), "--json", ...extra],
      env,
      opts.runtime,
    );
    let decision: DecisionJson | undefined;
    try {
      decision = JSON.parse(run.stdout) as DecisionJson;
    } catch {
      decision = undefined;
    }
    if (decision) {
      for (const c of decision.checks) {
        this.log(
          `  gate ${c.passed ? "PASS" : "FAIL"} ${c.name.padEnd(12)} value=${c.value ?? "none"} threshold=${c.threshold ?? "-"}` +
            (c.passed ? "" : ` — ${c.reason}`),
        );
      }
    }
    return { run, decision, approval };
  }
}
