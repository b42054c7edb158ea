/**
 * Days of synthetic scrape history of the churn-model service, in the metric names of the
 * metrics contract (docs/design.md), turned into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, and a real
 * Prometheus (Debian's binary, 127.0.0.1, a free port) serving them.
 *
 * The blocks are 54 h long, the size Prometheus' own compaction reaches within a week, so
 * the queries read what a week-old Prometheus would hold. promtool re-reads its whole input
 * once per block, so the history is written as one input file per block and each file is
 * read once. Prometheus runs with the same largest block size, so it does not compact the
 * backfilled blocks in the background while queries are being timed.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { freePort, LOOPBACK } from "../sandbox/ports";

const execFileAsync = promisify(execFile);

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";

/** 54 h, one of the TSDB's block ranges (2 h × 3³). */
export const BLOCK_SECONDS = 54 * 3600;

/**
 * Cumulative share of requests at or below each bucket bound below +Inf (seconds): a healthy
 * service, p99 ≈ 186 ms. The gate tests' scenarios (test/fixtures/gate-scenarios.ts) use it too.
 */
export const FAST_LATENCY: Readonly<Record<string, number>> = {
  "0.01": 0.3,
  "0.025": 0.6,
  "0.05": 0.85,
  "0.1": 0.98,
  "0.25": 0.9975,
  "0.5": 0.9995,
  "1": 1,
  "2.5": 1,
  "5": 1,
};
const LATENCY: Readonly<Record<string, number>> = { ...FAST_LATENCY, "+Inf": 1 };

/** One version of the service in one namespace, scraped from `pods` pods. */
export interface ServiceHistory {
  readonly namespace: string;
  readonly version: string;
  readonly pods: number;
  /** Requests per second per pod. */
  readonly requestRate: number;
  /** Share of requests answered with 500. */
  readonly errorRatio: number;
  /** Labeled predictions per second per pod. */
  readonly labeledRate: number;
  /** Share of labeled predictions that were correct. */
  readonly accuracy: number;
}

export interface HistorySpec {
  readonly services: readonly ServiceHistory[];
  /** Unix seconds of the first and the last scrape. */
  readonly from: number;
  readonly to: number;
  /** Seconds between scrapes. */
  readonly scrapeSeconds: number;
}

interface SeriesDef {
  readonly family: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly name: string;
  readonly labels: string;
  readonly value: (t: number) => number;
}

