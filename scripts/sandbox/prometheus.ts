/**
 * Prometheus for the sandbox: Debian's binary on 127.0.0.1 (a free port), scraping the
 * churn-model service processes every 2 s as job "churn-model". Targets come from a
 * file_sd targets file that the controller rewrites, so they change without a restart.
 *
 * Labels: the target labels (namespace, version, deployment) give `up` its labels; the
 * service's own series already carry namespace and version, and `honor_labels: true` keeps
 * those as they are instead of adding `exported_namespace`/`exported_version` copies, so
 * every series has exactly one `namespace` and one `version` label.
 *
 * The process is detached and recorded in <stateDir>/prometheus/prometheus.json, so another
 * process can stop it by PID.
 */
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { isAlive, startDetached, stopProcesses } from "./controlplane";
import { freePort, LOOPBACK } from "./ports";

export const PROMETHEUS_BINARY = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const SCRAPE_JOB = "churn-model";

export interface ScrapeTarget {
  /** host:port of a service process. */
  readonly address: string;
  readonly namespace: string;
  readonly version: string;
  readonly deployment: string;
}

export interface PrometheusOptions {
  /** The sandbox state directory; Prometheus keeps config, targets, data and log under <stateDir>/prometheus. */
  readonly stateDir: string;
  /** Path of the prometheus binary; default /usr/bin/prometheus (or $PROMETHEUS_BIN). */
  readonly binary?: string;
  /** Scrape interval in seconds; default 2. */
  readonly scrapeIntervalSeconds?: number;
  /** Port on 127.0.0.1; default a free one. */
  readonly port?: number;
  /** How long to wait for /-/ready; default 60000 ms. */
  readonly readyTimeoutMs?: number;
  /** TSDB retention; default "2d". */
  readonly retention?: string;
}

/** What <stateDir>/prometheus/prometheus.json records about a running Prometheus. */
export interface PrometheusState {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly configFile: string;
  readonly targetsFile: string;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface PrometheusPaths {
  readonly dir: string;
  readonly configFile: string;
  readonly targetsDir: string;
  readonly targetsFile: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly stateFile: string;
}

export function prometheusPaths(stateDir: string): PrometheusPaths {
  const dir = path.resolve(stateDir, "prometheus");
  const targetsDir = path.join(dir, "targets");
  return {
    dir,
    configFile: path.join(dir, "prometheus.yml"),
    targetsDir,
    targetsFile: path.join(targetsDir, "churn-model.json"),
    dataDir: path.join(dir, "data"),
    logFile: path.join(dir, "prometheus.log"),
    stateFile: path.join(dir, "prometheus.json"),
  };
}

/** The Prometheus configuration (YAML) for the sandbox. */
export function prometheusConfig(targetsDir: string, scrapeIntervalSeconds = 2): string {
  if (!(Number.isInteger(scrapeIntervalSeconds) && scrapeIntervalSeconds >= 1)) {
    throw new Error(`scrapeIntervalSeconds (${scrapeIntervalSeconds}) must be a whole number of seconds ≥ 1`);
  }
  const s = `${scrapeIntervalSeconds}s`;
  return [
    "global:",
    `  scrape_interval: ${s}`,
    `  scrape_timeout: ${s}`,
    `  evaluation_interval: ${s}`,
    "scrape_configs:",
    `  - job_name: ${SCRAPE_JOB}`,
    "    honor_labels: true",
    "    metrics_path: /metrics",
    "    file_sd_configs:",
    "      - files:",
    `          - ${JSON.stringify(path.join(targetsDir, "*.json"))}`,
    "        refresh_interval: 5s",
    "",
  ].join("\n");
}

/** The file_sd document for `targets`: one group per target, labelled for the metrics contract. */
export function fileSdDocument(
  targets: readonly ScrapeTarget[],
): { targets: string[]; labels: Record<string, string> }[] {
  return [...targets]
    .sort((a, b) => a.address.localeCompare(b.address))
    .map((t) => ({
      targets: [t.address],
      labels: { namespace: t.namespace, version: t.version, deployment: t.deployment },
    }));
}

/** Writes the targets file atomically (write, then rename), so Prometheus never reads half a file. */
export function writeScrapeTargets(targetsFile: string, targets: readonly ScrapeTarget[]): void {
  fs.mkdirSync(path.dirname(targetsFile), { recursive: true });
  const tmp = `${targetsFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(fileSdDocument(targets), null, 2)}\n`);
  fs.renameSync(tmp, targetsFile);
}

