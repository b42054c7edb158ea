/**
 * The staging → production stories of the demo, on the sandbox, through the real CLIs
 * (deploy, promote) and the real `pulumi` — each story returns what happened so the demo
 * can print it and the e2e suite can assert on it.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { selectStack } from "../promotion/engine";
import { generateEvidenceKeyPair, signEvidence, SignedEvidence } from "../promotion/evidence";
import { loadThresholds, Thresholds } from "../promotion/thresholds";
import { sandboxEnv, SandboxState } from "../sandbox/cli";
import { generateDataset, LabeledCustomer } from "../sandbox/service/dataset";
import { startTraffic, TrafficRun } from "../sandbox/traffic";
import { processEnv, REPO_ROOT, toolPath } from "../toolchain/env";

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
  checks: { name: string; value: number | null; threshold: number | null; passed: boolean; reason: string }[];
}

export interface StoryResult {
  readonly title: string;
  readonly expectation: string;
  readonly ok: boolean;
  readonly runs: CliRun[];
  readonly decision?: DecisionJson;
  readonly productionVersionAfter: string | null;
  readonly ms: number;
}

/**
 * Staging mirrors the online channel: customers who pay electronically. Production serves
 * everyone, mailed-check payers included — which is where the error-prone version breaks.
 */
export function stagingSegment(rows: readonly LabeledCustomer[]): LabeledCustomer[] {
  return rows.filter((r) => r.features.paymentMethod !== "mailed-check");
}

export class Stories {
  private traffic: TrafficRun[] = [];
  readonly results: StoryResult[] = [];
  private readonly env: NodeJS.ProcessEnv;
  readonly thresholds: Thresholds;

