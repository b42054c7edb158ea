/**
 * `npm run sandbox -- up | down | status | env`: the local environment everything runs on.
 *
 *   up      starts (idempotently) a Kubernetes control plane with kwok nodes, Prometheus,
 *           the controller that runs one churn-model process per Deployment, steady traffic
 *           to both namespaces, and a project directory whose staging/production stacks
 *           point at all of it. Prints the kubeconfig, Prometheus and service URLs.
 *   status  says what runs.
 *   down    stops only the processes it started (by PID) and removes the state directory.
 *   env     prints the environment (shell exports) that points the CLIs at the sandbox.
 *
 * Everything binds to 127.0.0.1 on free ports. State lives in $CHURN_SANDBOX_DIR (default
 * .sandbox/ in the checkout).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { makeLocalBackend, REPO_ROOT, sourceDir } from "../toolchain/env";
import { ControlPlane, isAlive, ManagedProcess, startControlPlane, stopProcesses } from "./controlplane";
import { readControllerProcess, startControllerProcess, stopControllerProcess } from "./controller-process";
import { makeProjectDir } from "./project";
import { upsertStack } from "../promotion/engine";
import { BadInput } from "../promotion/errors";
import { prometheusPaths, readPrometheusState, startPrometheus, stopPrometheus } from "./prometheus";
import { readServicesState } from "./services-state";
import { readTrafficProcess, startTrafficProcess, stopTrafficProcess } from "./traffic-process";

export const NAMESPACES = ["staging", "production"] as const;
export const SANDBOX_REGISTRY = "localhost:5000/ml";
export const DEMO_KEY_FILE = path.join(sourceDir(__dirname), "demo-evidence-key.pem");
/** The sandbox-only key of demo-approver, the approver the sandbox's policy configs list and require. */
export const DEMO_APPROVER_KEY_FILE = path.join(sourceDir(__dirname), "demo-approver-key.pem");
export const DEMO_APPROVER = "demo-approver";

export function sandboxDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.CHURN_SANDBOX_DIR ?? path.join(REPO_ROOT, ".sandbox"));
}

export interface SandboxState {
  readonly kubeconfig: string;
  readonly server: string;
  readonly prometheusUrl: string;
  readonly services: Record<string, string>;
  readonly projectDir: string;
  readonly backendDir: string;
  readonly controlPlane: readonly ManagedProcess[];
  readonly startedAt: string;
}

function stateFile(dir: string): string {
  return path.join(dir, "sandbox.json");
}

export function readSandbox(dir = sandboxDir()): SandboxState | undefined {
  const file = stateFile(dir);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, "utf8")) as SandboxState;
}

/**
 * The sandbox state in `dir`'s sandbox.json when it is one (a `controlPlane` list of named
 * PIDs and a `startedAt`); undefined when the file is missing, unreadable or anything else.
 */
export function sandboxStateIn(dir: string): SandboxState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(stateFile(dir), "utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const s = value as { controlPlane?: unknown; startedAt?: unknown };
  const isProcess = (p: unknown): boolean =>
    typeof p === "object" &&
    p !== null &&
    typeof (p as ManagedProcess).name === "string" &&
    Number.isSafeInteger((p as ManagedProcess).pid) &&
    (p as ManagedProcess).pid > 0;
  if (!Array.isArray(s.controlPlane) || !s.controlPlane.every(isProcess)) return undefined;
  if (typeof s.startedAt !== "string") return undefined;
  return value as SandboxState;
}

/** Whether every process the sandbox started is still running. */
export function sandboxHealthy(dir = sandboxDir()): boolean {
  const s = readSandbox(dir);
  return (
    s !== undefined &&
    s.controlPlane.every((p) => isAlive(p.pid)) &&
    readPrometheusState(dir) !== undefined &&
    readControllerProcess(dir) !== undefined
  );
}

/** The environment that points the delivery CLIs (deploy, promote, preview) at the sandbox. */
export function sandboxEnv(s: SandboxState): Record<string, string> {
  return {
    KUBECONFIG: s.kubeconfig,
    PULUMI_BACKEND_URL: `file://${s.backendDir}`,
    CHURN_PROJECT_DIR: s.projectDir,
    CHURN_EVIDENCE_PRIVATE_KEY_FILE: DEMO_KEY_FILE,
  };
}

export interface UpOptions {
  readonly dir?: string;
  readonly log?: (line: string) => void;
  /** Requests per second sent to each namespace. Default 20. */
  readonly trafficRate?: number;
  /** Production's `replicas` (default PRODUCTION_REPLICAS). */
  readonly productionReplicas?: { readonly min: number; readonly max: number };
}

/**
 * Production's size in the sandbox: ten pods, so a 10 % canary step is one canary pod beside
 * nine stable ones and meets a tenth of production's traffic (docs/canary.md, the rounding);
 * kwok pods cost nothing, and the controller runs one process per Deployment.
 */
