/**
 * The traffic generator (scripts/sandbox/traffic.ts) as a detached process, for the sandbox
 * CLI: started idempotently against the namespaces' stable URLs, found again through
 * <stateDir>/traffic.json, stopped by PID.
 */
import * as fs from "fs";
import * as path from "path";
import { nodeEntryArgs, sourceDir } from "../toolchain/env";
import { isAlive, startDetached, stopProcesses } from "./controlplane";
import { runsScriptFor } from "./identity";
import { urlsFromServicesFile } from "./traffic";

/** The file the detached process runs. */
const TRAFFIC_MAIN = path.join(sourceDir(__dirname), "traffic.ts");

export interface TrafficProcessOptions {
  /** The sandbox state dir: URLs come from its services.json, the log goes to <stateDir>/logs. */
  readonly stateDir: string;
  /** Namespaces to send traffic to; default every namespace in services.json. */
  readonly namespaces?: readonly string[];
  /** Customers per second per namespace; default 10. */
  readonly ratePerSecond?: number;
  /** How long to run; default 24 hours. */
  readonly durationMs?: number;
  /** Share of predictions whose ground truth is posted; default 1. */
  readonly feedbackShare?: number;
  /** Delay of the ground truth; default 500 ms. */
  readonly feedbackDelayMs?: number;
}

/** <stateDir>/traffic.json */
export interface TrafficProcessState {
  readonly pid: number;
  readonly logFile: string;
  readonly targets: readonly string[];
}

function trafficStateFile(stateDir: string): string {
  return path.join(path.resolve(stateDir), "traffic.json");
}

/** Whether `pid` is the traffic generator of the sandbox in `stateDir` (it is started with --state-dir). */
function isTrafficPid(pid: number, stateDir: string): boolean {
  return runsScriptFor(pid, TRAFFIC_MAIN, stateDir);
}

export function readTrafficProcess(stateDir: string): TrafficProcessState | undefined {
  const file = trafficStateFile(stateDir);
  if (!fs.existsSync(file)) {
    return undefined;
  }
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as TrafficProcessState;
  return isAlive(state.pid) && isTrafficPid(state.pid, stateDir) ? state : undefined;
}

/**
 * Starts the traffic generator as a detached process against the namespaces' stable URLs
 * (services.json); returns the running one instead when there is one (idempotent). Its
 * report goes to <stateDir>/logs/traffic.log when it ends.
 */
export function startTrafficProcess(opts: TrafficProcessOptions): TrafficProcessState {
  const running = readTrafficProcess(opts.stateDir);
  if (running) {
    return running;
  }
  const stateDir = path.resolve(opts.stateDir);
  const targets = urlsFromServicesFile(path.join(stateDir, "services.json"), opts.namespaces);
  const logDir = path.join(stateDir, "logs");
  fs.mkdirSync(logDir, { recursive: true });
  const args = [
    ...nodeEntryArgs(TRAFFIC_MAIN),
    ...targets.flatMap((t) => ["--url", t]),
    "--rate",
    String(opts.ratePerSecond ?? 10),
    "--duration",
    `${opts.durationMs ?? 24 * 3_600_000}ms`,
    "--feedback-share",
    String(opts.feedbackShare ?? 1),
    "--feedback-delay-ms",
    String(opts.feedbackDelayMs ?? 500),
    "--state-dir",
    stateDir,
  ];
  const { pid, log } = startDetached("traffic", process.execPath, args, logDir);
  const state: TrafficProcessState = { pid, logFile: log, targets };
  fs.writeFileSync(trafficStateFile(stateDir), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

/** Stops the recorded traffic process by PID (it prints its report); whether one was running. */
export async function stopTrafficProcess(stateDir: string): Promise<boolean> {
  const state = readTrafficProcess(stateDir);
  fs.rmSync(trafficStateFile(stateDir), { force: true });
  if (!state) {
    return false;
  }
  await stopProcesses([{ name: "traffic", pid: state.pid, log: state.logFile }], 10_000);
  return true;
}
