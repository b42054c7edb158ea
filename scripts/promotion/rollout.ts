/**
 * The production side of a promotion, through the Automation API and the project's engine:
 * write the evidence into the production stack config, `pulumi up` with the policy pack,
 * watch production over a bake window against the rollback triggers, and return to the
 * previous version with rollback evidence when they fire.
 *
 * Over 400 lines: the lock's life (prepare, recovery, close, the backend's copy of the journal)
 * and the update paths share the held lock, which each step rewrites before the engine acts.
 */
import * as path from "path";
import { REPO_ROOT } from "../toolchain/env";
import { readStackConfig } from "../../stacks/config";
import { RollbackTriggers, rollbackTriggers } from "./bake";
import { watchBake } from "./bake-watch";
import { cliStack } from "./cli-stack";
import { ProductionStack, writeConfig } from "./production-stack";
import { engineError, EngineOptions, firstLine, latestUpdateNumber, projectDir } from "./engine";
import { HeldLock, pendingRecovery } from "./lock";
import { foreignHolderWarning } from "./lock-warning";
import { JournalTagWriter, readBackendJournal, takeLock } from "./backend-journal";
import { backendJournal, engineLocks, promotionLockDir } from "./lock-location";

export { backendJournal, engineLocks, promotionLockDir };
import { DependencyUnavailable } from "./errors";
import { watchSessions } from "./processes";
import { EngineLock, planRecovery, RecoveryPlan } from "./recovery";
import { carryOutRecovery, operationStarted, recoveryPending } from "./recovery-run";
import type { PromotionTarget, SignedEvidence } from "./evidence";
import { lastSuccessfulRun, productionTarget } from "./production-position";
import { describeTimeline, engineTimeline, TimedEvent } from "./engine-timeline";
import { withRevocation } from "./revoke";
import { QueryTemplates } from "./metrics";
import type {
  CanarySpec,
  CanaryTarget,
  DeployerOptions,
  PrepareOptions,
  ProductionDeployer,
  ProductionState,
  Progress,
  UpdateResult,
  VerifyResult,
} from "./deployer";
import { parseLabelSelector } from "./parsers";
import { sideBySide } from "./side-by-side";

const VERSION_KEY = "churn-model:modelVersion";
const EVIDENCE_KEY = "churn-model:promotionEvidence";
/** The canary beside the stable (docs/canary.md); every promotion or rollback removes it. */
const CANARY_KEY = "churn-model:canary";
/** The signed record of the last canary (passed with the promotion, or aborted with the removal). */
const CANARY_RECORD_KEY = "churn-model:canaryRecord";
const MANAGED_KEYS = [VERSION_KEY, EVIDENCE_KEY, CANARY_KEY, CANARY_RECORD_KEY];

export interface RolloutOptions extends DeployerOptions, EngineOptions {
  /** Replaces parts of the triggers derived from the thresholds (tests). */
  readonly triggers?: Partial<RollbackTriggers>;
  readonly queries?: QueryTemplates;
  /** Policy pack directory. Default policy/ of the checkout. */
  readonly policyPackDir?: string;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Selects the target stack; default the project's CLI (cli-stack.ts). */
  readonly selectStack?: (name: string) => Promise<ProductionStack>;
  /** Reads the engine's locks on the stack; default a file backend's lock files. */
  readonly engineLocks?: () => EngineLock[];
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
  /** The backend's copy of the journal, when it is kept there. */
  private tags: JournalTagWriter | undefined;
  private unwatch: (() => void) | undefined;
  private selected: Promise<ProductionStack> | undefined;