export const PRODUCTION_REPLICAS = { min: 10, max: 12 } as const;

/** Public key (SPKI PEM) of the sandbox-only demo evidence key. */
export function demoPublicKey(): string {
  return crypto
    .createPublicKey(fs.readFileSync(DEMO_KEY_FILE, "utf8"))
    .export({ type: "spki", format: "pem" })
    .toString();
}

export async function sandboxUp(opts: UpOptions = {}): Promise<SandboxState> {
  const dir = opts.dir ?? sandboxDir();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  if (sandboxHealthy(dir)) {
    log(`sandbox: already up (${dir})`);
    return readSandbox(dir)!;
  }
  if (fs.existsSync(dir)) {
    log(`sandbox: cleaning up a partial sandbox in ${dir}`);
    await sandboxDown({ dir, log: () => undefined });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, SANDBOX_MARKER),
    `churn-model sandbox, started ${new Date().toISOString()}\n`,
  );
  let cp: ControlPlane | undefined;
  try {
    log("sandbox: starting the control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)");
    cp = await startControlPlane({ stateDir: path.join(dir, "cluster"), log: (m) => log(`  ${m}`) });
    const prom = await startPrometheus({ stateDir: dir, scrapeIntervalSeconds: 2 });
    log(`sandbox: Prometheus ready at ${prom.url} (${at()})`);
    await startControllerProcess({
      kubeconfig: cp.kubeconfig,
      namespaces: [...NAMESPACES],
      stateDir: dir,
      targetsFile: prometheusPaths(dir).targetsFile,
    });
    const services = readServicesState(dir) ?? {};
    const urls = Object.fromEntries(NAMESPACES.map((ns) => [ns, services[ns]?.url ?? ""]));
    log(`sandbox: controller running; service URLs ${JSON.stringify(urls)} (${at()})`);
    if ((opts.trafficRate ?? 20) > 0) {
      startTrafficProcess({
        stateDir: dir,
        namespaces: [...NAMESPACES],
        ratePerSecond: opts.trafficRate ?? 20,
      });
    }

    const backendDir = path.join(dir, "backend");
    makeLocalBackend(backendDir);
    const common = { registry: SANDBOX_REGISTRY, prometheusUrl: prom.url, readyTimeoutSeconds: 120 };
    const projectDir = makeProjectDir(path.join(dir, "project"), {
      staging: { ...common, serviceUrl: urls.staging, thresholdsFile: "policy/config/sandbox-staging.json" },
      production: {
        ...common,
        serviceUrl: urls.production,
        replicas: opts.productionReplicas ?? PRODUCTION_REPLICAS,
        thresholdsFile: "policy/config/sandbox-production.json",
        evidencePublicKey: demoPublicKey(),
      },
    });
    const state: SandboxState = {
      kubeconfig: cp.kubeconfig,
      server: cp.server,
      prometheusUrl: prom.url,
      services: urls,
      projectDir,
      backendDir,
      controlPlane: cp.processes,
      startedAt: new Date().toISOString(),
    };
    for (const stack of NAMESPACES) {
      await upsertStack(stack, {
        projectDir,
        env: sandboxEnv(state),
        createProduction: stack === "production",
      });
    }
    fs.writeFileSync(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
    fs.writeFileSync(path.join(dir, "env"), envExports(state));
    log(`sandbox: up in ${at()}`);
    return state;
  } catch (err) {
    log(`sandbox: start failed, stopping what was started: ${(err as Error).message}`);
    await stopTrafficProcess(dir).catch(() => undefined);
    await stopControllerProcess(dir).catch(() => undefined);
    await stopPrometheus(dir).catch(() => undefined);
    if (cp) await stopProcesses(cp.processes);
    throw err;
  }
}

function envExports(s: SandboxState): string {
  return Object.entries(sandboxEnv(s))
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'\n`)
    .join("");
}

/** The file `up` writes first into a sandbox directory: `down` touches only directories holding it. */
export const SANDBOX_MARKER = ".churn-sandbox";

/**
 * Whether `dir` is a sandbox directory: it holds the sandbox's marker, or a sandbox.json
 * that is the sandbox's state (any other file of that name does not count).
 */
export function isSandboxDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, SANDBOX_MARKER)) || sandboxStateIn(dir) !== undefined;
}

/** Whether `pid` runs a command whose arguments name a path inside `dir` (what the sandbox started there). */
export function startedIn(pid: number, dir: string): boolean {
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return false;
  }
  const inside = `${path.resolve(dir)}${path.sep}`;
  return args.some((a) => a.includes(inside));
}

/**
 * Stops what the sandbox in `dir` started and removes `dir`. Refuses (BadInput, nothing
 * stopped or removed) a directory that holds neither the sandbox's state (a sandbox.json
 * that parses as it) nor its marker; an empty directory is left as it is. A recorded PID is stopped only when its
 * command line names a path inside `dir` (the traffic generator, controller and Prometheus
 * check their own identity the same way), so a recycled or forged PID is never signalled.
 */
