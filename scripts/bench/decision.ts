/**
 * Decision time against the length of the metrics window, on a real Prometheus holding 7 days
 * of scrape history of a healthy candidate in staging and of production's version next to it:
 * - the whole window alone: six point-estimate queries (the previous gate's, collectMetrics),
 *   over 1 h, 24 h and 7 d;
 * - the gate's analysis (collectAnalysis + decide): the first sample, the window's counts and
 *   freshness, and hourly intervals by range queries, over 24 h and 7 d.
 * Everything is timed in turn, round after round, so a slow moment of the machine does not fall
 * on one figure only.
 */
import * as fs from "fs";
import * as path from "path";
import { loadAnalysisSettings } from "../promotion/analysis-config";
import { decide } from "../promotion/gate";
import { ANALYSIS_QUERIES, collectAnalysis, collectMetrics, DEFAULT_QUERIES } from "../promotion/metrics";
import { createPrometheusClient } from "../promotion/prometheus";
import { defaultThresholdsFile, loadThresholds } from "../promotion/thresholds";
import { REPO_ROOT } from "../toolchain/env";
import { BenchmarkResult, figure, formatMs, timed } from "./figures";
import { buildHistory, HistorySpec, startHistoryPrometheus } from "./prometheus-history";
import type { BenchContext } from "./context";

const HOUR = 3600;
/** What is timed: the whole window alone, or the analysis with hourly intervals. */
const CASES: readonly { label: string; seconds: number; intervals: boolean }[] = [
  { label: "whole window 1 h", seconds: HOUR, intervals: false },
  { label: "whole window 24 h", seconds: 24 * HOUR, intervals: false },
  { label: "whole window 7 d", seconds: 7 * 24 * HOUR, intervals: false },
  { label: "analysis 24 h, hourly intervals", seconds: 24 * HOUR, intervals: true },
  { label: "analysis 7 d, hourly intervals", seconds: 7 * 24 * HOUR, intervals: true },
];

/** Seconds between scrapes in the synthetic history (Prometheus' default interval). */
export const SCRAPE_SECONDS = 15;

