/**
 * The promotion, plan then act: evaluate the gate (staging outputs + Prometheus → decide),
 * report it, and only when it passes and is approved, evaluate it once more, sign the evidence
 * and hand it to the production deployer; roll back by itself when the update fails or a
 * rollback trigger fires. Every dependency comes in through `PromotionDeps`.
 *
 * It stays one file of about 430 lines because it is one sequence that reads in order, top to
 * bottom (gate, report, approval, re-check, sign, deploy, verify, roll back); each step's work
 * is in its own file (gate.ts, report.ts, approval-flow.ts, record.ts, deployer.ts, rollout.ts,
 * canary/, notify/).
 */
import type { KeyObject } from "crypto";
import type { Ask } from "./approval";
import type { Approval } from "./approval-records";
import { approvalsFor, approversOf, stillApproved, subjectOf } from "./approval-flow";
import { loadBaselineMargins } from "./baseline";
import type { PromoteOptions } from "./cli-args";
import { BadInput, GateRejected, HumanNeeded, RolledBack } from "./errors";
import { signEvidence, SignedEvidence } from "./evidence";
import { AnalysisSettings, loadAnalysisSettings } from "./analysis-config";
import { Baseline, decide, Decision, GateMetrics } from "./gate";
import { ANALYSIS_QUERIES, collectAnalysis, loadQueries } from "./analysis-metrics";
import type { StagingSnapshot } from "./outputs";
import type { PrometheusClient } from "./prometheus";
import { promotionRecord, rollbackRecord } from "./record";
import { OUTCOME_MEANING, reportDecision } from "./report";
import { loadThresholds, Thresholds } from "./thresholds";
import { assertWindowEndsBy, checkInputs, chosenInputs } from "./inputs";
import type { DeployerFactory, ProductionDeployer, Progress } from "./deployer";
import { renderMatchers } from "./parsers";
import { EventSink, PromotionEvents } from "./notify";
import { promoteThroughCanary, resolveStrategy } from "./canary/promote";
import type { PromotionStrategies, Strategy } from "./canary/config";
import { sideBySide } from "./side-by-side";

export interface PromotionDeps {
  /** Reads the staging outputs: the stack through the Automation API, or `--staging-outputs`. */
  readonly readStaging: (options: PromoteOptions) => Promise<StagingSnapshot>;
  /**
   * The policy config a promotion to a stack judges by and gives the policy pack: the one the
   * stack's program trusts (trust-roots.ts `targetPolicyConfig`). `--thresholds` replaces it in dry runs only.
   */
  readonly policyConfig: (stack: string) => string;
  /** A Prometheus client for a base URL. */
  readonly prometheus: (baseUrl: string, timeoutMs: number) => PrometheusClient;
  /** The signing key (from the runner's environment); asked for only when promoting. */
  readonly signingKey: () => KeyObject;
  /** The production deployer; built first (recovery comes before the gate). */
  readonly deployer: DeployerFactory;
  /** Asks a person at a terminal; absent when there is none. */
  readonly ask?: Ask;
  readonly now: () => Date;
  /** Where the decision goes: stdout. */
  readonly out: (text: string) => void;
  /** Progress and messages: stderr. */
  readonly log: Progress;
  /** Whether `out` is a terminal (colors). */
  readonly outIsTty: boolean;
  /** `$GITHUB_STEP_SUMMARY`, when set. */
  readonly stepSummaryFile?: string;
  /** Opens the target stack's notifier (docs/notifications.md); absent: nothing is sent. */
  readonly notifications?: (stack: string) => Promise<EventSink>;
  /** Waits between canary analyses; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The runner's environment, for approvals passed as $CHURN_APPROVALS (docs/approvals.md). */
  readonly env?: NodeJS.ProcessEnv;
}

/** The gate's full result: the decision and what it was made from. */
export interface GateResult {
  readonly decision: Decision;
  readonly metrics: GateMetrics;
  readonly staging: StagingSnapshot;
  readonly thresholds: Thresholds;
  readonly analysis: AnalysisSettings;
  readonly thresholdsFile: string;
  /** A dry run's note: that it is one, and what a promotion would refuse of its inputs. */
  readonly dryRunNote?: string;
}

export interface PromotionResult {
  readonly outcome: "gate-passed" | "promoted";
  readonly decision: Decision;
  readonly evidence?: SignedEvidence;
  /** Milliseconds spent in each phase. */
  readonly timings: Readonly<Record<"gate" | "approval" | "update" | "verification", number>>;
}

