/**
 * How a decision is shown: the JSON of the CLI contract, a plain-text table for terminals and
 * logs, and a Markdown summary for a CI job page.
 */
import * as fs from "fs";
import { DependencyUnavailable } from "./errors";
import { Check, CheckName, Decision, formatNumber, Outcome } from "./gate";

/**
 * The decision as `--json` prints it: the contract's keys in the contract's order
 * (decision, modelVersion, window, checks with name, value, threshold, passed, reason), then
 * what the analysis adds: the overall outcome and method, and per check its status, mode,
 * bounds, what would change it and its intervals.
 */
export function decisionJson(decision: Decision): string {
  const ordered = {
    decision: decision.decision,
    modelVersion: decision.modelVersion,
    window: { start: decision.window.start, end: decision.window.end },
    checks: decision.checks.map((c) => ({
      name: c.name,
      value: c.value,
      threshold: c.threshold,
      passed: c.passed,
      reason: c.reason,
      status: c.status,
      mode: c.mode,
      lower: c.lower,
      upper: c.upper,
      ...(c.next !== undefined ? { next: c.next } : {}),
      ...(c.intervals !== undefined ? { intervals: c.intervals } : {}),
    })),
    outcome: decision.outcome,
    analysis: decision.analysis,
  };
  return JSON.stringify(ordered, null, 2);
}

/** What kind of "no" an outcome is, in a few words. */
export const OUTCOME_MEANING: Readonly<Record<Outcome, string>> = {
  pass: "every enforced check passed",
  fail: "the data say the candidate is worse than a threshold",
  inconclusive: "not enough data to say either way yet",
  error: "a measurement could not be made",
};

function statusText(c: Check): string {
  const s = c.status === "pass" ? "pass" : c.status.toUpperCase();
  return c.mode === "dryRun" ? `${s} (dry run)` : s;
}

function boundsText(c: Check): string {
  if (c.lower === null && c.upper === null) return "";
  const unit = UNIT[c.name] ?? "";
  const lo = c.lower === null ? "…" : formatNumber(c.lower);
  const hi = c.upper === null ? "…" : formatNumber(c.upper);
  return `[${lo}, ${hi}]${unit}`;
}

function intervalSummary(c: Check): string {
  if (c.intervals === undefined) return "";
  const n = c.intervals.length;
  if (n === 0) return "none";
  const count = (o: Outcome) => c.intervals!.filter((i) => i.status === o).length;
  const parts = (["pass", "fail", "inconclusive", "error"] as const)
    .filter((o) => count(o) > 0)
    .map((o) => `${count(o)} ${o}`);
  return `${n}: ${parts.join(", ")}`;
}

const COMPARATOR: Record<CheckName, string> = {
  accuracy: "≥",
  latency_p99: "≤",
  error_rate: "≤",
  uptime: "≥",
  soak_time: "≥",
  samples: "≥",
  freshness: "≤",
  baseline_accuracy: "≤",
  baseline_latency_p99: "≤",
  baseline_error_rate: "≤",
};

const UNIT: Partial<Record<CheckName, string>> = {
  latency_p99: " ms",
  soak_time: " h",
  freshness: " s",
  baseline_latency_p99: " ms",
};

function valueText(c: Check): string {
  return c.value === null ? "—" : `${formatNumber(c.value)}${UNIT[c.name] ?? ""}`;
}

function thresholdText(c: Check): string {
  return `${COMPARATOR[c.name]} ${formatNumber(c.threshold)}${UNIT[c.name] ?? ""}`;
}

export interface ReportContext {
  readonly from: string;
  readonly to: string;
}

function headline(decision: Decision, ctx: ReportContext): string {
  const verdict =
    decision.decision === "promote"
      ? "PROMOTE"
      : `REJECT (${decision.outcome}: ${OUTCOME_MEANING[decision.outcome]})`;
  return `Promotion gate for churn-model ${decision.modelVersion} (${ctx.from} → ${ctx.to}): ${verdict}`;
}

function methodLine(decision: Decision): string {
  const a = decision.analysis;
  return (
    `Method: exact (Clopper–Pearson) intervals at ${formatNumber(a.confidence * 100)} % confidence; ` +
    `${a.intervals} interval${a.intervals === 1 ? "" : "s"} of ${formatNumber(a.analysisIntervalMinutes)} min ` +
    `judged at ${formatNumber(a.intervalConfidence * 100)} %, at most ${a.maxFailedIntervals} confidently bad; ` +
    `gaps over ${a.maxStalenessSeconds} s count as down`
  );
}

