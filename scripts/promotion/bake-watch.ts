/**
 * The bake's polling: watches production for the bake window — the service's readiness path
 * every poll, and the version's error rate, p99 latency and requests since the watch began —
 * and hands each look to `judgeBake` (bake.ts), which alone decides. This file only polls.
 */
import { versionLabel } from "../../policy/contract";
import { BakeObservation, judgeBake, RollbackTriggers } from "./bake";
import { firstLine } from "./engine";
import { ANALYSIS_QUERIES, histogramFrom } from "./analysis-metrics";
import { readHistogram } from "./gate-judge";
import { ask, collectMetrics, DEFAULT_QUERIES, QueryTemplates, renderQuery, windowSeconds } from "./metrics";
import { createPrometheusClient, PrometheusClient } from "./prometheus";
import type { LabelSelector } from "./parsers";
import type { Progress, VerifyResult } from "./deployer";
import { parseLabelSelector } from "./parsers";

/** Where and how production is watched. */
export interface BakeWatch {
  readonly modelVersion: string;
  readonly serviceUrl: string;
  readonly prometheusUrl: string;
  readonly namespace: string;
  /** The readiness path production's pods are probed on (`churn-model:probes.readinessPath`). */
  readonly readinessPath: string;
  readonly triggers: RollbackTriggers;
  readonly queries?: QueryTemplates;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * The series of `modelVersion` in `namespace`: the metrics contract's label value of the
 * version (`versionLabel`: a digest or a `+build` is not its own label value).
 */
export function bakeSelector(namespace: string, modelVersion: string): LabelSelector {
  return parseLabelSelector({ namespace, version: versionLabel(modelVersion) }, "production selector");
}

/** Polls until `judgeBake` calls production healthy or unhealthy. */
export async function watchBake(w: BakeWatch, progress: Progress): Promise<VerifyResult> {
  const t = w.triggers;
  const selector = bakeSelector(w.namespace, w.modelVersion);
  const prometheus = createPrometheusClient({ baseUrl: w.prometheusUrl, timeoutMs: 10_000 });
  const start = new Date();
  let failedInARow = 0;
  progress(
    `verify: watching ${w.modelVersion} in ${w.namespace} for ${t.bakeSeconds}s ` +
      `(${w.serviceUrl}${w.readinessPath})`,
  );
  for (;;) {
    const health = await healthCheck(w.serviceUrl, w.readinessPath);
    failedInARow = health.ok ? 0 : failedInARow + 1;
    const now = new Date();
    const elapsedSeconds = (now.getTime() - start.getTime()) / 1000;
    let traffic: BakeObservation["traffic"];
    if (elapsedSeconds >= 1) {
      try {
        const window = { start, end: now };
        const [[m], aboveMs] = await Promise.all([
          collectMetrics(prometheus, w.queries ?? DEFAULT_QUERIES, [{ selector, window }]),
          p99AboveBuckets(prometheus, selector, window),
        ]);
        traffic = {
          requests: m.requests.value,
          errorRate: m.errorRate.value,
          latencyP99Ms: m.latencyP99Ms.value,
          ...(aboveMs !== undefined ? { p99AboveBucketsMs: aboveMs } : {}),
        };
      } catch (err) {
        traffic = { unreadable: firstLine(err) };
      }
    }
    const verdict = judgeBake(
      {
        elapsedSeconds,
        failedHealthChecksInARow: failedInARow,
        lastHealthFailure: health.ok ? undefined : health.reason,
        traffic,
      },
      t,
    );
    if (verdict.status === "unhealthy") return { healthy: false, reasons: verdict.reasons };
    if (traffic !== undefined)
      progress(
        `verify: ${Math.round(elapsedSeconds)}s/${t.bakeSeconds}s ${describe(traffic)} health=${health.ok ? "ok" : "failing"}`,
      );
    if (verdict.status === "healthy") return { healthy: true, reasons: [] };
    await w.sleep(t.pollSeconds * 1000);
  }
}

/**
 * The largest finite bound (ms) when more than 1 % of the window's requests lie above it, in
 * the +Inf bucket (the gate's rule, gate-judge.ts); undefined otherwise, or when the buckets
 * cannot be read (the p99 query's own answer then decides).
 */
export async function p99AboveBuckets(
  prometheus: PrometheusClient,
  selector: LabelSelector,
  window: { readonly start: Date; readonly end: Date },
): Promise<number | undefined> {
  const query = renderQuery(ANALYSIS_QUERIES.latencyBuckets, selector, windowSeconds(window));
  const h = readHistogram(histogramFrom(await ask(() => prometheus.instantQuery(query, window.end))));
  if (!h.ok || h.buckets.length < 2 || h.total <= 0) return undefined;
  const largest = h.buckets[h.buckets.length - 2];
  return h.total - largest.count > 0.01 * h.total ? largest.le * 1000 : undefined;
}

function fmt(v: number | null): string {
  if (v === null) return "none";
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

function describe(traffic: NonNullable<BakeObservation["traffic"]>): string {
  if ("unreadable" in traffic) return `metrics unreadable (${traffic.unreadable})`;
  return (
    `requests=${traffic.requests === null ? "none" : Math.round(traffic.requests)} ` +
    `error_rate=${fmt(traffic.errorRate)} p99=${fmt(traffic.latencyP99Ms)}ms`
  );
}

async function healthCheck(
  serviceUrl: string,
  readinessPath: string,
): Promise<{ ok: boolean; reason: string }> {
  try {
    const res = await fetch(new URL(readinessPath, serviceUrl), { signal: AbortSignal.timeout(5000) });
    return res.ok
      ? { ok: true, reason: "" }
      : { ok: false, reason: `GET ${readinessPath} answered ${res.status}` };
  } catch (err) {
    return { ok: false, reason: `GET ${readinessPath} failed: ${firstLine(err)}` };
  }
}
