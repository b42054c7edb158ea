/**
 * A real Prometheus (Debian's binary) for tests: started on 127.0.0.1 on a free port with a
 * temporary data directory, optionally pre-loaded with history built by
 * `promtool tsdb create-blocks-from openmetrics`, and stopped with its directories removed.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

import { PROMETHEUS_BIN, PROMTOOL_BIN, stopChild } from "../../scripts/bench/prometheus-history";
import { freePort } from "../../scripts/sandbox/ports";

const execFileAsync = promisify(execFile);

export { freePort };

export { PROMETHEUS_BIN, PROMTOOL_BIN };

export interface PrometheusServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the process (TERM, then KILL) and removes the directories the helper created. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Prometheus configuration YAML. Default: no scrape jobs. */
  readonly configYaml?: string;
  /** An existing TSDB directory to use (kept on stop); default a new temporary one. */
  readonly dataDir?: string;
  /** More flags for the prometheus binary. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for /-/ready, milliseconds. Default 60000. */
  readonly readyTimeoutMs?: number;
}

async function waitReady(
  url: string,
  child: ChildProcess,
  log: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `prometheus exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log()}`,
      );
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prometheus at ${url} was not ready within ${timeoutMs} ms:\n${log()}`);
}

/** Starts Prometheus on 127.0.0.1 and resolves once it answers /-/ready. */
export async function startPrometheus(opts: StartOptions = {}): Promise<PrometheusServer> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-prometheus-"));
  const dataDir = opts.dataDir ?? path.join(workDir, "data");
  fs.mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(workDir, "prometheus.yml");
  fs.writeFileSync(configFile, opts.configYaml ?? "global:\n  scrape_interval: 15s\nscrape_configs: []\n");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Backfilled history may be older than the default 15 days relative to its newest block.
      "--storage.tsdb.retention.time=3650d",
      "--log.level=warn",
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const cleanup = async (): Promise<void> => {
    await stopChild(child);
    fs.rmSync(workDir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, () => stderr, opts.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { url, port, dataDir, stop: cleanup };
}

/** One series of a scenario: its name, labels and [unix seconds, value] samples in time order. */
export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: readonly (readonly [number, number])[];
}

/** A metric family: its OpenMetrics type and the series that belong to it. */
export interface Family {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly series: readonly Series[];
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/**
 * Renders families as OpenMetrics text, each series in time order, ending with `# EOF`;
 * with `range`, only the samples with from ≤ t < to (unix seconds).
 */
export function toOpenMetrics(families: readonly Family[], range?: { from: number; to: number }): string {
  const byName = new Map<string, Family[]>();
  for (const f of families) byName.set(f.name, [...(byName.get(f.name) ?? []), f]);
  const out: string[] = [];
  for (const [name, group] of byName) {
    out.push(`# TYPE ${name} ${group[0].type}`);
    for (const s of group.flatMap((f) => f.series)) {
      const labels = formatLabels(s.labels);
      for (const [t, v] of s.samples) {
        if (range === undefined || (t >= range.from && t < range.to)) {
          out.push(`${s.name}${labels} ${formatValue(v)} ${t}`);
        }
      }
    }
  }
  out.push("# EOF", "");
  return out.join("\n");
}

/** promtool cuts history into blocks aligned to multiples of 2 h since the epoch. */
const BLOCK_SECONDS = 7200;

async function runPromtool(file: string, dataDir: string): Promise<void> {
  try {
    await execFileAsync(
      PROMTOOL_BIN,
      ["tsdb", "create-blocks-from", "openmetrics", "--quiet", file, dataDir],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`promtool could not build blocks from ${path.basename(file)}: ${e.stderr ?? e.message}`);
  }
}

/**
 * Builds TSDB blocks from the families into `dataDir` (before Prometheus starts on it).
 * promtool re-reads its whole input once per 2 h block, so the history is cut into one input
 * per block, built two at a time: one pass over the data instead of one per block.
 */
export async function createBlocks(families: readonly Family[], dataDir: string): Promise<void> {
  const occupied = new Set<number>();
  for (const f of families) {
    for (const s of f.series) for (const [t] of s.samples) occupied.add(Math.floor(t / BLOCK_SECONDS));
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-openmetrics-"));
  try {
    const files: string[] = [];
    for (const b of [...occupied].sort((x, y) => x - y)) {
      const file = path.join(workDir, `block-${b}.om`);
      fs.writeFileSync(
        file,
        toOpenMetrics(families, { from: b * BLOCK_SECONDS, to: (b + 1) * BLOCK_SECONDS }),
      );
      files.push(file);
    }
    const queue = [...files];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) await runPromtool(f, dataDir);
    };
    await Promise.all([worker(), worker()]);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** Starts Prometheus loaded with the given history. */
export async function startPrometheusWithHistory(
  families: readonly Family[],
  opts: Omit<StartOptions, "dataDir"> = {},
): Promise<PrometheusServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-tsdb-"));
  try {
    await createBlocks(families, dataDir);
    const server = await startPrometheus({ ...opts, dataDir });
    return {
      ...server,
      async stop() {
        await server.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
