/**
 * The canary strategy of `npm run promote`: after the gate and approval, the candidate meets
 * production's live traffic step by step (run.ts), judged against the stable on the same
 * traffic. An abort removes the canary with a signed abort record and ends with CanaryAborted
 * (exit 5, the stable never changed); a pass returns the signed canary record that goes with
 * the stable's promotion update. docs/canary.md describes the whole path.
 */
import * as crypto from "crypto";
import { BadInput, CanaryAborted, DependencyUnavailable } from "../errors";
import { canonicalJson, SignedEvidence } from "../evidence";
import type { CanaryTarget, ProductionDeployer, Progress } from "../deployer";
import type { PrometheusClient } from "../prometheus";
import { CanaryEvidence, canaryEvidence } from "./chain";
import { loadPolicyConfig } from "../thresholds";
import { chooseStrategy, PromotionStrategies, Strategy } from "./config";
import { measureArms } from "./measure";
import { describeStep, planCanary } from "./plan";
import { CanaryRunContext, runCanary } from "./run";

/** The signed record of a canary walk, kept in the production stack config (history reads it). */
export interface CanaryRecord {
  readonly kind: "canary";
  readonly modelVersion: string;
  readonly approver: string;
  readonly createdAt: string;
  readonly canary: CanaryEvidence;
}

export interface SignedCanaryRecord {
  readonly record: CanaryRecord;
  /** Base64 Ed25519 signature over canonicalJson(record), with the evidence key. */
  readonly signature: string;
}

export function signCanaryRecord(record: CanaryRecord, key: crypto.KeyObject): SignedCanaryRecord {
  const canonical = canonicalJson(record);
  return {
    record: JSON.parse(canonical) as CanaryRecord,
    signature: crypto.sign(null, Buffer.from(canonical, "utf8"), key).toString("base64"),
  };
}

/** The strategies a policy-config file accepts (its `promotion-evidence` section). */
export function loadPromotionStrategies(file: string): PromotionStrategies {
  return loadPolicyConfig(file).strategies;
}

/** The strategy of this promotion and, for a canary, its settings; BadInput before anything changes. */
export function resolveStrategy(
  file: string,
  requested: Strategy | undefined,
): { strategy: Strategy; accepted: PromotionStrategies } {
  const accepted = loadPromotionStrategies(file);
  return { strategy: chooseStrategy(accepted, requested, file), accepted };
}

export interface CanaryPromotionContext {
  readonly accepted: PromotionStrategies;
  readonly policyConfigFile: string;
  readonly deployer: ProductionDeployer;
  /** The candidate's signed staging promotion evidence: it lets the canary into production. */
  readonly evidence: SignedEvidence;
  /** The version production's stable runs (null: nothing to compare with). */
  readonly stableVersion: string | null;
  readonly approver: string;
  readonly key: crypto.KeyObject;
  readonly prometheus: (baseUrl: string) => PrometheusClient;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Progress;
  /** Each step as it ended (the canary-step notification). */
  readonly onStep?: CanaryRunContext["onStep"];
}

/** What a canary that passed every step leaves: its signed record and the part the stable's evidence carries. */
export interface PassedCanary {
  /** The signed canary record, JSON (churn-model:canaryRecord). */
  readonly record: string;
  /** The steps and verdicts, signed again inside the stable's promotion evidence. */
  readonly canary: CanaryEvidence;
}

/**
 * Runs the canary steps. Returns what a canary that passed every step leaves (its signed record
 * and the part the stable's evidence carries); throws CanaryAborted after removing an aborted
 * canary, BadInput when there is nothing to compare with, DependencyUnavailable when the target
 * cannot run canaries.
 */
export async function promoteThroughCanary(ctx: CanaryPromotionContext): Promise<PassedCanary> {
  const { deployer, evidence } = ctx;
  const version = evidence.record.modelVersion;
  const settings = ctx.accepted.canary;
  if (settings === undefined) throw new BadInput(`${ctx.policyConfigFile} has no canary settings`);
  if (deployer.setCanary === undefined || deployer.canaryTarget === undefined) {
    throw new DependencyUnavailable("this production deployer cannot run canaries");
  }
  const setCanary = deployer.setCanary.bind(deployer);
  const canaryTarget = deployer.canaryTarget.bind(deployer);
  if (ctx.stableVersion === null) {
    throw new BadInput(
      `production runs no stable version yet, so a canary of ${version} has nothing to be compared with: ` +
        `the first promotion needs --strategy all-at-once (if ${ctx.policyConfigFile} accepts it)`,
    );
  }
  if (ctx.stableVersion === version) {
    throw new BadInput(`production's stable already runs ${version}: there is nothing to canary`);
  }
  const stableVersion = ctx.stableVersion;
  let target: CanaryTarget = await canaryTarget();
  const plan = planCanary(settings, target.replicas);
  ctx.log(
    `Canary of ${version} against ${stableVersion}: ${plan.steps.map((s) => `${s.weight} %`).join(" → ")}, ` +
      `then the stable; ${plan.minSeconds}–${plan.maxSeconds} s of analysis`,
  );
  for (const s of plan.steps) ctx.log(`  ${describeStep(s)}`);
  const client = ctx.prometheus(target.prometheusUrl);
  const sign = (canary: CanaryEvidence) =>
    JSON.stringify(
      signCanaryRecord(
        {
          kind: "canary",
          modelVersion: version,
          approver: ctx.approver,
          createdAt: ctx.now().toISOString(),
          canary,
        },
        ctx.key,
      ),
    );

  const outcome = await runCanary({
    plan,
    criteria: settings.criteria,
    deployer: {
      applyStep: async (step) => {
        const r = await setCanary(
          { version, weight: step.weight, promotionEvidence: JSON.stringify(evidence) },
          ctx.log,
        );
        if (!r.ok)
          throw new CanaryAborted(`the update to the canary's ${step.weight} % step failed: ${r.reason}`);
        target = await canaryTarget();
      },
      removeCanary: async (aborted) => {
        const record = aborted !== undefined ? sign(canaryEvidence(aborted, stableVersion)) : undefined;
        const r = await setCanary(null, ctx.log, record);
        if (!r.ok) {
          throw new DependencyUnavailable(
            `the canary of ${version} could not be removed: ${r.reason}; the next promotion recovers production to its stable`,
          );
        }
      },
    },
    measure: async (window) => {
      if (target.canarySelector === undefined) {
        throw new DependencyUnavailable(
          "production's outputs name no canary series (canary.metricsSelector)",
        );
      }
      return measureArms(
        client,
        {
          canary: { version, selector: target.canarySelector },
          stable: { version: stableVersion, selector: target.stableSelector },
        },
        window,
      );
    },
    now: ctx.now,
    sleep: ctx.sleep,
    log: ctx.log,
    onStep: ctx.onStep,
  });
  if (outcome.outcome === "aborted") {
    throw new CanaryAborted(
      `the canary of ${version} was aborted at its ${outcome.steps[outcome.steps.length - 1]?.weight ?? "?"} % step ` +
        `(${outcome.cause}): ${outcome.reason}; the canary was removed and production's stable still runs ` +
        `${stableVersion}; a signed abort record is in the stack config (churn-model:canaryRecord)`,
    );
  }
  ctx.log(`Canary of ${version} passed every step; the stable moves to it next.`);
  const canary = canaryEvidence(outcome, stableVersion);
  return { record: sign(canary), canary };
}
