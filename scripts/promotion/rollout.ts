/**
 * The production side of a promotion, through the Automation API and the project's engine:
 * write the evidence into the production stack config, `pulumi up` with the policy pack,
 * watch production over a bake window against the rollback triggers, and return to the
 * previous version with rollback evidence when they fire.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import * as path from "path";
import { REPO_ROOT } from "../toolchain/env";
import { readStackConfig } from "../../stacks/config";
import { BakeObservation, judgeBake, RollbackTriggers, rollbackTriggers } from "./bake";
import { engineError, EngineOptions, firstLine, latestUpdateNumber, projectDir, selectStack } from "./engine";
import { acquirePromotionLock, HeldLock } from "./lock";
import { DependencyUnavailable } from "./errors";
import { parseSignedEvidence, SignedEvidence } from "./evidence";
import { collectMetrics, DEFAULT_QUERIES, QueryTemplates } from "./metrics";
import { createPrometheusClient } from "./prometheus";
import type {
  DeployerOptions,
  ProductionDeployer,
  ProductionState,
  Progress,
  UpdateResult,
  VerifyResult,
} from "./deployer";
import { parseLabelSelector } from "./values";

const VERSION_KEY = "churn-model:modelVersion";
const EVIDENCE_KEY = "churn-model:promotionEvidence";

/** What the rollout needs of a stack: part of the Automation API's `Stack` (unit tests pass a fake). */
export type ProductionStack = Pick<
  Stack,
  "getAllConfig" | "setConfig" | "removeConfig" | "up" | "refresh" | "cancel" | "history" | "outputs"
>;

export interface RolloutOptions extends DeployerOptions, EngineOptions {
  /** Replaces parts of the triggers derived from the thresholds (tests). */
  readonly triggers?: Partial<RollbackTriggers>;
  readonly queries?: QueryTemplates;
  /** Policy pack directory. Default policy/ of the checkout. */
  readonly policyPackDir?: string;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Selects the target stack; default the project's engine (`selectStack`). */
  readonly selectStack?: (name: string) => Promise<ProductionStack>;
}

interface ProductionOutputs {
  serviceUrl: string;
  prometheusUrl: string;
  namespace: string;
}

export class StackRollout implements ProductionDeployer {
  private readonly triggers: RollbackTriggers;
  private readonly sleep: (ms: number) => Promise<void>;
  private held: HeldLock | undefined;