/** Reads staging, measures the candidate (and the baseline, if any) and decides. */
export async function evaluateGate(options: PromoteOptions, deps: PromotionDeps): Promise<GateResult> {
  const thresholdsFile = options.thresholds ?? deps.policyConfig(options.to);
  const thresholds = loadThresholds(thresholdsFile);
  const analysis = loadAnalysisSettings(thresholdsFile);
  const margins = options.baselineSelector === undefined ? undefined : loadBaselineMargins(thresholdsFile);
  if (options.baselineSelector !== undefined && margins === undefined) {
    throw new BadInput(
      `--baseline-selector needs baseline margins in ${thresholdsFile} ("promotion-evidence": ` +
        "baselineMaxAccuracyDrop, baselineMaxLatencyP99IncreaseMs, baselineMaxErrorRateIncrease)",
    );
  }
  const queries = options.queries === undefined ? ANALYSIS_QUERIES : loadQueries(options.queries);

  const staging = await deps.readStaging(options);
  const outputs = staging.outputs;
  if (options.modelVersion !== undefined && options.modelVersion !== outputs.modelVersion) {
    throw new BadInput(
      `--model-version ${options.modelVersion} is not what ${staging.stack} runs (${outputs.modelVersion}); ` +
        `only the version staging runs can be promoted`,
    );
  }
  // A promotion refuses inputs it did not choose itself (inputs.ts) before measuring anything.
  const dryRunNote = checkInputs(
    options,
    chosenInputs(options, { thresholds, thresholdsFile, staging, now: deps.now() }),
  );
  const end = options.at ?? deps.now();
  if (end.getTime() <= outputs.deployedAt.getTime()) {
    throw new BadInput(
      `${options.at !== undefined ? "--at" : "the evaluation time"} ${end.toISOString()} is not after ` +
        `${outputs.modelVersion} went live in ${staging.stack} (deployedAt ${outputs.deployedAt.toISOString()})`,
    );
  }
  const earliestStart = new Date(
    Math.max(outputs.deployedAt.getTime(), end.getTime() - options.windowSeconds * 1000),
  );
  const prometheusUrl = options.prometheusUrl ?? outputs.prometheusUrl;
  deps.log(
    `Measuring ${outputs.modelVersion} in ${prometheusUrl} over ${earliestStart.toISOString()} → ${end.toISOString()} ` +
      `(intervals of ${analysis.analysisIntervalMinutes} min, confidence ${analysis.confidence})`,
  );
  const measured = await collectAnalysis(deps.prometheus(prometheusUrl, options.queryTimeoutMs), queries, {
    selector: outputs.metricsSelector,
    end,
    earliestStart,
    deployedAt: outputs.deployedAt,
    intervalSeconds: Math.round(analysis.analysisIntervalMinutes * 60),
    slotSeconds: analysis.maxStalenessSeconds,
    lookbackSeconds:
      Math.max(options.windowSeconds, thresholds.minSoakHours * 3600) + 2 * analysis.maxStalenessSeconds,
    baselineSelector: options.baselineSelector,
  });
  const metrics = measured.metrics;
  const baseline: Baseline | undefined =
    options.baselineSelector !== undefined && margins !== undefined && measured.baseline !== undefined
      ? {
          description: `baseline {${renderMatchers(options.baselineSelector)}}`,
          metrics: measured.baseline,
          margins,
        }
      : undefined;
  const decision = decide(metrics, thresholds, {
    modelVersion: outputs.modelVersion,
    window: measured.window,
    deployedAt: outputs.deployedAt,
    analysis,
    baseline,
  });
  return { decision, metrics, staging, thresholds, analysis, thresholdsFile, dryRunNote };
}

