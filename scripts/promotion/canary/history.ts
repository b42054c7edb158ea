/**
 * What `npm run promote -- history` shows of canaries, read from the stack config each update
 * ran with (pure, over the updates newest first): an update that ran a canary step
 * (`churn-model:canary`) shows its version, weight and the verdict that step got, and the
 * update where a canary walk's signed record (`churn-model:canaryRecord`) first appears — the
 * removal after an abort, or the stable's move after a pass — shows every step of the walk
 * with its verdict and both arms' error rates. A step whose walk left no record (a promotion
 * killed mid-canary, recovered to the stable) has no verdict, and says so.
 */
import type { CanaryEvidence, CanaryStepRecord } from "./chain";

const CANARY_KEY = "churn-model:canary";
const CANARY_RECORD_KEY = "churn-model:canaryRecord";

/** One step of a walk as history shows it. */
export interface CanaryStepView {
  readonly index: number;
  readonly weight: number;
  readonly canaryReplicas: number;
  readonly stableReplicas: number;
  readonly verdict: string;
  readonly reason: string;
  /** Both arms' error rates over the step's window (null when no analysis measured them). */
  readonly errorRate: { readonly canary: number | null; readonly stable: number | null } | null;
}

/** A canary walk that ended at this update (its record first appears here). */
export interface CanaryWalkView {
  readonly version: string;
  readonly stableVersion: string;
  /** `passed`, or `aborted (fail | inconclusive | error)`. */
  readonly outcome: string;
  readonly reason: string | null;
  readonly steps: readonly CanaryStepView[];
}

export interface CanaryHistory {
  /** The canary step this update ran beside the stable. */
  readonly step?: {
    readonly version: string;
    readonly weight: number;
    /** The verdict the walk's record gives this step; null when no record of it was kept. */
    readonly verdict: string | null;
  };
  readonly walk?: CanaryWalkView;
}

type Config = Readonly<Record<string, string | undefined>>;

function parseJson(raw: string | undefined): unknown {
  if (raw === undefined || raw === "") return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function canaryStep(config: Config): { version: string; weight: number } | undefined {
  const c = parseJson(config[CANARY_KEY]) as { version?: unknown; weight?: unknown } | undefined;
  if (typeof c?.version !== "string" || typeof c.weight !== "number") return undefined;
  return { version: c.version, weight: c.weight };
}

function walkOf(raw: string | undefined): CanaryWalkView | undefined {
  const signed = parseJson(raw) as
    | { record?: { kind?: unknown; modelVersion?: unknown; canary?: CanaryEvidence } }
    | undefined;
  const record = signed?.record;
  const canary = record?.canary;
  if (record?.kind !== "canary" || typeof record.modelVersion !== "string" || !Array.isArray(canary?.steps))
    return undefined;
  return {
    version: record.modelVersion,
    stableVersion: canary.stableVersion,
    outcome: canary.aborted ? `aborted (${canary.aborted.cause})` : "passed",
    reason: canary.aborted?.reason ?? null,
    steps: canary.steps.map((s: CanaryStepRecord, i) => {
      const e = s.checks.find((c) => c.name === "error_rate");
      return {
        index: i + 1,
        weight: s.weight,
        canaryReplicas: s.canaryReplicas,
        stableReplicas: s.stableReplicas,
        verdict: s.verdict,
        reason: s.reason,
        errorRate: e === undefined ? null : { canary: e.canary, stable: e.stable },
      };
    }),
  };
}

/**
 * The canary part of each update's history entry, for `configs` newest first (the order of
 * the engine's update log). A step's verdict is looked for in the newer updates of the same
 * walk: the walk goes on while the updates run its version at growing weights, and ends at the
 * first update without a canary; its record, if that update carries a new one, gives the verdicts.
 */
export function canaryHistory(configs: readonly Config[]): CanaryHistory[] {
  const walks = configs.map((c, i) => {
    const raw = c[CANARY_RECORD_KEY];
    // A record stays in the config until the next one: only where it first appears did a walk end.
    const older = configs[i + 1]?.[CANARY_RECORD_KEY];
    return raw !== undefined && raw !== older ? walkOf(raw) : undefined;
  });
  return configs.map((c, i) => {
    const step = canaryStep(c);
    const walk = walks[i];
    let verdict: string | null = null;
    if (step !== undefined) {
      let weight = step.weight;
      for (let j = i - 1; j >= 0; j--) {
        const next = canaryStep(configs[j]);
        if (next !== undefined && next.version === step.version && next.weight > weight) {
          weight = next.weight;
          continue;
        }
        const ended = next === undefined ? walks[j] : undefined;
        if (ended !== undefined && ended.version === step.version) {
          verdict = ended.steps.find((s) => s.weight === step.weight)?.verdict ?? null;
        }
        break;
      }
    }
    return {
      ...(step !== undefined ? { step: { ...step, verdict } } : {}),
      ...(walk !== undefined ? { walk } : {}),
    };
  });
}

function rate(v: number | null | undefined): string {
  return v === null || v === undefined ? "-" : v.toFixed(4);
}

/** The lines history prints under an update's row for its canary part. */
export function formatCanaryHistory(h: CanaryHistory): string[] {
  const lines: string[] = [];
  if (h.step !== undefined) {
    lines.push(
      `    canary ${h.step.version} at ${h.step.weight} %: ` +
        (h.step.verdict ?? "no verdict (the walk left no record: interrupted and recovered)"),
    );
  }
  if (h.walk !== undefined) {
    const w = h.walk;
    lines.push(
      `    canary walk of ${w.version} against ${w.stableVersion}: ${w.outcome}${w.reason ? ` — ${w.reason}` : ""}`,
    );
    for (const s of w.steps) {
      lines.push(
        `      step ${s.index}: ${s.weight} % (${s.canaryReplicas} canary / ${s.stableReplicas} stable): ${s.verdict}; ` +
          `error rate canary ${rate(s.errorRate?.canary)} vs stable ${rate(s.errorRate?.stable)}`,
      );
    }
  }
  return lines;
}