/** The checks that keep the candidate out, each with what would change it. */
function whatWouldChange(decision: Decision): string[] {
  return decision.checks
    .filter((c) => c.status !== "pass")
    .map(
      (c) =>
        `${c.name}${c.mode === "dryRun" ? " (dry run, not deciding)" : ""}: ${c.status}` +
        (c.next !== undefined ? ` — ${c.next}` : ""),
    );
}

/** A fixed-width table of the checks; `color` adds ANSI colors for terminals. */
export function decisionTable(decision: Decision, ctx: ReportContext, color = false): string {
  const paint = (code: number, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const rows = decision.checks.map((c) => [
    c.name,
    valueText(c),
    boundsText(c),
    thresholdText(c),
    intervalSummary(c),
    statusText(c),
    c.reason,
  ]);
  const header = ["CHECK", "VALUE", "BOUNDS", "THRESHOLD", "INTERVALS", "RESULT", "REASON"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[], status?: Outcome): string =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i]);
        if (i !== 5 || status === undefined) return padded;
        return paint(status === "pass" ? 32 : status === "inconclusive" ? 33 : 31, padded);
      })
      .join("  ");
  const verdict = headline(decision, ctx);
  const changes = whatWouldChange(decision);
  return [
    decision.decision === "promote" ? paint(32, verdict) : paint(31, verdict),
    `Window: ${decision.window.start} → ${decision.window.end}`,
    methodLine(decision),
    "",
    line(header),
    ...rows.map((r, i) => line(r, decision.checks[i].status)),
    ...(changes.length > 0 ? ["", "What would change it:", ...changes.map((c) => `  - ${c}`)] : []),
    "",
  ].join("\n");
}

function mdCell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

const MD_ICON: Readonly<Record<Outcome, string>> = {
  pass: "✅ pass",
  fail: "❌ fail",
  inconclusive: "⏳ inconclusive",
  error: "⚠️ error",
};

/** A Markdown summary of the decision, for `$GITHUB_STEP_SUMMARY`. */
export function decisionMarkdown(decision: Decision, ctx: ReportContext): string {
  const icon = decision.decision === "promote" ? "✅" : "❌";
  const changes = whatWouldChange(decision);
  return [
    `### ${icon} ${headline(decision, ctx)}`,
    "",
    `Window: \`${decision.window.start}\` → \`${decision.window.end}\``,
    "",
    methodLine(decision),
    "",
    "| Check | Value | Bounds | Threshold | Intervals | Result | Reason |",
    "| --- | --: | --: | --: | --- | --- | --- |",
    ...decision.checks.map(
      (c) =>
        `| ${c.name} | ${mdCell(valueText(c))} | ${mdCell(boundsText(c))} | ${mdCell(thresholdText(c))} | ` +
        `${mdCell(intervalSummary(c))} | ${MD_ICON[c.status]}${c.mode === "dryRun" ? " (dry run)" : ""} | ${mdCell(c.reason)} |`,
    ),
    ...(changes.length > 0
      ? ["", "**What would change it**", "", ...changes.map((c) => `- ${mdCell(c)}`)]
      : []),
    "",
  ].join("\n");
}

/** Appends Markdown to the job summary file. */
export function appendStepSummary(file: string, markdown: string): void {
  try {
    fs.appendFileSync(file, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
  } catch (err) {
    throw new DependencyUnavailable(
      `cannot append to GITHUB_STEP_SUMMARY ${file}: ${(err as Error).message}`,
    );
  }
}

/** Where `reportDecision` writes: the decision to `out`, notes to `log`, the summary to a file. */
export interface DecisionSinks {
  readonly out: (text: string) => void;
  readonly log: (line: string) => void;
  /** Whether `out` is a terminal (colors). */
  readonly outIsTty: boolean;
  /** `$GITHUB_STEP_SUMMARY`, when set. */
  readonly stepSummaryFile?: string;
}

/** Shows the decision (table or JSON) and, beside the numbers, the digest approvals bind to. */
export function reportDecision(
  options: { readonly json: boolean; readonly from: string; readonly to: string },
  sinks: DecisionSinks,
  decision: Decision,
  digest: string,
  note?: string,
): void {
  const ctx = { from: options.from, to: options.to };
  sinks.out(
    options.json
      ? `${decisionJson(decision)}\n`
      : `${decisionTable(decision, ctx, sinks.outIsTty)}Decision digest: ${digest}\n`,
  );
  if (note !== undefined) sinks.log(note);
  if (sinks.stepSummaryFile !== undefined && sinks.stepSummaryFile !== "") {
    appendStepSummary(
      sinks.stepSummaryFile,
      `${decisionMarkdown(decision, ctx)}\nDecision digest (what an approval binds to): \`${digest}\`\n`,
    );
  }
}