  constructor(
    readonly sandbox: SandboxState,
    private readonly log: Log,
    private readonly opts: { bake: string; trafficRate: number } = { bake: "30s", trafficRate: 15 },
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
      startTraffic({
        ...common,
        targets: [this.sandbox.services.production],
        dataset: all,
        startIndex: 2500,
      }),
    ];
    this.log(
      `traffic: ${this.opts.trafficRate} req/s to staging (online customers) and to production (all customers)`,
    );
  }

  async stopTraffic(): Promise<void> {
    await Promise.all(this.traffic.map((t) => t.stop()));
    this.traffic = [];
  }

  /** Runs one of the project's CLIs (scripts/<name>.ts) as its own process, streaming stderr. */
  runCli(
    name: "deploy" | "promote" | "preview",
    args: string[],
    extraEnv: Record<string, string> = {},
  ): Promise<CliRun> {
    const script = path.join(REPO_ROOT, "scripts", `${name}.ts`);
    const argv = ["-r", require.resolve("ts-node/register/transpile-only"), script, ...args];
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

  async productionVersion(): Promise<string | null> {
    const stack = await selectStack("production", {
      projectDir: this.sandbox.projectDir,
      env: sandboxEnv(this.sandbox),
    });
    const outputs = await stack.outputs();
    return (outputs.modelVersion?.value as string | undefined) ?? null;
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

  async promote(version: string, extra: string[] = []): Promise<{ run: CliRun; decision?: DecisionJson }> {
    const run = await this.runCli("promote", [
      "--model-version",
      version,
      "--thresholds",
      PRODUCTION_POLICY,
      "--window",
      "1h",
      "--approved-by",
      "demo-approver",
      "--bake",
      this.opts.bake,
      "--json",
      ...extra,
    ]);
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
    return { run, decision };
  }

  private async story(
    title: string,
    expectation: string,
    body: () => Promise<{ ok: boolean; runs: CliRun[]; decision?: DecisionJson }>,
  ): Promise<StoryResult> {
    const t0 = Date.now();
    this.log("");
    this.log(`━━ ${title}`);
    this.log(`   expected: ${expectation}`);
    const r = await body();
    const result: StoryResult = {
      title,
      expectation,
      ...r,
      productionVersionAfter: await this.productionVersion().catch(() => null),
      ms: Date.now() - t0,
    };
    this.results.push(result);
    this.log(
      `   ${result.ok ? "✔" : "✘"} ${title}: production runs ${result.productionVersionAfter ?? "nothing"} ` +
        `(${(result.ms / 1000).toFixed(0)}s)`,
    );
    return result;
  }

  /**
   * The road every candidate takes: deploy to staging, soak, promote. Stops after a failed
   * deploy (no `run`). Records production's version before and after.
   */
  private async throughStaging(version: string): Promise<{
    runs: CliRun[];
    run?: CliRun;
    decision?: DecisionJson;
    before: string | null;
    after: string | null;
  }> {
    const before = await this.productionVersion().catch(() => null);
    const deploy = await this.deployStaging(version);
    if (deploy.code !== 0) return { runs: [deploy], before, after: before };
    await this.soak(version);
    const { run, decision } = await this.promote(version);
    const after = await this.productionVersion().catch(() => null);
    return { runs: [deploy, run], run, decision, before, after };
  }

  /** 1 and 2: deploy to staging, soak, pass the gate, get approved, update production. */
  promoteStory(n: number, version: string, what: string): Promise<StoryResult> {
    return this.story(
      `${n}. ${what} ${version}: staging → gate → production`,
      "promoted (exit 0)",
      async () => {
        const r = await this.throughStaging(version);
        return r.run
          ? { ok: r.run.code === 0, runs: r.runs, decision: r.decision }
          : { ok: false, runs: r.runs };
      },
    );
  }

  /** 3: a version whose accuracy regressed is refused by the gate; production is untouched. */
  rejectStory(version: string): Promise<StoryResult> {
    return this.story(
      `3. accuracy regression ${version}: refused by the gate`,
      "gate rejects (exit 3), production unchanged",
      async () => {
        const r = await this.throughStaging(version);
        if (!r.run) return { ok: false, runs: r.runs };
        return {
          ok: r.run.code === 3 && r.decision?.decision === "reject" && r.before === r.after,
          runs: r.runs,
          decision: r.decision,
        };
      },
    );
  }

  /**
   * 4: pushing the refused version to production by hand. The stack config file is restored
   * after each attempt, as a reviewer would revert it.
   */
  manualStory(version: string): Promise<StoryResult> {
    return this.story(
      `4. ${version} pushed to production by hand`,
      "each attempt refused; production unchanged",
      async () => {
        const file = path.join(this.sandbox.projectDir, "Pulumi.production.yaml");
        const original = fs.readFileSync(file, "utf8");
        const before = await this.productionVersion();
        const pack = [
          "--policy-pack",
          path.join(REPO_ROOT, "policy"),
          "--policy-pack-config",
          PRODUCTION_POLICY,
        ];
        const base = ["up", "--stack", "production", "--yes", "--skip-preview", "--color", "never"];
        const runs: CliRun[] = [];
        const attempt = async (label: string, args: string[]) => {
          this.log(`── ${label}`);
          try {
            runs.push(await this.runPulumi(args));
          } finally {
            fs.writeFileSync(file, original);
          }
        };
        await attempt("without the policy pack", [
          ...base,
          "--config",
          `churn-model:modelVersion=${version}`,
        ]);
        await attempt("with the policy pack", [
          ...base,
          ...pack,
          "--config",
          `churn-model:modelVersion=${version}`,
        ]);
        // Hand-made evidence, signed with a key of one's own, and stack config pointing the
        // program at a policy config that trusts that key: the program's own check is
        // satisfied, so this is the case only the enforced policy pack can refuse.
        const forged = this.forgedEvidence(version);
        const trust = JSON.parse(fs.readFileSync(PRODUCTION_POLICY, "utf8")) as Record<
          string,
          Record<string, unknown>
        >;
        trust["promotion-evidence"].publicKey = forged.publicKeyPem;
        const trustFile = path.join(path.dirname(this.sandbox.projectDir), "hand-made-policy-config.json");
        fs.writeFileSync(trustFile, JSON.stringify(trust, null, 2));
        await attempt("with hand-made evidence, a key of one's own and the policy pack enforced", [
          ...base,
          ...pack,
          "--config",
          `churn-model:modelVersion=${version}`,
          "--config",
          `churn-model:promotionEvidence=${JSON.stringify(forged.evidence)}`,
          "--config",
          `churn-model:evidencePublicKey=${forged.publicKeyPem}`,
          "--config",
          `churn-model:thresholdsFile=${trustFile}`,
        ]);
        const after = await this.productionVersion();
        return { ok: runs.every((r) => r.code !== 0) && before === after, runs };
      },
    );
  }

  /** Evidence with passing numbers for `version`, signed with a freshly made key. */
  forgedEvidence(version: string): { evidence: SignedEvidence; publicKeyPem: string } {
    const keys = generateEvidenceKeyPair();
    const now = new Date();
    const evidence = signEvidence(
      {
        kind: "promotion",
        modelVersion: version,
        image: `localhost:5000/ml/churn-model:${version}`,
        measured: {
          accuracy: 0.97,
          latencyP99Ms: 20,
          errorRate: 0,
          uptime: 1,
          soakHours: 48,
          requests: 100_000,
          labeledPredictions: 50_000,
        },
        window: { start: new Date(now.getTime() - 86_400_000).toISOString(), end: now.toISOString() },
        thresholds: this.thresholds,
        staging: {
          stack: "staging",
          updateVersion: null,
          deployedAt: new Date(now.getTime() - 2 * 86_400_000).toISOString(),
        },
        approver: "someone",
        createdAt: now.toISOString(),
      },
      keys.privateKeyPem,
    );
    return { evidence, publicKeyPem: keys.publicKeyPem };
  }

  /** 5: a version that passes staging breaks under production traffic and is rolled back. */
  rollbackStory(version: string): Promise<StoryResult> {
    return this.story(
      `5. error-prone ${version}: passes staging, fails in production`,
      "promoted, rollback triggers fire, production back to the previous version (exit 5)",
      async () => {
        const r = await this.throughStaging(version);
        if (!r.run) return { ok: false, runs: r.runs };
        return { ok: r.run.code === 5 && r.after === r.before, runs: r.runs, decision: r.decision };
      },
    );
  }
}
