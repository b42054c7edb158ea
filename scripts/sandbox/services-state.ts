/**
 * <stateDir>/services.json: what serves each sandbox namespace, written by the controller
 * and read by the sandbox CLI, the demo and the tests.
 */
import * as fs from "fs";
import * as path from "path";

/** One namespace's entry in services.json. */
export interface ServiceRecord {
  /** The stable URL of the namespace (its proxy); valid across version swaps. */
  readonly url: string;
  readonly proxyPort: number;
  /**
   * The primary process: the namespace's first serving Deployment by name (the stable
   * `churn-model` beside `churn-model-canary`); null when no process serves the namespace.
   */
  readonly version: string | null;
  readonly pid: number | null;
  readonly backendUrl: string | null;
  readonly deployment: string | null;
  /** Every process taking the namespace's traffic, with its weight (ready replicas). */
  readonly backends: readonly BackendRecord[];
}

export interface BackendRecord {
  readonly deployment: string;
  readonly version: string;
  readonly pid: number;
  readonly url: string;
  readonly weight: number;
}

export type ServicesState = Record<string, ServiceRecord>;

export function servicesFile(stateDir: string): string {
  return path.join(path.resolve(stateDir), "services.json");
}

export function readServicesState(stateDir: string): ServicesState | undefined {
  const file = servicesFile(stateDir);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ServicesState) : undefined;
}
