/**
 * The sandbox controller as a detached process, for the sandbox CLI: started idempotently,
 * found again through <stateDir>/controller.json, stopped by PID together with the service
 * processes it ran.
 */
import * as fs from "fs";
import * as path from "path";
import { nodeEntryArgs, sourceDir } from "../toolchain/env";
import { isAlive, startDetached, stopProcesses } from "./controlplane";
import { namesDir, runsScriptFor } from "./identity";
import { readServicesState } from "./services-state";

/** The file the detached process runs. */
const CONTROLLER_MAIN = path.join(sourceDir(__dirname), "controller-main.ts");

export interface ControllerProcessOptions {
  readonly kubeconfig: string;
  readonly namespaces: readonly string[];
  readonly stateDir: string;
  readonly targetsFile?: string;
  /** How long to wait for services.json; default 60000 ms. */
  readonly readyTimeoutMs?: number;
}

/** <stateDir>/controller.json, written by the controller process once it started. */
export interface ControllerProcessState {
  readonly pid: number;
  readonly logFile: string;
  readonly servicesFile: string;
}

export function controllerStateFile(stateDir: string): string {
  return path.join(path.resolve(stateDir), "controller.json");
}

/** Whether `pid` is the controller of the sandbox in `stateDir` (not another's, not a recycled PID). */
function isControllerPid(pid: number, stateDir: string): boolean {
  return runsScriptFor(pid, CONTROLLER_MAIN, stateDir);
}

export function readControllerProcess(stateDir: string): ControllerProcessState | undefined {
  const file = controllerStateFile(stateDir);
  if (!fs.existsSync(file)) {
    return undefined;
  }
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as ControllerProcessState;
  return isAlive(state.pid) && isControllerPid(state.pid, stateDir) ? state : undefined;
}

/**
 * Starts the controller as a detached process (idempotent: an already running one is
 * returned) and resolves once it has listed every namespace, run its first reconcile and
 * recorded itself in <stateDir>/controller.json.
 */
export async function startControllerProcess(
  opts: ControllerProcessOptions,
): Promise<ControllerProcessState> {
  const existing = readControllerProcess(opts.stateDir);
  if (existing) {
    return existing;
  }
  const stateDir = path.resolve(opts.stateDir);
  const logDir = path.join(stateDir, "logs");
  fs.mkdirSync(logDir, { recursive: true });
  const { pid, log: logFile } = startDetached(
    "controller",
    process.execPath,
    [
      ...nodeEntryArgs(CONTROLLER_MAIN),
      "--kubeconfig",
      path.resolve(opts.kubeconfig),
      "--namespaces",
      opts.namespaces.join(","),
      "--state-dir",
      stateDir,
      ...(opts.targetsFile ? ["--targets-file", path.resolve(opts.targetsFile)] : []),
    ],
    logDir,
  );
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      const tail = fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-10).join("\n");
      throw new Error(`the controller exited while starting; last lines of ${logFile}:\n${tail}`);
    }
    const ready = readControllerProcess(stateDir);
    if (ready?.pid === pid) {
      return ready;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.kill(pid, "SIGTERM");
  throw new Error(
    `the controller did not finish starting within ${opts.readyTimeoutMs ?? 60_000} ms; see ${logFile}`,
  );
}

/**
 * Stops the controller recorded for this state dir by PID (it stops its service processes).
 * Only processes whose command line names this state directory are signalled.
 */
export async function stopControllerProcess(stateDir: string, graceMs = 15_000): Promise<boolean> {
  const state = readControllerProcess(stateDir);
  fs.rmSync(controllerStateFile(stateDir), { force: true });
  if (!state) {
    return false;
  }
  await stopProcesses([{ name: "controller", pid: state.pid, log: state.logFile }], graceMs);
  // Service processes end themselves when their parent is gone; make sure of it, but only
  // for a PID whose command line names this state directory (the service build inside it):
  // services.json is a file anyone can write.
  const records = Object.values(readServicesState(stateDir) ?? {});
  const pids = new Set(records.flatMap((r) => [r.pid, ...(r.backends ?? []).map((b) => b.pid)]));
  for (const pid of pids) {
    if (typeof pid === "number" && isAlive(pid) && namesDir(pid, stateDir)) {
      process.kill(pid, "SIGTERM");
    }
  }
  return true;
}