  constructor(private readonly opts: RolloutOptions) {
    this.triggers = rollbackTriggers(opts.thresholds, opts.bakeSeconds, opts.triggers);
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private stack(): Promise<ProductionStack> {
    return this.opts.selectStack
      ? this.opts.selectStack(this.opts.stack)
      : selectStack(this.opts.stack, this.opts);
  }

  /**
   * Takes the promotion lock of the stack (once). When the previous holder died mid-update,
   * recovers first: its config is restored, the engine's lock and pending operations are
   * cleared, and the stack is refreshed from the cluster, so the promotion starts from a
   * consistent state (see README, "When a promotion is killed").
   */
  private async lock(progress?: Progress): Promise<HeldLock> {
    if (this.held) return this.held;
    this.held = acquirePromotionLock(projectDir(this.opts), this.opts.stack);
    const stale = this.held.stale;
    if (stale) {
      const say = progress ?? this.opts.log ?? (() => undefined);
      say(
        `recovering ${this.opts.stack}: the promotion started ${stale.startedAt} (pid ${stale.pid}) ended without finishing`,
      );
      const stack = await this.stack();
      for (const [key, value] of Object.entries(stale.previousConfig ?? {})) {
        if (value === null) await stack.removeConfig(key);
        else await stack.setConfig(key, { value });
      }
      await stack.cancel().catch(() => undefined);
      await stack.refresh({ color: "never", clearPendingCreates: true });
      say(`recovered ${this.opts.stack}: config restored, pending operations cleared, state refreshed`);
    }
    return this.held;
  }

  async close(): Promise<void> {
    this.held?.release();
    this.held = undefined;
  }

  async current(): Promise<ProductionState> {
    await this.lock();
    const stack = await this.stack();
    const config = await stack.getAllConfig();
    const evidenceJson = config[EVIDENCE_KEY]?.value;
    return {
      modelVersion: config[VERSION_KEY]?.value ?? null,
      evidence: evidenceJson ? parseSignedEvidence(evidenceJson) : null,
    };
  }

  deploy(evidence: SignedEvidence, progress: Progress): Promise<UpdateResult> {
    return this.apply(evidence, progress, "promotion");
  }

  rollback(evidence: SignedEvidence, progress: Progress): Promise<UpdateResult> {
    return this.apply(evidence, progress, "rollback");
  }

  /**
   * Sets version and evidence in the stack config and runs the update with the policy pack.
   * When the update cannot start (another update runs, the engine is missing) the config is
   * restored and nothing changed; when it started and failed, the caller rolls back.
   */
  private async apply(evidence: SignedEvidence, progress: Progress, what: string): Promise<UpdateResult> {
    const held = await this.lock(progress);
    const stack = await this.stack();
    const before = await stack.getAllConfig();
    held.remember(Object.fromEntries([VERSION_KEY, EVIDENCE_KEY].map((k) => [k, before[k]?.value ?? null])));
    const restore = async () => {
      for (const key of [VERSION_KEY, EVIDENCE_KEY]) {
        const old = before[key];
        if (old === undefined) await stack.removeConfig(key);
        else await stack.setConfig(key, old);
      }
    };
    await stack.setConfig(VERSION_KEY, { value: evidence.record.modelVersion });
    await stack.setConfig(EVIDENCE_KEY, { value: JSON.stringify(evidence) });
    const t0 = Date.now();
    progress(
      `${what}: pulumi up on stack ${this.opts.stack} → ${evidence.record.modelVersion} (policy pack enforced)`,
    );
    try {
      await stack.up({
        color: "never",
        policyPacks: [this.opts.policyPackDir ?? path.join(REPO_ROOT, "policy")],
        policyPackConfigs: [this.opts.policyConfigFile],
        onOutput: (out) => {
          for (const line of out.split("\n")) {
            if (line.trim() !== "") progress(`  ${line.trimEnd()}`);
          }
        },
      });
      const updateVersion = await latestUpdateNumber(stack).catch(() => null);
      progress(
        `${what}: update ${updateVersion ?? "?"} succeeded in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
      );
      return { ok: true, updateVersion };
    } catch (err) {
      const started = await this.updateStarted(stack, t0);
      if (!started) {
        await restore();
        throw engineError(this.opts.stack, `the ${what} update of ${this.opts.stack} did not start`, err);
      }
      progress(`${what}: update failed after ${((Date.now() - t0) / 1000).toFixed(1)}s: ${firstLine(err)}`);
      return { ok: false, reason: summarise(err) };
    }
  }

  /** Whether the engine recorded an update that began after t0 (so something may have changed). */
  private async updateStarted(stack: ProductionStack, t0: number): Promise<boolean> {
    try {
      const history = await stack.history(1);
      return (
        history.length > 0 && history[0].startTime.getTime() >= t0 - 1000 && history[0].kind === "update"
      );
    } catch {
      return false;
    }
  }

  private async outputs(): Promise<ProductionOutputs> {
    const out = await (await this.stack()).outputs();
    const str = (k: string) => {
      const v = out[k]?.value;
      if (typeof v !== "string" || v === "")
        throw new DependencyUnavailable(`production output ${k} is missing`);
      return v;
    };
    return {
      serviceUrl: str("serviceUrl"),
      prometheusUrl: str("prometheusUrl"),
      namespace: str("namespace"),
    };
  }

  /** The readiness path production's pods are probed on (`churn-model:probes.readinessPath`). */
  private async readinessPath(): Promise<string> {
    const all = await (await this.stack()).getAllConfig();
    try {
      return readStackConfig({ get: (k) => all[`churn-model:${k}`]?.value }).probes.readinessPath;
    } catch (err) {
      throw new DependencyUnavailable(
        `the config of stack ${this.opts.stack} cannot be read for verification: ${firstLine(err)}`,
      );
    }
  }

  /**
   * Watches production for the bake window: the service's readiness path every poll, and
   * the version's error rate, p99 latency and requests since the watch began. Each look is
   * judged by `judgeBake` (bake.ts); this method only polls.
   */
  async verify(modelVersion: string, progress: Progress): Promise<VerifyResult> {
    const t = this.triggers;
    const out = await this.outputs();
    const readinessPath = await this.readinessPath();
    const selector = parseLabelSelector(
      { namespace: out.namespace, version: modelVersion },
      "production selector",
    );
    const prometheus = createPrometheusClient({ baseUrl: out.prometheusUrl, timeoutMs: 10_000 });
    const start = new Date();
    let failedInARow = 0;
    progress(
      `verify: watching ${modelVersion} in ${out.namespace} for ${t.bakeSeconds}s ` +
        `(${out.serviceUrl}${readinessPath})`,
    );
    for (;;) {
      const health = await healthCheck(out.serviceUrl, readinessPath);
      failedInARow = health.ok ? 0 : failedInARow + 1;
      const now = new Date();
      const elapsedSeconds = (now.getTime() - start.getTime()) / 1000;
      let traffic: BakeObservation["traffic"];
      if (elapsedSeconds >= 1) {
        try {
          const [m] = await collectMetrics(prometheus, this.opts.queries ?? DEFAULT_QUERIES, [
            { selector, window: { start, end: now } },
          ]);
          traffic = {
            requests: m.requests.value,
            errorRate: m.errorRate.value,
            latencyP99Ms: m.latencyP99Ms.value,
          };
        } catch (err) {
          traffic = { unreadable: firstLine(err) };
        }
      }
      const verdict = judgeBake(
        {
          elapsedSeconds,
          failedHealthChecksInARow: failedInARow,
          lastHealthFailure: health.ok ? undefined : health.reason,
          traffic,
        },
        t,
      );
      if (verdict.status === "unhealthy") return { healthy: false, reasons: verdict.reasons };
      if (traffic !== undefined)
        progress(
          `verify: ${Math.round(elapsedSeconds)}s/${t.bakeSeconds}s ${describe(traffic)} health=${health.ok ? "ok" : "failing"}`,
        );
      if (verdict.status === "healthy") return { healthy: true, reasons: [] };
      await this.sleep(t.pollSeconds * 1000);
    }
  }
}

function fmt(v: number | null): string {
  if (v === null) return "none";
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

function describe(traffic: NonNullable<BakeObservation["traffic"]>): string {
  if ("unreadable" in traffic) return `metrics unreadable (${traffic.unreadable})`;
  return (
    `requests=${traffic.requests === null ? "none" : Math.round(traffic.requests)} ` +
    `error_rate=${fmt(traffic.errorRate)} p99=${fmt(traffic.latencyP99Ms)}ms`
  );
}

function summarise(err: unknown): string {
  const lines = String(err instanceof Error ? err.message : err)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /error|fail|refuse|violation|timed out/i.test(l));
  return lines.slice(0, 6).join(" | ") || firstLine(err);
}

async function healthCheck(
  serviceUrl: string,
  readinessPath: string,
): Promise<{ ok: boolean; reason: string }> {
  try {
    const res = await fetch(new URL(readinessPath, serviceUrl), { signal: AbortSignal.timeout(5000) });
    return res.ok
      ? { ok: true, reason: "" }
      : { ok: false, reason: `GET ${readinessPath} answered ${res.status}` };
  } catch (err) {
    return { ok: false, reason: `GET ${readinessPath} failed: ${firstLine(err)}` };
  }
}

/** The deployer the promote CLI uses for a target stack. */
export function stackRollout(options: RolloutOptions): ProductionDeployer {
  return new StackRollout(options);
}