function rejection(decision: Decision, prefix: string): GateRejected {
  const failed = decision.checks
    .filter((c) => c.mode === "enforce" && c.status !== "pass")
    .map((c) => `${c.name} (${c.status}): ${c.reason}${c.next !== undefined ? ` — ${c.next}` : ""}`);
  return new GateRejected(
    `${prefix}; nothing was changed: ${decision.outcome} (${OUTCOME_MEANING[decision.outcome]}):\n` +
      `  - ${failed.join("\n  - ")}`,
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Runs `npm run promote` after its flags are parsed. Throws the typed errors of errors.ts.
 * Its events go to the target stack's notifier (not for dry runs), which never fails it.
 */
export async function runPromotion(options: PromoteOptions, deps: PromotionDeps): Promise<PromotionResult> {
  const ctx = { from: options.from, to: options.to, modelVersion: options.modelVersion };
  const events =
    (options.dryRun && !options.notify) || deps.notifications === undefined
      ? PromotionEvents.silent(ctx)
      : new PromotionEvents(await deps.notifications(options.to), ctx);
  try {
    const result = await promote(options, deps, events);
    if (result.outcome === "promoted") events.promoted();
    return result;
  } catch (err) {
    events.ended(err);
    throw err;
  } finally {
    await events.drain();
  }
}

async function promote(
  options: PromoteOptions,
  deps: PromotionDeps,
  events: PromotionEvents,
): Promise<PromotionResult> {
  const clock = (): number => performance.now();
  const timings: Record<Phase, number> = { gate: 0, approval: 0, update: 0, verification: 0 };
  let mark = clock();
  const lap = (phase: keyof typeof timings): void => {
    const t = clock();
    timings[phase] += t - mark;
    mark = t;
  };

  // Recovery first: the target's lock is taken (not in a dry run) and whatever an interrupted
  // promotion left is finished before anything is measured or decided.
  const thresholdsFile = options.thresholds ?? deps.policyConfig(options.to);
  // The strategy is settled before anything changes: a refused --strategy is bad input (exit 2).
  const { strategy, accepted } = resolveStrategy(thresholdsFile, options.strategy);
  const deployer = deps.deployer({
    stack: options.to,
    policyConfigFile: thresholdsFile,
    thresholds: loadThresholds(thresholdsFile),
    bakeSeconds: options.bakeSeconds,
    ...(options.takeOverFrom !== undefined ? { takeOverFrom: options.takeOverFrom } : {}),
    log: deps.log,
  });
  try {
    await deployer.prepare({
      readOnly: options.dryRun,
      signRollback: (previous, approver, target) =>
        signEvidence(rollbackRecord(previous, approver, deps.now(), target), deps.signingKey()),
    });
    return await gateThenUpdate({ options, deps, deployer, events, timings, lap, strategy, accepted });
  } finally {
    await deployer.close();
  }
}

/** The gate, approval, the gate again, and the update; the lock is held and recovery done. */
async function gateThenUpdate(run: {
  readonly options: PromoteOptions;
  readonly deps: PromotionDeps;
  readonly deployer: ProductionDeployer;
  readonly events: PromotionEvents;
  readonly timings: Record<Phase, number>;
  readonly lap: (phase: Phase) => void;
  readonly strategy: Strategy;
  readonly accepted: PromotionStrategies;
}): Promise<PromotionResult> {
  const { options, deps, deployer, events, timings, lap } = run;
  const gate = await evaluateGate(options, deps);
  lap("gate");
  const { digest } = subjectOf(gate);
  events.decided(gate.decision, digest);
  reportDecision(options, deps, gate.decision, digest, gate.dryRunNote);
  const version = gate.decision.modelVersion;
  if (gate.decision.decision !== "promote") {
    throw rejection(gate.decision, `the gate rejected ${version} for ${options.to}`);
  }
  if (options.dryRun) {
    deps.log(`Dry run: the gate passed for ${version}; nothing was changed.`);
    if (options.notify) events.approvalRequested();
    return { outcome: "gate-passed", decision: gate.decision, timings };
  }

  const key = deps.signingKey();
  const approvals = await approvalsFor(
    {
      options,
      ask: deps.ask,
      now: deps.now,
      log: deps.log,
      env: deps.env,
      requested: () => events.approvalRequested(),
    },
    gate,
  );
  lap("approval");

  const again = await evaluateGate(options, deps);
  events.decided(again.decision, subjectOf(again).digest);
  // Values may have moved since the approval; outcomes may not (exit 4, nothing changed).
  stillApproved(approvals, again, deps.now(), (d) => {
    if (!options.json) reportDecision(options, deps, again.decision, d);
  });
  const before = gate.staging.outputs;
  const now = again.staging.outputs;
  if (now.modelVersion !== before.modelVersion || now.deployedAt.getTime() !== before.deployedAt.getTime()) {
    throw new GateRejected(
      `${gate.staging.stack} changed while waiting for approval (now ${now.modelVersion}, ` +
        `deployed ${now.deployedAt.toISOString()}); nothing was changed: run the promotion again`,
    );
  }
  if (again.decision.decision !== "promote") {
    if (!options.json) reportDecision(options, deps, again.decision, subjectOf(again).digest);
    throw rejection(again.decision, `the gate no longer passes for ${version} just before the update`);
  }
  lap("gate");
  return updateProduction({
    options,
    deps,
    deployer,
    gate: again,
    approvals,
    key,
    timings,
    lap,
    events,
    strategy: run.strategy,
    accepted: run.accepted,
  });
}

type Phase = "gate" | "approval" | "update" | "verification";

/** What the production update works with, once the gate passed twice and approval is given. */
interface UpdateContext {
  readonly options: PromoteOptions;
  readonly deps: PromotionDeps;
  readonly deployer: ProductionDeployer;
  /** The gate evaluated just before the update: what the evidence records. */
  readonly gate: GateResult;
  /** What was approved, by whom: the evidence carries them. */
  readonly approvals: readonly Approval[];
  readonly key: KeyObject;
  readonly timings: Readonly<Record<Phase, number>>;
  /** Adds the time since the last lap to a phase. */
  readonly lap: (phase: Phase) => void;
  /** Where the promotion's notification events go. */
  readonly events: PromotionEvents;
  /** all-at-once (today's path) or canary (steps first, docs/canary.md). */
  readonly strategy: Strategy;
  readonly accepted: PromotionStrategies;
}

/**
 * Updates production, verifies it, and rolls back when either fails. Ends with a result
 * (promoted), RolledBack (exit 5: rolled back and verified), or HumanNeeded (exit 6: there
 * was nothing to roll back to, the rollback failed, or production is unhealthy after it).
 */
async function updateProduction(ctx: UpdateContext): Promise<PromotionResult> {
  const { options, deps, deployer, gate: again, approvals, key, timings, lap, events } = ctx;
  const approver = approversOf(approvals);
  const version = again.decision.modelVersion;
  // What a rollback returns to, and the target and moment the evidence binds (production's
  // stack, namespace and position now): independent reads of the engine, side by side.
  const [previous, target] = await sideBySide(deployer.current(), deployer.target());
  const createdAt = deps.now();
  assertWindowEndsBy(again.decision.window.end, createdAt);
  const evidence = signEvidence(
    promotionRecord({
      decision: again.decision,
      metrics: again.metrics,
      thresholds: again.thresholds,
      staging: again.staging,
      approver,
      approvals,
      createdAt,
      target,
    }),
    key,
  );
  events.signed(evidence);
  let canaryRecord: string | undefined;
  let stableEvidence = evidence;
  if (ctx.strategy === "canary") {
    // Throws CanaryAborted (exit 5) with the canary removed and the stable unchanged.
    const passed = await promoteThroughCanary({
      accepted: ctx.accepted,
      policyConfigFile: again.thresholdsFile,
      deployer,
      evidence,
      stableVersion: previous.modelVersion,
      approver,
      key,
      prometheus: (url) => deps.prometheus(url, options.queryTimeoutMs),
      now: deps.now,
      sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      log: deps.log,
      onStep: (step) => events.canaryStepEnded(step),
    });
    canaryRecord = passed.record;
    // The stable's evidence carries the verdicts: the program and the pack refuse a stable
    // without them where only canary promotions are accepted (docs/canary.md).
    stableEvidence = signEvidence({ ...evidence.record, canary: passed.canary }, key);
    lap("update");
  }
  deps.log(`Updating ${options.to} from ${previous.modelVersion ?? "nothing"} to ${version}…`);
  const update = await deployer.deploy(stableEvidence, deps.log, canaryRecord);
  lap("update");

  let failure: string;
  if (update.ok) {
    const health = await deployer.verify(version, deps.log);
    lap("verification");
    if (health.healthy) {
      deps.log(
        `Promoted ${version} to ${options.to}. Time: gate ${seconds(timings.gate)} · approval ` +
          `${seconds(timings.approval)} · update ${seconds(timings.update)} · ` +
          `verification ${seconds(timings.verification)}`,
      );
      return { outcome: "promoted", decision: again.decision, evidence: stableEvidence, timings };
    }
    failure = `${version} failed verification in ${options.to}: ${health.reasons.join("; ")}`;
  } else {
    failure = `the update of ${options.to} to ${version} failed: ${update.reason}`;
  }

  deps.log(failure);
  if (previous.evidence === null || previous.modelVersion === null) {
    throw new HumanNeeded(
      `${failure}; ${options.to} has no earlier promoted version to roll back to: ` +
        `${options.to} runs what the failed update left and needs a person now`,
    );
  }
  deps.log(`Rolling ${options.to} back to ${previous.modelVersion}…`);
  // Bound to production's position after the failed update; revokes the version rolled back from.
  const rollback = signEvidence(
    rollbackRecord(previous.evidence, approver, deps.now(), await deployer.target(), version),
    key,
  );
  const back = await deployer.rollback(rollback, deps.log);
  lap("update");
  if (!back.ok) {
    throw new HumanNeeded(
      `${failure}; the rollback to ${previous.modelVersion} failed too: ${back.reason}. ` +
        `${options.to} needs a person now`,
    );
  }
  const health = await deployer.verify(previous.modelVersion, deps.log);
  lap("verification");
  if (!health.healthy) {
    throw new HumanNeeded(
      `${failure}; after the rollback ${previous.modelVersion} is not healthy either: ` +
        `${health.reasons.join("; ")}. ${options.to} needs a person now`,
    );
  }
  throw new RolledBack(
    `${failure}; ${options.to} was rolled back to ${previous.modelVersion} and verified healthy`,
  );
}
