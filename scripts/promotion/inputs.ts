/**
 * What the runner of a promotion cannot choose. The flags that pick the data or the rules
 * (`--staging-outputs`, `--thresholds`, `--queries`, an `--at` ahead of the clock) are refused
 * when parsed (cli-args.ts); the rest is refused here, before anything is measured: an `--at`
 * more than MAX_WINDOW_LAG_MS in the past, a window shorter than the soak and metrics
 * selector labels beyond the reviewed ones. A dry run accepts all of it and says so.
 */
import { DRY_RUN_ONLY, MAX_AT_AHEAD_MS, PROMOTION_AT_AHEAD_MS, PromoteOptions } from "./cli-args";
import { BadInput } from "./errors";
import { MAX_WINDOW_LAG_MS } from "./evidence";
import type { StagingSnapshot } from "./outputs";
import type { Thresholds } from "./thresholds";

/** The labels of the program's `metricsSelector` output: every series of the version in its namespace. */
export const REVIEWED_SELECTOR_LABELS: readonly string[] = ["namespace", "version"];

/** Hours as the messages show them. */
function hours(seconds: number): string {
  return `${Number((seconds / 3600).toPrecision(6))} h`;
}

/**
 * The inputs of this run a promotion refuses, each as a sentence naming the flag or output:
 * empty for a promotion's own inputs.
 */
export function chosenInputs(
  options: PromoteOptions,
  context: { thresholds: Thresholds; thresholdsFile: string; staging: StagingSnapshot; now: Date },
): string[] {
  const out: string[] = [];
  const given: Record<string, unknown> = {
    "--staging-outputs": options.stagingOutputs,
    "--thresholds": options.thresholds,
    "--queries": options.queries,
  };
  for (const [flag, why] of Object.entries(DRY_RUN_ONLY)) {
    if (given[flag] !== undefined) out.push(`${flag} is for dry runs (--dry-run) only: ${why}`);
  }
  if (options.at !== undefined && options.at.getTime() - context.now.getTime() > PROMOTION_AT_AHEAD_MS) {
    out.push(
      `--at ${options.at.toISOString()} lies ahead of this machine's clock (now is ${context.now.toISOString()}; ` +
        `a promotion allows ${PROMOTION_AT_AHEAD_MS / 1000} s of skew, a dry run ${MAX_AT_AHEAD_MS / 60_000} min)`,
    );
  }
  if (options.at !== undefined && context.now.getTime() - options.at.getTime() > MAX_WINDOW_LAG_MS) {
    out.push(
      `--at ${options.at.toISOString()} lies more than ${MAX_WINDOW_LAG_MS / 60_000} min before this machine's clock ` +
        `(now is ${context.now.toISOString()}): a promotion's window ends when its evidence is signed, ` +
        "so it judges the metrics up to now; earlier times only with --dry-run",
    );
  }
  const soakSeconds = context.thresholds.minSoakHours * 3600;
  if (options.windowSeconds < soakSeconds) {
    out.push(
      `--window ${hours(options.windowSeconds)} is shorter than minSoakHours (${hours(soakSeconds)}) of ` +
        `${context.thresholdsFile}: a promotion's window covers at least the soak`,
    );
  }
  if (context.staging.outputs.artifact === undefined) {
    out.push(
      `the outputs of ${context.staging.stack} name no artifact (the registry, repository and digest its pods ` +
        "run, read from the cluster): the evidence binds the digest staging ran; deploy staging with " +
        "`npm run deploy` so the stack reports it",
    );
  }
  const selector = context.staging.outputs.metricsSelector;
  const extra = Object.keys(selector).filter((k) => !REVIEWED_SELECTOR_LABELS.includes(k));
  if (extra.length > 0) {
    out.push(
      `the metricsSelector of ${context.staging.stack} has labels beyond the reviewed ` +
        `${REVIEWED_SELECTOR_LABELS.join(" and ")} (${extra.join(", ")}): a promotion measures every ` +
        "series of the version in its namespace, not a chosen part of them",
    );
  }
  return out;
}

/**
 * In a promotion, refuses the first chosen input (exit 2, nothing changed); in a dry run,
 * returns the note that the output is a dry run's and what a promotion would refuse.
 */
export function checkInputs(options: PromoteOptions, chosen: readonly string[]): string | undefined {
  if (!options.dryRun) {
    if (chosen.length > 0) throw new BadInput(`${chosen.join("; ")}; nothing was changed`);
    return undefined;
  }
  return (
    "Dry run: this decision changes nothing and signs no evidence" +
    (chosen.length > 0 ? `; a promotion would refuse: ${chosen.join("; ")}` : "")
  );
}

/**
 * Refuses evidence whose window ends after the moment it is signed (an `--at` ahead of the
 * clock) or more than MAX_WINDOW_LAG_MS before it (an `--at` that aged while approval waited):
 * the verifiers refuse both (policy/contract/verify.ts, momentProblems).
 */
export function assertWindowEndsBy(windowEnd: string, createdAt: Date): void {
  if (Date.parse(windowEnd) > createdAt.getTime()) {
    throw new BadInput(
      `the metrics window ends at ${windowEnd}, after the evidence would be signed (${createdAt.toISOString()}): ` +
        "--at lies ahead of this machine's clock; promote without --at, or with a time not after now; nothing was changed",
    );
  }
  if (createdAt.getTime() - Date.parse(windowEnd) > MAX_WINDOW_LAG_MS) {
    throw new BadInput(
      `the metrics window ends at ${windowEnd}, more than ${MAX_WINDOW_LAG_MS / 60_000} min before the evidence ` +
        `would be signed (${createdAt.toISOString()}): promote without --at, so the window ends now; nothing was changed`,
    );
  }
}