export async function decisionBench(ctx: BenchContext): Promise<BenchmarkResult> {
  const t0 = performance.now();
  const rounds = ctx.quick ? 3 : 15;
  const end = Math.floor(Date.now() / 60_000) * 60 - 60;
  const spec: HistorySpec = {
    from: end - 7 * 24 * HOUR - 600,
    to: end,
    scrapeSeconds: SCRAPE_SECONDS,
    services: [
      {
        namespace: "staging",
        version: "1.1.0",
        pods: 2,
        requestRate: 1,
        errorRatio: 0.002,
        labeledRate: 0.2,
        accuracy: 0.92,
      },
      {
        namespace: "production",
        version: "1.0.0",
        pods: 3,
        requestRate: 2,
        errorRatio: 0.001,
        labeledRate: 0.4,
        accuracy: 0.9,
      },
    ],
  };
  const dir = ctx.tempDir("decision");
  const dataDir = path.join(dir, "data");
  const built = await timed(() => buildHistory(spec, dataDir, path.join(dir, "openmetrics")));
  ctx.log(
    `decision: 7 d of history (${(built.value / 1e6).toFixed(2)} M samples, one scrape every ${SCRAPE_SECONDS} s) ` +
      `built with promtool in ${formatMs(built.ms)}`,
  );
  const started = await timed(() => startHistoryPrometheus(dataDir, dir));
  const prometheus = started.value;
  ctx.onCleanup("the history Prometheus", () => prometheus.stop());
  ctx.log(`decision: Prometheus ready at ${prometheus.url} in ${formatMs(started.ms)}`);
  try {
    const client = createPrometheusClient({ baseUrl: prometheus.url, timeoutMs: 60_000 });
    const thresholds = loadThresholds(defaultThresholdsFile("production"));
    const analysis = {
      ...loadAnalysisSettings(defaultThresholdsFile("production")),
      analysisIntervalMinutes: 60,
    };
    const at = new Date(end * 1000);
    const deployedAt = new Date(spec.from * 1000);
    const selector = { namespace: "staging", version: "1.1.0" };
    const once = async (c: (typeof CASES)[number]): Promise<string> => {
      const earliestStart = new Date(Math.max(deployedAt.getTime(), at.getTime() - c.seconds * 1000));
      if (!c.intervals) {
        const [m] = await collectMetrics(client, DEFAULT_QUERIES, [
          { selector, window: { start: earliestStart, end: at } },
        ]);
        return `${Math.round(m.requests.value ?? 0).toLocaleString("en")} requests`;
      }
      const measured = await collectAnalysis(client, ANALYSIS_QUERIES, {
        selector,
        end: at,
        earliestStart,
        intervalSeconds: 3600,
        slotSeconds: analysis.maxStalenessSeconds,
        lookbackSeconds:
          Math.max(c.seconds, thresholds.minSoakHours * HOUR) + 2 * analysis.maxStalenessSeconds,
      });
      const d = decide(measured.metrics, thresholds, {
        modelVersion: selector.version,
        window: measured.window,
        deployedAt,
        analysis,
      });
      return d.decision === "promote"
        ? `promote over ${measured.metrics.intervals.length} intervals`
        : `${d.outcome} (${d.checks
            .filter((x) => x.status !== "pass")
            .map((x) => `${x.name}: ${x.reason}`)
            .join("; ")})`;
    };
    const samples = new Map<string, number[]>(CASES.map((c) => [c.label, []]));
    const outcomes = new Map<string, string>();
    for (const c of CASES) outcomes.set(c.label, await once(c)); // warm-up: first reads of the blocks, not counted
    for (let round = 1; round <= rounds; round++) {
      for (const c of CASES) {
        const { ms } = await timed(() => once(c));
        samples.get(c.label)!.push(ms);
      }
      ctx.log(
        `decision: round ${round}/${rounds}: ` +
          CASES.map((c) => `${c.label} ${formatMs(samples.get(c.label)!.at(-1)!)}`).join(" · "),
      );
    }
    const whole = (label: string) => ({ name: label, samplesMs: samples.get(label)! });
    const baseOf: Record<string, ReturnType<typeof whole> | undefined> = {
      "whole window 1 h": undefined,
      "whole window 24 h": whole("whole window 1 h"),
      "whole window 7 d": whole("whole window 1 h"),
      "analysis 24 h, hourly intervals": whole("whole window 24 h"),
      "analysis 7 d, hourly intervals": whole("whole window 7 d"),
    };
    return {
      name: "decision-time",
      description:
        "the whole window alone (point estimates) over 1 h, 24 h and 7 d, and the gate's analysis with hourly intervals over 24 h and 7 d",
      figures: CASES.map((c) =>
        figure("decision-time", `decision: ${c.label}`, samples.get(c.label)!, baseOf[c.label]),
      ),
      notes: [
        `Prometheus ${prometheus.url} holding 7 d of history: ${spec.services.length} versions, ` +
          `${spec.services.reduce((n, s) => n + s.pods, 0)} pods, 17 series per pod, one sample every ${SCRAPE_SECONDS} s ` +
          `(${(built.value / 1e6).toFixed(2)} M samples) in 54 h blocks built by promtool`,
        "whole window: the previous gate's six point-estimate queries in parallel; analysis: the first-sample query, then " +
          "the window's six counts, the newest sample and six range queries over the hourly intervals in parallel, plus decide()",
        `each figure: median of ${rounds} rounds after one warm-up per case; analysis ratios are against the whole window of the same length`,
        `thresholds ${path.relative(REPO_ROOT, defaultThresholdsFile("production"))} (uptime slots of ${analysis.maxStalenessSeconds} s); outcomes: ` +
          CASES.map((c) => `${c.label}: ${outcomes.get(c.label)}`).join(", "),
      ],
      wallMs: performance.now() - t0,
    };
  } finally {
    await prometheus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
