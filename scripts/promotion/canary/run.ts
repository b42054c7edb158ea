/**
 * Walks a canary plan: for each step, one update that sizes the canary, then analyses every
 * `analysisIntervalSeconds` comparing canary and stable over the window since the step's pods
 * were ready, until `stepAction` passes or aborts it. An abort (or any failure while the canary
 * runs) removes the canary before returning or rethrowing; the stable is never touched here.
 * The I/O (updates, Prometheus, the clock) is passed in, so the walk is tested with fakes.
 */
import { ContractError } from "../../../policy/contract";
import { CdError } from "../errors";
import type { CanaryCriteria } from "./config";
import { CanaryPlan, describeStep, PlannedStep } from "./plan";
import { ArmComparison, ArmCounts, CheckStatus, compareArms, stepAction } from "./verdict";

export interface CanaryDeployer {
  /** Declares the canary at this step's size (one `pulumi up`); resolves once its pods are ready. */
  applyStep(step: PlannedStep): Promise<void>;
  /**
   * Removes the canary (one `pulumi up`); the stable keeps its version. `aborted` is the
   * verdict that stopped it (undefined when the walk was interrupted by an error).
   */
  removeCanary(aborted?: Extract<CanaryOutcome, { outcome: "aborted" }>): Promise<void>;
}

export interface CanaryRunContext {
  readonly plan: CanaryPlan;
  readonly criteria: CanaryCriteria;
  readonly deployer: CanaryDeployer;
  /** Both arms' counts over a window (measure.ts); may throw DependencyUnavailable. */
  measure(window: { start: Date; end: Date }): Promise<{ canary: ArmCounts; stable: ArmCounts }>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  log(line: string): void;
  /** Called once per step that ended (passed or aborted): the canary-step notification. */
  onStep?(step: StepRecord): void;
}

/** One step as it happened: what history and the evidence keep. */
export interface StepRecord {
  readonly index: number;
  readonly weight: number;
  readonly canaryReplicas: number;
  readonly stableReplicas: number;
  /** When the step's pods were ready and its analysis window began, RFC3339. */
  readonly startedAt: string;
  readonly endedAt: string;
  readonly analyses: number;
  readonly verdict: CheckStatus;
  readonly reason: string;
  /** The last comparison of the step (null when no analysis completed). */
  readonly comparison: ArmComparison | null;
}

export type CanaryOutcome =
  | { readonly outcome: "passed"; readonly steps: readonly StepRecord[] }
  | {
      readonly outcome: "aborted";
      readonly cause: "fail" | "inconclusive" | "error";
      readonly reason: string;
      readonly steps: readonly StepRecord[];
    };

/**
 * Runs every step of the plan. Rules, in order:
 * - a step starts with its update; its analysis window begins once that update is done (the
 *   canary's pods ready), so both arms are compared over minutes they both served;
 * - every `analysisIntervalSeconds` both arms are measured over [step start, now] and judged
 *   by `compareArms` and `stepAction`; a measurement that fails counts as an `error` analysis;
 * - an abort removes the canary and ends the walk with the cause; a thrown error while the
 *   canary runs removes it too, then propagates;
 * - after the last step passes the canary is left in place: the caller moves the stable to the
 *   candidate and removes the canary in one update.
 */
export async function runCanary(ctx: CanaryRunContext): Promise<CanaryOutcome> {
  const steps: StepRecord[] = [];
  let removing = false;
  try {
    for (const step of ctx.plan.steps) {
      ctx.log(`canary ${describeStep(step)}: updating production`);
      await ctx.deployer.applyStep(step);
      const start = ctx.now();
      ctx.log(
        `canary step ${step.index}: pods ready at ${start.toISOString()}; analysing every ${ctx.plan.analysisIntervalSeconds} s`,
      );
      let analyses = 0;
      let last: ArmComparison | null = null;
      for (;;) {
        await ctx.sleep(ctx.plan.analysisIntervalSeconds * 1000);
        const end = ctx.now();
        const elapsed = (end.getTime() - start.getTime()) / 1000;
        analyses += 1;
        let action: ReturnType<typeof stepAction>;
        try {
          const arms = await ctx.measure({ start, end });
          last = compareArms(arms.canary, arms.stable, ctx.criteria, { start, end });
          action = stepAction(last, elapsed, step);
        } catch (err) {
          if (!(err instanceof CdError) && !(err instanceof ContractError) && !(err instanceof RangeError))
            throw err;
          const reason = `the analysis could not be made: ${err.message}`;
          action =
            elapsed >= step.maxDurationSeconds
              ? {
                  action: "abort",
                  cause: "error",
                  reason: `${reason} (at the step's maximum of ${step.maxDurationSeconds} s)`,
                }
              : { action: "continue", reason };
        }
        ctx.log(`canary step ${step.index} at ${Math.round(elapsed)} s: ${action.action}: ${action.reason}`);
        if (action.action === "continue") continue;
        const record: StepRecord = {
          index: step.index,
          weight: step.weight,
          canaryReplicas: step.canaryReplicas,
          stableReplicas: step.stable.min,
          startedAt: start.toISOString(),
          endedAt: end.toISOString(),
          analyses,
          verdict: action.action === "pass" ? "pass" : action.cause,
          reason: action.reason,
          comparison: last,
        };
        steps.push(record);
        ctx.onStep?.(record);
        if (action.action === "abort") {
          ctx.log(`canary aborted at step ${step.index}: removing the canary; the stable is unchanged`);
          const aborted = { outcome: "aborted" as const, cause: action.cause, reason: action.reason, steps };
          removing = true;
          await ctx.deployer.removeCanary(aborted);
          return aborted;
        }
        break;
      }
    }
  } catch (err) {
    // A removal that itself failed is not tried again here: the caller reports it.
    if (removing) throw err;
    ctx.log(`canary interrupted: ${(err as Error).message}; removing the canary`);
    await ctx.deployer.removeCanary();
    throw err;
  }
  return { outcome: "passed", steps };
}