export async function sandboxDown(opts: { dir?: string; log?: (l: string) => void } = {}): Promise<void> {
  const dir = path.resolve(opts.dir ?? sandboxDir());
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (!fs.existsSync(dir) || fs.readdirSync(dir).length === 0) {
    log(`sandbox: nothing to stop or remove in ${dir}`);
    return;
  }
  if (!isSandboxDir(dir)) {
    throw new BadInput(
      fs.existsSync(stateFile(dir))
        ? `${dir} is not a sandbox directory (its ${path.basename(stateFile(dir))} is not the sandbox's state ` +
          `and it holds no ${SANDBOX_MARKER}): nothing was stopped or removed`
        : `${dir} is not a sandbox directory (it holds neither ${path.basename(stateFile(dir))} nor ` +
          `${SANDBOX_MARKER}): nothing was stopped or removed`,
    );
  }
  const s = sandboxStateIn(dir);
  const stopped: string[] = [];
  if (await stopTrafficProcess(dir).catch(() => false)) stopped.push("traffic");
  if (await stopControllerProcess(dir).catch(() => false)) stopped.push("controller and its services");
  if (await stopPrometheus(dir).catch(() => false)) stopped.push("prometheus");
  if (s) {
    const alive = s.controlPlane.filter((p) => isAlive(p.pid));
    const ours = alive.filter((p) => startedIn(p.pid, dir));
    for (const p of alive.filter((x) => !ours.includes(x))) {
      log(`sandbox: left pid ${p.pid} alone: it does not run what the sandbox started as ${p.name}`);
    }
    await stopProcesses(ours);
    stopped.push(...ours.map((p) => p.name));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  log(
    stopped.length > 0
      ? `sandbox: stopped ${stopped.join(", ")}; removed ${dir}`
      : `sandbox: nothing was running; removed ${dir}`,
  );
}

export function sandboxStatus(dir = sandboxDir()): string {
  const s = readSandbox(dir);
  if (!s) return `sandbox: not running (${dir})`;
  const lines = [`sandbox: ${sandboxHealthy(dir) ? "up" : "DEGRADED"} since ${s.startedAt} (${dir})`];
  for (const p of s.controlPlane)
    lines.push(`  ${p.name.padEnd(24)} pid ${p.pid} ${isAlive(p.pid) ? "running" : "STOPPED"}`);
  const prom = readPrometheusState(dir);
  lines.push(`  ${"prometheus".padEnd(24)} ${prom ? `pid ${prom.pid} ${prom.url}` : "STOPPED"}`);
  const ctl = readControllerProcess(dir);
  lines.push(`  ${"controller".padEnd(24)} ${ctl ? `pid ${ctl.pid}` : "STOPPED"}`);
  const traffic = readTrafficProcess(dir);
  lines.push(`  ${"traffic".padEnd(24)} ${traffic ? `pid ${traffic.pid}` : "STOPPED"}`);
  for (const [ns, rec] of Object.entries(readServicesState(dir) ?? {})) {
    lines.push(`  service ${ns.padEnd(16)} ${rec.url} → ${rec.version ?? "(no ready Deployment)"}`);
  }
  lines.push(`  kubeconfig: ${s.kubeconfig}`);
  return lines.join("\n");
}

function describe(s: SandboxState): string {
  return [
    `kubeconfig:     ${s.kubeconfig}`,
    `API server:     ${s.server}`,
    `Prometheus:     ${s.prometheusUrl}`,
    ...Object.entries(s.services).map(([ns, url]) => `service ${ns.padEnd(11)}${url}`),
    `project:        ${s.projectDir} (stacks staging, production)`,
    "",
    `Point the CLIs at it:  source ${path.join(sandboxDir(), "env")}`,
  ].join("\n");
}

const USAGE = `Usage: npm run sandbox -- up | down | status | env

  up      start the sandbox (idempotent) and print its kubeconfig, Prometheus and service URLs
  status  say what runs
  down    stop what the sandbox started and remove its state
  env     print shell exports pointing deploy/promote/preview at the sandbox
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.length > 0 || command === undefined || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return command === undefined || rest.length > 0 ? 2 : 0;
  }
  try {
    if (command === "up") {
      process.stdout.write(`${describe(await sandboxUp())}\n`);
    } else if (command === "down") {
      await sandboxDown();
    } else if (command === "status") {
      process.stdout.write(`${sandboxStatus()}\n`);
    } else if (command === "env") {
      const s = readSandbox();
      if (!s) {
        process.stderr.write("sandbox: not running; start it with `npm run sandbox -- up`\n");
        return 2;
      }
      process.stdout.write(envExports(s));
    } else {
      process.stderr.write(`sandbox: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
    }
    return 0;
  } catch (err) {
    process.stderr.write(`sandbox: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