function labelText(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",")}}`;
}

/** Every series of the spec, grouped by metric family as OpenMetrics requires. */
function seriesOf(spec: HistorySpec): SeriesDef[] {
  const requests: SeriesDef[] = [];
  const buckets: SeriesDef[] = [];
  const labeled: SeriesDef[] = [];
  const up: SeriesDef[] = [];
  for (const s of spec.services) {
    for (let pod = 0; pod < s.pods; pod++) {
      const base = {
        namespace: s.namespace,
        version: s.version,
        pod: `churn-model-${s.version.replace(/\./g, "-")}-${pod}`,
        job: "churn-model",
      };
      // Each counter is its own floor of rate × time, so every one of them is monotonic.
      const since = (t: number) => t - spec.from;
      const ok = (t: number) => Math.floor(s.requestRate * (1 - s.errorRatio) * since(t));
      const errors = (t: number) => Math.floor(s.requestRate * s.errorRatio * since(t));
      const total = (t: number) => ok(t) + errors(t);
      const req = {
        family: "churn_model_requests",
        type: "counter" as const,
        name: "churn_model_requests_total",
      };
      requests.push(
        { ...req, labels: labelText({ ...base, code: "200" }), value: ok },
        { ...req, labels: labelText({ ...base, code: "500" }), value: errors },
      );
      const hist = { family: "churn_model_request_duration_seconds", type: "histogram" as const };
      for (const [le, share] of Object.entries(LATENCY)) {
        buckets.push({
          ...hist,
          name: "churn_model_request_duration_seconds_bucket",
          labels: labelText({ ...base, le }),
          value: (t) => Math.floor(total(t) * share),
        });
      }
      buckets.push(
        {
          ...hist,
          name: "churn_model_request_duration_seconds_count",
          labels: labelText(base),
          value: total,
        },
        {
          ...hist,
          name: "churn_model_request_duration_seconds_sum",
          labels: labelText(base),
          value: (t) => total(t) * 0.05,
        },
      );
      const lab = {
        family: "churn_model_predictions_labeled",
        type: "counter" as const,
        name: "churn_model_predictions_labeled_total",
      };
      labeled.push(
        {
          ...lab,
          labels: labelText({ ...base, correct: "true" }),
          value: (t) => Math.floor(s.labeledRate * s.accuracy * since(t)),
        },
        {
          ...lab,
          labels: labelText({ ...base, correct: "false" }),
          value: (t) => Math.floor(s.labeledRate * (1 - s.accuracy) * since(t)),
        },
      );
      up.push({
        family: "up",
        type: "gauge",
        name: "up",
        labels: labelText({ ...base, instance: `10.0.${pod}.1:8080` }),
        value: () => 1,
      });
    }
  }
  return [...requests, ...buckets, ...labeled, ...up];
}

/** Writes the samples with from ≤ t < to as one OpenMetrics file; returns the number of samples. */
function writeOpenMetrics(
  file: string,
  series: readonly SeriesDef[],
  spec: HistorySpec,
  from: number,
  to: number,
): number {
  const fd = fs.openSync(file, "w");
  let samples = 0;
  try {
    let chunk: string[] = [];
    const flush = () => {
      if (chunk.length > 0) fs.writeSync(fd, `${chunk.join("\n")}\n`);
      chunk = [];
    };
    let family = "";
    const first =
      spec.from + Math.ceil(Math.max(0, from - spec.from) / spec.scrapeSeconds) * spec.scrapeSeconds;
    for (const s of series) {
      if (s.family !== family) {
        family = s.family;
        chunk.push(`# TYPE ${s.family} ${s.type}`);
      }
      for (let t = first; t < to && t <= spec.to; t += spec.scrapeSeconds) {
        chunk.push(`${s.name}${s.labels} ${s.value(t)} ${t}`);
        samples++;
        if (chunk.length >= 20_000) flush();
      }
    }
    chunk.push("# EOF");
    flush();
  } finally {
    fs.closeSync(fd);
  }
  return samples;
}

async function promtool(file: string, dataDir: string): Promise<void> {
  try {
    await execFileAsync(
      PROMTOOL_BIN,
      ["tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=54h", file, dataDir],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`promtool could not build blocks from ${path.basename(file)}: ${e.stderr ?? e.message}`);
  }
}

/**
 * Builds the spec's history as TSDB blocks in `dataDir` (before Prometheus opens it), using
 * `workDir` for the OpenMetrics inputs (removed afterwards). Returns the number of samples.
 */
export async function buildHistory(spec: HistorySpec, dataDir: string, workDir: string): Promise<number> {
  const series = seriesOf(spec);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(workDir, { recursive: true });
  let samples = 0;
  try {
    const files: string[] = [];
    const firstBlock = Math.floor(spec.from / BLOCK_SECONDS);
    const lastBlock = Math.floor(spec.to / BLOCK_SECONDS);
    for (let b = firstBlock; b <= lastBlock; b++) {
      const file = path.join(workDir, `block-${b}.om`);
      samples += writeOpenMetrics(file, series, spec, b * BLOCK_SECONDS, (b + 1) * BLOCK_SECONDS);
      files.push(file);
    }
    const queue = [...files];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
        await promtool(f, dataDir);
        fs.rmSync(f, { force: true });
      }
    };
    await Promise.all([worker(), worker()]);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  return samples;
}

export interface HistoryPrometheus {
  readonly url: string;
  /** Stops the process (TERM, then KILL after 10 s). */
  stop(): Promise<void>;
}

/** Stops a Prometheus process: TERM, then KILL after 10 s (the tests' Prometheus too). */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Starts Prometheus on 127.0.0.1 over `dataDir` (no scrape jobs) and waits for /-/ready. */
export async function startHistoryPrometheus(dataDir: string, workDir: string): Promise<HistoryPrometheus> {
  fs.mkdirSync(workDir, { recursive: true });
  const configFile = path.join(workDir, "prometheus.yml");
  fs.writeFileSync(configFile, "global:\n  scrape_interval: 15s\nscrape_configs: []\n");
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}`;
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=${LOOPBACK}:${port}`,
      "--storage.tsdb.retention.time=3650d",
      "--storage.tsdb.max-block-duration=54h",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `prometheus exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${stderr}`,
      );
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`prometheus at ${url} was not ready within 120 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop: () => stopChild(child) };
}
