/**
 * The staging → production stories of the demo, on the sandbox, through the real CLIs
 * (deploy, promote) and the real `pulumi` — each story returns what happened so the demo
 * can print it and the e2e suite can assert on it. How the sandbox is driven (traffic, CLIs,
 * the road through staging) is shared with the bench: scripts/sandbox/driver.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { loadAnalysisSettings } from "../promotion/analysis-config";
import { generateEvidenceKeyPair, signEvidence, SignedEvidence } from "../promotion/evidence";
import { withHandMadeAnalysis } from "./hand-made-analysis";
import { REPO_ROOT } from "../toolchain/env";
import { DEMO_KEY_FILE } from "../sandbox/cli";
import { CliRun, DecisionJson, PRODUCTION_POLICY, SandboxDriver } from "../sandbox/driver";
import { sandboxArtifact } from "../sandbox/artifact";
import { imageFor, SANDBOX_PROJECT } from "../../policy/contract";

export interface StoryResult {
  readonly title: string;
  readonly expectation: string;
  readonly ok: boolean;
  readonly runs: CliRun[];
  readonly decision?: DecisionJson;
  readonly productionVersionAfter: string | null;
  readonly ms: number;
}

export class Stories extends SandboxDriver {
  readonly results: StoryResult[] = [];

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
   * The road every candidate takes: deploy to staging, soak, demo-approver signs the decision
   * a dry run shows (`approve`; refused for a rejected one), promote with that approval. Stops
   * after a failed deploy (no `run`). Records production's version before and after; `runs`
   * are deploy, approve, promote.
   */
  private async throughStaging(
    version: string,
    extra: string[] = [],
  ): Promise<{
    runs: CliRun[];
    run?: CliRun;
    approve?: CliRun;
    decision?: DecisionJson;
    before: string | null;
    after: string | null;
  }> {
    const before = await this.productionVersion().catch(() => null);
    const deploy = await this.deployStaging(version);
    if (deploy.code !== 0) return { runs: [deploy], before, after: before };
    await this.soak(version);
    const approval = await this.approve(version);
    const { run, decision } = await this.promote(version, extra, {}, { approval: approval.file ?? null });
    const after = await this.productionVersion().catch(() => null);
    const runs = [deploy, ...(approval.run ? [approval.run] : []), run];
    return { runs, run, approve: approval.run, decision, before, after };
  }

  /**
   * 1 and 2: deploy to staging, soak, pass the gate, get approved, update production — all at
   * once, or (`canary`) through every canary step, judged against the stable on the same traffic.
   */
  promoteStory(
    n: number,
    version: string,
    what: string,
    strategy: "all-at-once" | "canary" = "all-at-once",
  ): Promise<StoryResult> {
    return this.story(
      strategy === "canary"
        ? `${n}. ${what} ${version}: staging → gate → canary steps → production`
        : `${n}. ${what} ${version}: staging → gate → production`,
      strategy === "canary"
        ? "every canary step passes, the stable moves to it (exit 0)"
        : "promoted (exit 0)",
      async () => {
        const r = await this.throughStaging(version, ["--strategy", strategy]);
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
   * 4: pushing the refused version to production by hand — without the pack, with it, with
   * hand-made evidence under a key of one's own, and with evidence the evidence key signed but
   * no approver did. The stack config file is restored after each attempt, as a reviewer would
   * revert it.
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
        // Hand-made evidence binds production's current position, as an attacker reading the
        // stack's outputs would: what refuses it is the signature and the approvals, not the sequence.
        const follows = await this.productionSequence();
        const forged = this.forgedEvidence(version, follows);
        const trust = JSON.parse(fs.readFileSync(PRODUCTION_POLICY, "utf8")) as Record<
          string,
          Record<string, unknown>
        >;
        trust["promotion-evidence"].publicKey = forged.publicKeyPem;
        // …and requires no signed approval, so that the program's own check is satisfied.
        delete trust["promotion-evidence"].signaturesRequired;
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
        // The evidence key alone: evidence the runner's own key signed, without an approver's
        // signature, and a program pointed at a policy config that requires none. The pack,
        // with the stack's own config (one signed approval required), refuses it.
        const unapproved = this.handMadeEvidence(version, fs.readFileSync(DEMO_KEY_FILE, "utf8"), follows);
        const lax = JSON.parse(fs.readFileSync(PRODUCTION_POLICY, "utf8")) as Record<
          string,
          Record<string, unknown>
        >;
        delete lax["promotion-evidence"].signaturesRequired;
        const laxFile = path.join(path.dirname(this.sandbox.projectDir), "no-approvals-policy-config.json");
        fs.writeFileSync(laxFile, JSON.stringify(lax, null, 2));
        await attempt(
          "with evidence the evidence key signed, no approver's signature, and the policy pack enforced",
          [
            ...base,
            ...pack,
            "--config",
            `churn-model:modelVersion=${version}`,
            "--config",
            `churn-model:promotionEvidence=${JSON.stringify(unapproved)}`,
            "--config",
            `churn-model:thresholdsFile=${laxFile}`,
          ],
        );
        const after = await this.productionVersion();
        return { ok: runs.every((r) => r.code !== 0) && before === after, runs };
      },
    );
  }

  /** Evidence with passing numbers and their analysis for `version`, signed with a freshly made key. */
  forgedEvidence(version: string, follows = 0): { evidence: SignedEvidence; publicKeyPem: string } {
    const keys = generateEvidenceKeyPair();
    return {
      evidence: this.handMadeEvidence(version, keys.privateKeyPem, follows),
      publicKeyPem: keys.publicKeyPem,
    };
  }

  /** Evidence with passing numbers and their analysis for `version`, approved by nobody, signed with `privateKeyPem`. */
  handMadeEvidence(version: string, privateKeyPem: string, follows = 0): SignedEvidence {
    const now = new Date();
    return signEvidence(
      withHandMadeAnalysis(
        {
          format: 4,
          target: {
            stack: `organization/${SANDBOX_PROJECT}/production`,
            namespace: "production",
            follows,
          },
          kind: "promotion",
          modelVersion: version,
          image: imageFor(`localhost:5000/ml/churn-model`, version),
          artifact: sandboxArtifact(imageFor(`localhost:5000/ml/churn-model`, version)),
          measured: {
            accuracy: 0.97,
            latencyP99Ms: 20,
            errorRate: 0,
            uptime: 1,
            soakHours: 48,
            requests: 100_000,
            labeledPredictions: 50_000,
          },
          // Five minutes: the sandbox's 15 s intervals keep the analysis small enough for a --config.
          window: { start: new Date(now.getTime() - 300_000).toISOString(), end: now.toISOString() },
          thresholds: this.thresholds,
          staging: {
            stack: "staging",
            updateVersion: null,
            deployedAt: new Date(now.getTime() - 2 * 86_400_000).toISOString(),
          },
          approver: "someone",
          createdAt: now.toISOString(),
        },
        loadAnalysisSettings(PRODUCTION_POLICY),
      ),
      privateKeyPem,
    );
  }

  /**
   * 5: a version that passes staging meets a tenth of production's traffic as a canary; the
   * canary analysis finds it worse than the stable on the same traffic and aborts it: the
   * canary is removed with a signed abort record (exit 5) and the stable never changed.
   */
  canaryAbortStory(version: string, n = 5): Promise<StoryResult> {
    return this.story(
      `${n}. error-prone ${version}: passes staging, meets 10 % of production as a canary, aborted`,
      "the canary analysis aborts it (exit 5), the canary is removed, the stable never changed",
      async () => {
        const r = await this.throughStaging(version, ["--strategy", "canary"]);
        if (!r.run) return { ok: false, runs: r.runs };
        return { ok: r.run.code === 5 && r.after === r.before, runs: r.runs, decision: r.decision };
      },
    );
  }

  /** A version that passes staging, promoted all at once, breaks under production traffic and is rolled back. */
  rollbackStory(version: string, n = 5): Promise<StoryResult> {
    return this.story(
      `${n}. error-prone ${version} all at once: passes staging, fails in production`,
      "promoted, rollback triggers fire, production back to the previous version (exit 5)",
      async () => {
        const r = await this.throughStaging(version, ["--strategy", "all-at-once"]);
        if (!r.run) return { ok: false, runs: r.runs };
        return { ok: r.run.code === 5 && r.after === r.before, runs: r.runs, decision: r.decision };
      },
    );
  }
}
