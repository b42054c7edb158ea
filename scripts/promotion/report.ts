/**
 * How a decision is shown: the JSON of the CLI contract, a plain-text table for terminals and
 * logs, and a Markdown summary for a CI job page.
 */
import * as fs from "fs";
import { DependencyUnavailable } from "./errors";
import { Check, CheckName, Decision, formatNumber } from "./gate";

/** The decision exactly as `--json` prints it: the contract's keys, in the contract's order. */
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
    })),
  };
  return JSON.stringify(ordered, null, 2);
}

const COMPARATOR: Record<CheckName, string> = {
  accuracy: "≥",
  latency_p99: "≤",
  error_rate: "≤",
  uptime: "≥",
  soak_time: "≥",
  samples: "≥",
  baseline_accuracy: "≤",
  baseline_latency_p99: "≤",
  baseline_error_rate: "≤",
};

const UNIT: Partial<Record<CheckName, string>> = {
  latency_p99: " ms",
  soak_time: " h",
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
  const verdict = decision.decision === "promote" ? "PROMOTE" : "REJECT";
  return `Promotion gate for churn-model ${decision.modelVersion} (${ctx.from} → ${ctx.to}): ${verdict}`;
}

/** A fixed-width table of the checks; `color` adds ANSI colors for terminals. */
export function decisionTable(decision: Decision, ctx: ReportContext, color = false): string {
  const paint = (code: number, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const rows = decision.checks.map((c) => [
    c.name,
    valueText(c),
    thresholdText(c),
    c.passed ? "pass" : "FAIL",
    c.reason,
  ]);
  const header = ["CHECK", "VALUE", "THRESHOLD", "RESULT", "REASON"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[], result?: boolean): string =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i]);
        return i === 3 && result !== undefined ? paint(result ? 32 : 31, padded) : padded;
      })
      .join("  ");
  const verdict = headline(decision, ctx);
  return [
    decision.decision === "promote" ? paint(32, verdict) : paint(31, verdict),
    `Window: ${decision.window.start} → ${decision.window.end}`,
    "",
    line(header),
    ...rows.map((r, i) => line(r, decision.checks[i].passed)),
    "",
  ].join("\n");
}

function mdCell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** A Markdown summary of the decision, for `$GITHUB_STEP_SUMMARY`. */
export function decisionMarkdown(decision: Decision, ctx: ReportContext): string {
  const icon = decision.decision === "promote" ? "✅" : "❌";
  return [
    `### ${icon} ${headline(decision, ctx)}`,
    "",
    `Window: \`${decision.window.start}\` → \`${decision.window.end}\``,
    "",
    "| Check | Value | Threshold | Result | Reason |",
    "| --- | --: | --: | --- | --- |",
    ...decision.checks.map(
      (c) =>
        `| ${c.name} | ${mdCell(valueText(c))} | ${mdCell(thresholdText(c))} | ${c.passed ? "✅ pass" : "❌ fail"} | ${mdCell(c.reason)} |`,
    ),
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
