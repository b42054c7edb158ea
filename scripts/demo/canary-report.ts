/**
 * The demo report's canary section: every canary walk production's history records (the
 * update that ended it, scripts/promotion/canary/history.ts), one table per walk with each
 * step's weight, the two tracks' sizes, its verdict and the canary's and the stable's error
 * rate over the step's window side by side, with a bar for each so the gap shows at a glance.
 */
import type { HistoryEntry } from "../promotion/history";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function rate(v: number | null | undefined): string {
  return v === null || v === undefined ? "-" : v.toFixed(4);
}

/** A bar of `v` on a scale where `max` fills 120 px (no scripts: inline SVG). */
function bar(v: number | null | undefined, max: number, cls: string): string {
  if (v === null || v === undefined) return "";
  const w = max > 0 ? Math.max(1, Math.round((v / max) * 120)) : 1;
  return `<svg width="122" height="10" role="img" aria-label="${rate(v)}"><rect class="${cls}" x="0" y="1" width="${w}" height="8"/></svg>`;
}

/** The canary section, or "" when production's history has no canary walk. */
export function canarySection(history: readonly HistoryEntry[]): string {
  const walks = history.flatMap((e) => (e.canary?.walk !== undefined ? [{ e, walk: e.canary.walk }] : []));
  if (walks.length === 0) return "";
  const tables = walks.map(({ e, walk }) => {
    const max = Math.max(
      0,
      ...walk.steps.flatMap((s) => [s.errorRate?.canary ?? 0, s.errorRate?.stable ?? 0]),
    );
    const rows = walk.steps
      .map(
        (s) =>
          `<tr class="${s.verdict === "pass" ? "" : "fail"}"><td>${s.index}</td><td>${s.weight} %</td>` +
          `<td>${s.canaryReplicas} / ${s.stableReplicas}</td><td>${esc(s.verdict)}</td>` +
          `<td>${rate(s.errorRate?.canary)} ${bar(s.errorRate?.canary, max, "canary")}</td>` +
          `<td>${rate(s.errorRate?.stable)} ${bar(s.errorRate?.stable, max, "stable")}</td>` +
          `<td class="why">${esc(s.reason.slice(0, 300))}</td></tr>`,
      )
      .join("");
    return `<section><h3>Canary of ${esc(walk.version)} against ${esc(walk.stableVersion)}: ${esc(walk.outcome)}</h3>
<p>Ended by update ${e.update} (${esc(e.startedAt)})${walk.reason ? `: ${esc(walk.reason.slice(0, 400))}` : ""}.</p>
<table><thead><tr><th>step</th><th>weight</th><th>pods canary / stable</th><th>verdict</th><th>canary error rate</th><th>stable error rate</th><th>reason</th></tr></thead>
<tbody>${rows}</tbody></table></section>`;
  });
  return `<h2>Canary steps</h2>
<p>Each step compares the canary with the stable on the same live traffic over the same minutes (docs/canary.md); the error rates are over the step's window.</p>
${tables.join("\n")}`;
}
