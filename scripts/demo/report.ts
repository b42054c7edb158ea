/**
 * The demo's report: one self-contained HTML file (inline SVG, no scripts, no network) with
 * the staging metrics of each candidate against the thresholds, the gate's decisions, what
 * each story ended in, and the production history from the engine's update log.
 */
import type { HistoryEntry } from "../promotion/history";
import { canarySection } from "./canary-report";
import type { Thresholds } from "../promotion/thresholds";
import type { DecisionJson } from "../sandbox/driver";
import type { StoryResult } from "./stories";

export interface Series {
  readonly points: readonly [number, number][];
}

export interface CandidateCharts {
  readonly version: string;
  readonly accuracy: Series;
  readonly latencyP99Ms: Series;
  readonly errorRate: Series;
}

export interface ReportInput {
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly thresholds: Thresholds;
  readonly stories: readonly StoryResult[];
  readonly charts: readonly CandidateCharts[];
  readonly history: readonly HistoryEntry[];
}

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** A line chart of one series with a dashed threshold line; `better` says which side passes. */
export function lineChart(
  title: string,
  series: Series,
  threshold: number,
  better: "above" | "below",
  unit: string,
): string {
  const w = 320;
  const h = 150;
  const pad = { l: 44, r: 8, t: 20, b: 22 };
  const pts = series.points.filter(([, v]) => Number.isFinite(v));
  if (pts.length === 0) {
    return `<figure class="chart"><figcaption>${esc(title)}</figcaption><p class="empty">no data</p></figure>`;
  }
  const xs = pts.map(([t]) => t);
  const values = [...pts.map(([, v]) => v), threshold];
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  let [y0, y1] = [Math.min(...values), Math.max(...values)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 1, y1 + 1];
  const margin = (y1 - y0) * 0.1;
  y0 -= margin;
  y1 += margin;
  const sx = (t: number) => pad.l + ((t - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const sy = (v: number) => h - pad.b - ((v - y0) / (y1 - y0)) * (h - pad.t - pad.b);
  const path = pts
    .map(([t, v], i) => `${i === 0 ? "M" : "L"}${sx(t).toFixed(1)},${sy(v).toFixed(1)}`)
    .join(" ");
  const last = pts[pts.length - 1][1];
  const passing = better === "above" ? last >= threshold : last <= threshold;
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  return `<figure class="chart"><figcaption>${esc(title)} <span class="${passing ? "pass" : "fail"}">${fmt(last)}${esc(unit)}</span></figcaption>
<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${esc(title)}">
<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" class="axis"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" class="axis"/>
<text x="${pad.l - 4}" y="${sy(y1 - margin) + 4}" class="tick" text-anchor="end">${fmt(y1 - margin)}</text>
<text x="${pad.l - 4}" y="${sy(y0 + margin) + 4}" class="tick" text-anchor="end">${fmt(y0 + margin)}</text>
<text x="${pad.l}" y="${h - 6}" class="tick">0s</text>
<text x="${w - pad.r}" y="${h - 6}" class="tick" text-anchor="end">${Math.round(x1 - x0)}s</text>
<line x1="${pad.l}" y1="${sy(threshold).toFixed(1)}" x2="${w - pad.r}" y2="${sy(threshold).toFixed(1)}" class="threshold"/>
<text x="${w - pad.r}" y="${(sy(threshold) - 4).toFixed(1)}" class="tick" text-anchor="end">threshold ${fmt(threshold)}</text>
<path d="${path}" class="series"/>
</svg></figure>`;
}

function fmtValue(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

/** The lines of a command's output that say why it ended as it did (refusals, rollbacks). */
export function keyLines(text: string): string[] {
  const wanted =
    /production refuses|does not verify|promotion evidence (names|reports|was created|carries)|^promote: |rolled back|another promotion|failed verification|^Approved (decision|by)/;
  const seen = new Set<string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^\s*(│\s*)?/, "").trim();
    if (wanted.test(line) && !seen.has(line)) seen.add(line);
  }
  return [...seen].slice(0, 4);
}

/** Who approved which decision digest: `demo-approver (signed) sha256:1f2e3d4c5b6a…`. */
function approvedBy(e: HistoryEntry): string {
  if (e.approvals.length === 0) return esc(e.approver ?? "-");
  return e.approvals
    .map(
      (a) =>
        `${esc(a.approver)}${a.signed ? " (signed)" : ""} <code>${esc(a.decisionDigest.slice(0, 19))}…</code>`,
    )
    .join("<br>");
}

function decisionTable(d: DecisionJson | undefined): string {
  if (!d) return "<p>No gate decision (the story did not reach the gate).</p>";
  const rows = d.checks
    .map(
      (c) =>
        `<tr class="${c.passed ? "pass" : "fail"}"><td>${esc(c.name)}</td><td>${c.value === null ? "none" : fmtValue(c.value)}</td><td>${
          c.threshold ?? "–"
        }</td><td>${esc(c.passed ? "pass" : (c.status ?? "fail").toUpperCase())}${c.mode === "dryRun" ? " (dry run)" : ""}</td><td>${esc(c.reason)}${
          c.next !== undefined ? `<br><em>What would change it: ${esc(c.next)}</em>` : ""
        }</td></tr>`,
    )
    .join("\n");
  return `<p>Decision: <strong class="${d.decision === "promote" ? "pass" : "fail"}">${esc(d.decision)}${
    d.outcome !== undefined && d.decision !== "promote" ? ` (${esc(d.outcome)})` : ""
  }</strong>
 for ${esc(d.modelVersion)} over ${esc(d.window.start)} → ${esc(d.window.end)}</p>
<table><thead><tr><th>check</th><th>value</th><th>threshold</th><th>result</th><th>reason</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderReport(input: ReportInput): string {
  const t = input.thresholds;
  const charts = input.charts
    .map(
      (c) => `<section><h3>Staging metrics of ${esc(c.version)}</h3><div class="charts">
${lineChart("accuracy", c.accuracy, t.minAccuracy, "above", "")}
${lineChart("p99 latency", c.latencyP99Ms, t.maxLatencyP99Ms, "below", " ms")}
${lineChart("error rate", c.errorRate, t.maxErrorRate, "below", "")}
</div></section>`,
    )
    .join("\n");
  const stories = input.stories
    .map(
      (
        s,
      ) => `<section class="story"><h3><span class="${s.ok ? "pass" : "fail"}">${s.ok ? "✔" : "✘"}</span> ${esc(s.title)}</h3>
<p>Expected: ${esc(s.expectation)}. Production afterwards: <strong>${esc(s.productionVersionAfter ?? "nothing")}</strong>
 · ${(s.ms / 1000).toFixed(0)} s</p>
${decisionTable(s.decision)}
<details open><summary>commands (${s.runs.length})</summary><ul>${s.runs
        .map(
          (r) =>
            `<li><code>${esc(r.command.slice(0, 300))}</code> → exit ${r.code} in ${(r.ms / 1000).toFixed(1)} s` +
            keyLines(`${r.stdout}\n${r.stderr}`)
              .map((l) => `<br><span class="why">${esc(l.slice(0, 400))}</span>`)
              .join("") +
            "</li>",
        )
        .join("")}</ul></details></section>`,
    )
    .join("\n");
  const history = input.history
    .map(
      (e) =>
        `<tr><td>${e.update}</td><td>${esc(e.startedAt)}</td><td>${esc(e.result)}</td><td>${esc(e.modelVersion ?? "-")}</td><td>${esc(e.evidenceFor ? `${e.kind} of ${e.evidenceFor}` : e.kind)}</td><td>${approvedBy(e)}</td><td>${
          e.measured ? e.measured.accuracy.toFixed(3) : "-"
        }</td><td>${e.measured ? e.measured.latencyP99Ms.toFixed(0) : "-"}</td><td>${
          e.measured ? e.measured.errorRate.toFixed(4) : "-"
        }</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>churn-model promotion report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d232a;padding:0 1rem}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #d7dde3}h3{font-size:1.05rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d7dde3;padding:.25rem .5rem;text-align:left}
tr.fail td{background:#fdecec}.pass{color:#1a7f37}.fail{color:#c62828}
.charts{display:flex;gap:1rem;flex-wrap:wrap}.chart{margin:0}.chart figcaption{font-weight:600}
.axis{stroke:#8894a0}.tick{font-size:10px;fill:#5b6670}.threshold{stroke:#c62828;stroke-dasharray:4 3}
.series{fill:none;stroke:#1f6feb;stroke-width:2}rect.canary{fill:#e36209}rect.stable{fill:#1f6feb}.why{color:#5b6670;font-size:12px}.empty{color:#8894a0}code{font-size:12px}
</style></head><body>
<h1>churn-model: staging → production</h1>
<p>Run ${esc(input.startedAt.toISOString())} → ${esc(input.finishedAt.toISOString())}
 (${((input.finishedAt.getTime() - input.startedAt.getTime()) / 60000).toFixed(1)} min) on the local sandbox.
 Thresholds: accuracy ≥ ${t.minAccuracy}, p99 ≤ ${t.maxLatencyP99Ms} ms, error rate ≤ ${t.maxErrorRate},
 uptime ≥ ${t.minUptime}, soak ≥ ${t.minSoakHours} h, ≥ ${t.minRequests} requests, ≥ ${t.minLabeledPredictions} labeled.</p>
<h2>Stories</h2>
${stories}
<h2>Candidates in staging</h2>
<p>Each chart: the metric over 30-second windows while the version ran in staging; the dashed line is the threshold.</p>
${charts}
${canarySection(input.history)}
<h2>Production history</h2>
<p>From the production stack's update history; each update carries the evidence it ran with.</p>
<table><thead><tr><th>update</th><th>started</th><th>result</th><th>version</th><th>evidence</th><th>approved (decision digest)</th><th>accuracy</th><th>p99 ms</th><th>error rate</th></tr></thead>
<tbody>${history}</tbody></table>
</body></html>
`;
}