export function readPrometheusState(stateDir: string): PrometheusState | undefined {
  const { stateFile } = prometheusPaths(stateDir);
  if (!fs.existsSync(stateFile)) {
    return undefined;
  }
  return JSON.parse(fs.readFileSync(stateFile, "utf8")) as PrometheusState;
}

/** Whether `pid` is a live prometheus process started with `configFile` (not a recycled PID). */
export function isOurPrometheus(pid: number, configFile: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.some((a) => a.endsWith("prometheus")) && cmdline.includes(`--config.file=${configFile}`);
  } catch {
    return false;
  }
}

function httpStatus(url: string, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function spawnAndWait(
  opts: PrometheusOptions,
  paths: PrometheusPaths,
  port: number,
): Promise<PrometheusState> {
  const binary = opts.binary ?? PROMETHEUS_BINARY;
  const args = [
    `--config.file=${paths.configFile}`,
    `--storage.tsdb.path=${paths.dataDir}`,
    `--storage.tsdb.retention.time=${opts.retention ?? "2d"}`,
    `--web.listen-address=${LOOPBACK}:${port}`,
    "--web.enable-lifecycle",
    "--log.level=info",
  ];
  const { pid } = startDetached("prometheus", binary, args, paths.dir);
  const url = `http://${LOOPBACK}:${port}`;
  const state: PrometheusState = {
    pid,
    port,
    url,
    configFile: paths.configFile,
    targetsFile: paths.targetsFile,
    dataDir: paths.dataDir,
    logFile: paths.logFile,
  };
  fs.writeFileSync(paths.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      fs.rmSync(paths.stateFile, { force: true });
      throw new Error(
        `prometheus exited while starting; last lines of ${paths.logFile}:\n${tail(paths.logFile)}`,
      );
    }
    if ((await httpStatus(`${url}/-/ready`)) === 200) {
      return state;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stopPid(pid);
  fs.rmSync(paths.stateFile, { force: true });
  throw new Error(
    `prometheus was not ready at ${url} within ${opts.readyTimeoutMs ?? 60_000} ms; see ${paths.logFile}`,
  );
}

/**
 * Starts Prometheus for the sandbox, or returns the one already running for this state dir
 * (idempotent). Creates an empty targets file when there is none.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusState> {
  const paths = prometheusPaths(opts.stateDir);
  const running = readPrometheusState(opts.stateDir);
  if (running && isOurPrometheus(running.pid, running.configFile)) {
    if ((await httpStatus(`${running.url}/-/ready`)) === 200) {
      return running;
    }
    await stopPid(running.pid);
  }
  fs.mkdirSync(paths.dataDir, { recursive: true });
  fs.writeFileSync(paths.configFile, prometheusConfig(paths.targetsDir, opts.scrapeIntervalSeconds ?? 2));
  if (!fs.existsSync(paths.targetsFile)) {
    writeScrapeTargets(paths.targetsFile, []);
  }
  if (opts.port !== undefined) {
    return spawnAndWait(opts, paths, opts.port);
  }
  // A free port can be taken between asking and binding: one more try with a new port.
  try {
    return await spawnAndWait(opts, paths, await freePort());
  } catch (err) {
    if (!/address already in use/.test(tail(paths.logFile, 5))) {
      throw err;
    }
    return spawnAndWait(opts, paths, await freePort());
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export async function stopPid(pid: number): Promise<void> {
  await stopProcesses([{ name: "prometheus", pid, log: "" }], 10_000);
  while (isAlive(pid)) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stops the Prometheus recorded for this state dir (only if the PID still is that
 * Prometheus) and removes its state record. Returns whether a process was stopped.
 */
export async function stopPrometheus(stateDir: string): Promise<boolean> {
  const state = readPrometheusState(stateDir);
  if (!state) {
    return false;
  }
  const ours = isOurPrometheus(state.pid, state.configFile);
  if (ours) {
    await stopPid(state.pid);
  }
  fs.rmSync(prometheusPaths(stateDir).stateFile, { force: true });
  return ours;
}
