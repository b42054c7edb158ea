/**
 * Decision time against the length of the metrics window, on a real Prometheus holding 7 days
 * of scrape history of a healthy candidate in staging and of production's version next to it,
 * over 24 h and over 7 d:
 * - one raw instant query (the request count over the window): the baseline every other figure
 *   of the same window is divided by, measured in the same rounds;
 * - the whole window alone: six point-estimate queries (the previous gate's, collectMetrics);
 * - the gate's analysis (collectAnalysis + decide): the search for the first and newest scrape
 *   samples, the window's counts and hourly intervals by range queries;
 * - that search alone (a detail of the analysis: sample-edges.ts).
 * Everything is timed in turn, round after round, so a slow moment of the machine does not fall
 * on one figure only; each figure is the median with the fastest and slowest round.
 */
import * as fs from "fs";
import * as path from "path";
import { loadAnalysisSettings } from "../promotion/analysis-config";
import { decide } from "../promotion/gate";
import { ANALYSIS_QUERIES, collectAnalysis } from "../promotion/analysis-metrics";
import { ask, collectMetrics, DEFAULT_QUERIES, renderQuery } from "../promotion/metrics";
import { searchEdges } from "../promotion/sample-edges";
import { createPrometheusClient } from "../promotion/prometheus";
import { defaultThresholdsFile, loadThresholds } from "../promotion/thresholds";
import { REPO_ROOT } from "../toolchain/env";
import { BenchmarkResult, figure, formatMs, timed } from "./figures";
import { buildHistory, HistorySpec, startHistoryPrometheus } from "./prometheus-history";
import type { BenchContext } from "./context";

const HOUR = 3600;
type Kind =
  | "raw instant query"
  | "whole window"
  | "analysis, hourly intervals"
  | "first and newest sample search";
/** What is timed, per window: the baseline first. */
const CASES: readonly { label: string; kind: Kind; seconds: number }[] = [24, 7 * 24].flatMap((hours) =>
  (
    [
      "raw instant query",
      "whole window",
      "analysis, hourly intervals",
      "first and newest sample search",
    ] as const
  ).map((kind) => ({
    label: `${kind} ${hours === 24 ? "24 h" : "7 d"}`,
    kind,
    seconds: hours * HOUR,
  })),
);

/** The baseline: one count over the window, as cheap as a gate query gets. */
const RAW_QUERY = "sum(increase(churn_model_requests_total{$SELECTOR}[$WINDOW]))";

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
      if (c.kind === "raw instant query") {
        const r = await client.instantQuery(
          renderQuery(RAW_QUERY, selector, Math.floor((at.getTime() - earliestStart.getTime()) / 1000)),
          at,
        );
        return `${r.resultType === "vector" ? r.samples.length : 0} series`;
      }
      if (c.kind === "whole window") {
        const [m] = await collectMetrics(client, DEFAULT_QUERIES, [
          { selector, window: { start: earliestStart, end: at } },
        ]);
        return `${Math.round(m.requests.value ?? 0).toLocaleString("en")} requests`;
      }
      const lookbackSeconds =
        Math.max(c.seconds, thresholds.minSoakHours * HOUR) + 2 * analysis.maxStalenessSeconds;
      if (c.kind === "first and newest sample search") {
        const request = { selector, end: at, lookbackSeconds, slotSeconds: analysis.maxStalenessSeconds };
        const edges = await searchEdges(client, ANALYSIS_QUERIES, request, ask);
        const [first, last] = await Promise.all([edges.first(), edges.last()]);
        return `first ${first.sample.value}, newest ${last.sample.value}`;
      }
      const measured = await collectAnalysis(client, ANALYSIS_QUERIES, {
        selector,
        end: at,
        earliestStart,
        deployedAt,
        intervalSeconds: 3600,
        slotSeconds: analysis.maxStalenessSeconds,
        lookbackSeconds,
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
    const baseOf = (c: (typeof CASES)[number]) => {
      const raw = CASES.find((b) => b.kind === "raw instant query" && b.seconds === c.seconds)!;
      return c === raw ? undefined : { name: raw.label, samplesMs: samples.get(raw.label)! };
    };
    return {
      name: "decision-time",
      description:
        "the gate's analysis with hourly intervals and the whole window alone (point estimates) over 24 h and 7 d, against one raw instant query over the same window",
      figures: CASES.map((c) =>
        figure("decision-time", `decision: ${c.label}`, samples.get(c.label)!, baseOf(c), {
          detail: c.kind === "first and newest sample search",
        }),
      ),
      notes: [
        `Prometheus ${prometheus.url} holding 7 d of history: ${spec.services.length} versions, ` +
          `${spec.services.reduce((n, s) => n + s.pods, 0)} pods, 17 series per pod, one sample every ${SCRAPE_SECONDS} s ` +
          `(${(built.value / 1e6).toFixed(2)} M samples) in 54 h blocks built by promtool`,
        `raw instant query: ${RAW_QUERY}; whole window: the previous gate's six point-estimate queries in parallel; ` +
          "analysis: the coarse and the fine search for the first scrape sample, then the window's six counts, the newest " +
          "sample and six range queries over the hourly intervals in parallel, plus decide()",
        `each figure: median (with the fastest and slowest) of ${rounds} rounds after one warm-up per case; ratios are ` +
          "against the raw instant query over the same window, in the same rounds",
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