  constructor(private readonly opts: RolloutOptions) {
    this.triggers = rollbackTriggers(opts.thresholds, opts.bakeSeconds, opts.triggers);
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * The target stack, selected once per rollout (each selection is an engine process, `pulumi
   * stack select`); every later command names the stack itself. A failed selection is not kept.
   */
  private stack(): Promise<ProductionStack> {
    this.selected ??= (
      this.opts.selectStack
        ? this.opts.selectStack(this.opts.stack)
        : Promise.resolve(cliStack(this.opts.stack, this.opts))
    ).catch((err: unknown) => {
      this.selected = undefined;
      throw err;
    });
    return this.selected;
  }

  /** The lock; prepare() takes it. */
  private requireLock(): HeldLock {
    if (this.held === undefined) throw new Error("StackRollout: prepare() must run first");
    return this.held;
  }

  private say(line: string): void {
    (this.opts.log ?? (() => undefined))(line);
  }

  /**
   * Runs first, before anything is read or decided. Read-only (a dry run): reports a pending
   * recovery as RecoveryPending and changes nothing. Otherwise takes the promotion lock and
   * carries out the recovery plan (recovery.ts) of a holder that died, before returning.
   */
  async prepare(opts: PrepareOptions): Promise<void> {
    const dir = promotionLockDir(this.opts, this.opts.stack);
    const remote = backendJournal(this.opts)
      ? await readBackendJournal(await this.stack(), this.opts.stack)
      : undefined;
    if (opts.readOnly) {
      const pending = pendingRecovery(dir, remote);
      const plan = planRecovery(pending);
      if (pending !== undefined && plan.kind !== "none")
        throw recoveryPending(this.opts.stack, pending, plan);
      const foreign = foreignHolderWarning(dir, remote);
      if (foreign !== undefined) this.say(foreign);
      return;
    }
    if (this.held !== undefined) return;
    const { held, tags } = await takeLock(dir, this.opts.stack, {
      takeOverFrom: this.opts.takeOverFrom,
      remote,
      inBackend: backendJournal(this.opts),
      tagged: () => this.stack(),
    });
    this.held = held;
    this.tags = tags;
    this.unwatch = watchSessions({
      started: (s) => held.update({ sessions: [...held.journal().sessions, s] }),
      ended: (s) => held.update({ sessions: held.journal().sessions.filter((x) => x.pid !== s.pid) }),
    });
    await this.recover(planRecovery(held.stale !== undefined ? held.journal() : undefined), held, opts);
  }

  private recover(plan: RecoveryPlan, held: HeldLock, opts: PrepareOptions): Promise<void> {
    return carryOutRecovery(plan, held, opts, {
      name: this.opts.stack,
      stack: () => this.stack(),
      engineLocks: () =>
        this.opts.engineLocks ? this.opts.engineLocks() : engineLocks(this.opts, this.opts.stack),
      apply: (evidence, progress, what) => this.apply(evidence, progress, what),
      verify: (version, progress) => this.verify(version, progress),
      target: () => this.target(),
      say: (line) => this.say(line),
    });
  }

  /**
   * Waits until the backend's copy of the journal says what is about to change; when it cannot
   * be written, nothing has changed yet: a settled journal is settled again and the error thrown.
   */
  private async backendKnows(settledBefore: boolean): Promise<void> {
    try {
      await this.tags?.flush();
    } catch (err) {
      if (settledBefore) this.held?.update({ phase: "locked", previousConfig: undefined, target: undefined });
      throw err;
    }
  }

  /** Releases the lock when production is settled; else leaves the journal for the next run. */
  async close(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    const held = this.held;
    this.held = undefined;
    if (held === undefined) return;
    if (held.journal().phase === "locked") held.unlock();
    else held.abandon();
    // Left unwritten, the backend's copy names this holder, which the next run finds gone.
    await this.tags?.flush().catch((err: Error) => this.say(`warning: ${err.message}`));
    this.tags = undefined;
  }

  async current(): Promise<ProductionState> {
    this.requireLock();
    return lastSuccessfulRun(await this.stack());
  }

  target(): Promise<PromotionTarget> {
    return this.stack().then((stack) => productionTarget(stack, this.opts.stack, projectDir(this.opts)));
  }

  /** Revokes `version` (`npm run promote -- revoke`, revoke.ts); nothing is half-applied. */
  async revoke(version: string, progress: Progress): Promise<UpdateResult> {
    this.requireLock();
    const stack = await this.stack();
    progress(`revocation of ${version}: pulumi up on stack ${this.opts.stack} (policy pack enforced)`);
    return withRevocation(stack, version, () =>
      this.runUpdate(stack, `revocation of ${version}`, progress, () => undefined),
    );
  }

  deploy(evidence: SignedEvidence, progress: Progress, canaryRecord?: string): Promise<UpdateResult> {
    return this.apply(evidence, progress, "promotion", canaryRecord);
  }

  rollback(evidence: SignedEvidence, progress: Progress): Promise<UpdateResult> {
    return this.apply(evidence, progress, "rollback");
  }

  /**
   * Sets version and evidence in the stack config and runs the update with the policy pack.
   * When the update cannot start (another update runs, the engine is missing) the config is
   * restored and nothing changed; when it started and failed, the caller rolls back.
   */
  private async apply(
    evidence: SignedEvidence,
    progress: Progress,
    what: string,
    canaryRecord?: string,
  ): Promise<UpdateResult> {
    const held = this.requireLock();
    const stack = await this.stack();
    const before = await stack.getAllConfig();
    const promotion = what === "promotion";
    const settledBefore = held.journal().phase === "locked";
    // The config before the promotion's first change is what recovery returns to.
    held.update({
      phase: promotion ? "updating" : "rolling-back",
      previousConfig:
        held.journal().previousConfig ??
        Object.fromEntries(MANAGED_KEYS.map((k) => [k, before[k]?.value ?? null])),
      target: evidence.record.modelVersion,
      approver: evidence.record.approver,
    });
    await this.backendKnows(settledBefore);
    const restore = () =>
      writeConfig(stack, Object.fromEntries(MANAGED_KEYS.map((k) => [k, before[k] ?? null])), () => true);
    // The stable moves (or returns): any canary goes in the same update.
    await writeConfig(
      stack,
      {
        [VERSION_KEY]: { value: evidence.record.modelVersion },
        [EVIDENCE_KEY]: { value: JSON.stringify(evidence) },
        [CANARY_KEY]: null,
        [CANARY_RECORD_KEY]: canaryRecord !== undefined ? { value: canaryRecord } : null,
      },
      (k) => before[k] !== undefined,
    );
    progress(
      `${what}: pulumi up on stack ${this.opts.stack} → ${evidence.record.modelVersion} (policy pack enforced)`,
    );
    const settled = () => {
      if (promotion) held.update({ phase: "verifying" });
    };
    return this.runUpdate(stack, what, progress, settled, async (err, t0) => {
      if (await operationStarted(stack, "update", t0)) return;
      await restore();
      // Nothing changed: a promotion that never started leaves production settled.
      if (promotion && settledBefore)
        held.update({ phase: "locked", previousConfig: undefined, target: undefined });
      throw engineError(this.opts.stack, `the ${what} update of ${this.opts.stack} did not start`, err);
    });
  }

  /**
   * Sets the canary (or removes it, with null) and runs the update with the policy pack; the
   * stable's version and evidence stay. While a canary runs the journal says "updating", so a
   * promotion killed mid-canary is recovered to the stable only (the recovery's rollback
   * removes the canary). Removing it settles production again.
   */
  async setCanary(canary: CanarySpec | null, progress: Progress, record?: string): Promise<UpdateResult> {
    const held = this.requireLock();
    const stack = await this.stack();
    const before = await stack.getAllConfig();
    held.update({
      phase: "updating",
      previousConfig:
        held.journal().previousConfig ??
        Object.fromEntries(MANAGED_KEYS.map((k) => [k, before[k]?.value ?? null])),
      target: canary?.version ?? held.journal().target,
    });
    await this.backendKnows(false);
    await writeConfig(
      stack,
      {
        [CANARY_KEY]: canary !== null ? { value: JSON.stringify(canary) } : null,
        ...(record !== undefined ? { [CANARY_RECORD_KEY]: { value: record } } : {}),
      },
      (k) => before[k] !== undefined,
    );
    const what = canary === null ? "canary removal" : `canary ${canary.version} at ${canary.weight} %`;
    progress(`${what}: pulumi up on stack ${this.opts.stack} (policy pack enforced)`);
    return this.runUpdate(stack, what, progress, () => {
      if (canary === null) held.update({ phase: "locked", previousConfig: undefined, target: undefined });
    });
  }

  async canaryTarget(): Promise<CanaryTarget> {
    const stack = await this.stack();
    const out = await stack.outputs();
    const all = await stack.getAllConfig();
    const selector = (v: unknown, what: string) => {
      if (typeof v !== "object" || v === null)
        throw new DependencyUnavailable(`production output ${what} is missing`);
      return parseLabelSelector(v, `production output ${what}`);
    };
    const canary = out.canary?.value as { metricsSelector?: unknown } | undefined;
    let replicas: { min: number; max: number };
    try {
      replicas = readStackConfig({ get: (k) => all[`churn-model:${k}`]?.value }).replicas;
    } catch (err) {
      throw new DependencyUnavailable(
        `the config of stack ${this.opts.stack} cannot be read: ${firstLine(err)}`,
      );
    }
    const { prometheusUrl, namespace } = await this.outputs();
    return {
      prometheusUrl,
      namespace,
      replicas,
      stableSelector: selector(out.metricsSelector?.value, "metricsSelector"),
      ...(canary?.metricsSelector !== undefined
        ? { canarySelector: selector(canary.metricsSelector, "canary.metricsSelector") }
        : {}),
    };
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

  /** Watches production for the bake window (bake-watch.ts polls, `judgeBake` in bake.ts judges). */
  async verify(modelVersion: string, progress: Progress): Promise<VerifyResult> {
    const [out, readinessPath] = await sideBySide(this.outputs(), this.readinessPath());
    const result = await watchBake(
      {
        modelVersion,
        ...out,
        readinessPath,
        triggers: this.triggers,
        queries: this.opts.queries,
        sleep: this.sleep,
      },
      progress,
    );
    const held = this.held;
    if (result.healthy && held !== undefined && held.journal().target === modelVersion) {
      held.update({ phase: "locked", previousConfig: undefined, target: undefined });
      // Settled in the backend too: a run killed from here on leaves nothing to roll back.
      await this.tags?.flush().catch((err: Error) => this.say(`warning: ${err.message}`));
    }
    return result;
  }

  /**
   * `pulumi up` on the stack with the policy pack, its output streamed as progress. `settle`
   * runs as soon as the update succeeded; `failedToRun` first when it failed (it may throw).
   */
  private async runUpdate(
    stack: ProductionStack,
    what: string,
    progress: Progress,
    settle: () => void,
    failedToRun: (err: unknown, t0: number) => Promise<void> = async () => undefined,
  ): Promise<UpdateResult> {
    const t0 = Date.now();
    const seconds = () => ((Date.now() - t0) / 1000).toFixed(1);
    // The engine's events, timed on arrival, only when asked (engine-timeline.ts).
    const events: TimedEvent[] | undefined = process.env.CHURN_ENGINE_TIMELINE === "1" ? [] : undefined;
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
        ...(events ? { onEvent: (event) => events.push({ atMs: Date.now() - t0, event }) } : {}),
      });
      if (events) progress(`${what}: ${describeTimeline(engineTimeline(events, Date.now() - t0))}`);
      settle();
      const updateVersion = await latestUpdateNumber(stack).catch(() => null);
      progress(`${what}: update ${updateVersion ?? "?"} succeeded in ${seconds()}s`);
      return { ok: true, updateVersion };
    } catch (err) {
      await failedToRun(err, t0);
      progress(`${what}: update failed after ${seconds()}s: ${firstLine(err)}`);
      return { ok: false, reason: summarise(err) };
    }
  }
}

function summarise(err: unknown): string {
  const lines = String(err instanceof Error ? err.message : err)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /error|fail|refuse|violation|timed out/i.test(l));
  return lines.slice(0, 6).join(" | ") || firstLine(err);
}

/** The deployer the promote CLI uses for a target stack. */
export function stackRollout(options: RolloutOptions): ProductionDeployer {
  return new StackRollout(options);
}
