/**
 * Decision time against the length of the metrics window: the gate's default queries
 * (collectMetrics) and the decision (decide) over 1 h, 24 h and 7 d of a real Prometheus
 * holding 7 days of scrape history of a healthy candidate in staging and of production's
 * version next to it. Windows are timed in turn, round after round, so a slow moment of the
 * machine does not fall on one window only.
 */
import * as fs from "fs";
import * as path from "path";
import { decide } from "../promotion/gate";
import { collectMetrics, DEFAULT_QUERIES } from "../promotion/metrics";
import { createPrometheusClient } from "../promotion/prometheus";
import { defaultThresholdsFile, loadThresholds } from "../promotion/thresholds";
import { REPO_ROOT } from "../toolchain/env";
import { BenchmarkResult, figure, formatMs, timed } from "./figures";
import { buildHistory, HistorySpec, startHistoryPrometheus } from "./history";
import type { BenchContext } from "./context";

const HOUR = 3600;
const WINDOWS: readonly { label: string; seconds: number }[] = [
  { label: "1 h", seconds: HOUR },
  { label: "24 h", seconds: 24 * HOUR },
  { label: "7 d", seconds: 7 * 24 * HOUR },
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
    const at = new Date(end * 1000);
    const deployedAt = new Date(spec.from * 1000);
    const selector = { namespace: "staging", version: "1.1.0" };
    const once = async (seconds: number) => {
      const window = {
        start: new Date(Math.max(deployedAt.getTime(), at.getTime() - seconds * 1000)),
        end: at,
      };
      const [metrics] = await collectMetrics(client, DEFAULT_QUERIES, [{ selector, window }]);
      return {
        metrics,
        decision: decide(metrics, thresholds, { modelVersion: selector.version, window, deployedAt }),
      };
    };
    const samples = new Map<string, number[]>(WINDOWS.map((w) => [w.label, []]));
    const outcomes = new Map<string, string>();
    for (const w of WINDOWS) {
      const { metrics, decision: d } = await once(w.seconds); // warm-up: first reads of the blocks, not counted
      const requests = Math.round(metrics.requests.value ?? 0).toLocaleString("en");
      outcomes.set(
        w.label,
        d.decision === "promote"
          ? `promote on ${requests} requests`
          : `reject (${d.checks
              .filter((c) => !c.passed)
              .map((c) => c.reason)
              .join("; ")})`,
      );
    }
    for (let round = 1; round <= rounds; round++) {
      for (const w of WINDOWS) {
        const { ms } = await timed(() => once(w.seconds));
        samples.get(w.label)!.push(ms);
      }
      ctx.log(
        `decision: round ${round}/${rounds}: ` +
          WINDOWS.map((w) => `${w.label} ${formatMs(samples.get(w.label)!.at(-1)!)}`).join(" · "),
      );
    }
    const base = { name: "1 h window", samplesMs: samples.get("1 h")! };
    return {
      name: "decision-time",
      description: "collectMetrics + decide over windows of 1 h, 24 h and 7 d of scrape history",
      figures: WINDOWS.map((w) =>
        figure(
          "decision-time",
          `decision over ${w.label}`,
          samples.get(w.label)!,
          w.label === "1 h" ? undefined : base,
        ),
      ),
      notes: [
        `Prometheus ${prometheus.url} holding 7 d of history: ${spec.services.length} versions, ` +
          `${spec.services.reduce((n, s) => n + s.pods, 0)} pods, 17 series per pod, one sample every ${SCRAPE_SECONDS} s ` +
          `(${(built.value / 1e6).toFixed(2)} M samples) in 54 h blocks built by promtool`,
        `each figure: the six default queries in parallel plus decide(), median of ${rounds} rounds after one warm-up per window`,
        `thresholds ${path.relative(REPO_ROOT, defaultThresholdsFile("production"))}; decisions: ` +
          WINDOWS.map((w) => `${w.label} ${outcomes.get(w.label)}`).join(", "),
      ],
      wallMs: performance.now() - t0,
    };
  } finally {
    await prometheus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
