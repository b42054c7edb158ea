/**
 * The sandbox controller: what Kubernetes runs is what Prometheus sees. It watches the
 * apps/v1 Deployments labelled app.kubernetes.io/name=churn-model in the sandbox
 * namespaces, and for each Deployment with ready replicas runs one churn-model service
 * process at the version its ready pods run (the image tag of the newest ReplicaSet with
 * ready replicas). It swaps the process when that version changes, stops it when the
 * Deployment goes or has no ready replica, and restarts a process that crashed.
 *
 * Each namespace also gets a reverse proxy on a stable port (kept across restarts in the
 * state file) that forwards to whichever process serves the namespace, so a stack's
 * `serviceUrl` stays valid across version swaps.
 *
 * It writes:
 *   <stateDir>/services.json         { "<namespace>": ServiceRecord }  (url = the stable proxy URL)
 *   <prometheus targets file>        file_sd targets labelled namespace, version, deployment
 *
 * CLI: ts-node scripts/sandbox/controller.ts --kubeconfig FILE --namespaces staging,production
 *        --state-dir DIR [--targets-file FILE]
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import * as ts from "typescript";
import {
  Deployment,
  HttpKubeApi,
  KubeApi,
  KubeApiError,
  loadKubeconfig,
  PodTemplate,
  ReplicaSet,
} from "./kube-client";
import { isAlive, startDetached, stopProcesses } from "./controlplane";
import { freePort, isPortFree, LOOPBACK } from "./ports";
import { prometheusPaths, ScrapeTarget, writeScrapeTargets } from "./prometheus";

export const APP_LABEL_SELECTOR = "app.kubernetes.io/name=churn-model";
export const IMAGE_NAME = "churn-model";
const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";

// ---- deciding what should run (pure) ---------------------------------------------------

/** The model version of an image reference `…/churn-model:<version>[@digest]`, if it has a tag. */
export function imageVersion(image: string): { name: string; version: string } | undefined {
  const withoutDigest = image.split("@")[0];
  const last = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = last.lastIndexOf(":");
  if (colon <= 0 || colon === last.length - 1) {
    return undefined;
  }
  return { name: last.slice(0, colon), version: last.slice(colon + 1) };
}

/** The version a pod template runs: its churn-model container's image tag. */
export function templateVersion(spec: { readonly template?: PodTemplate } | undefined): string | undefined {
  const containers = spec?.template?.spec?.containers ?? [];
  const parsed = containers.map((c) => (c.image ? imageVersion(c.image) : undefined));
  const named = parsed.find((p) => p?.name === IMAGE_NAME);
  return named?.version ?? (containers.length === 1 ? parsed[0]?.version : undefined);
}

export interface DesiredService {
  /** `<namespace>/<deployment>` */
  readonly key: string;
  readonly namespace: string;
  readonly deployment: string;
  readonly version: string;
}

export type ServedVersion =
  | { readonly version: string }
  | { readonly version?: undefined; readonly reason: string };

/**
 * The version a Deployment's ready pods run. During a rollout both old and new pods may be
 * ready; the newest ReplicaSet (by revision) with a ready replica wins, so a rollout whose
 * new pods never become ready keeps serving the old version, as Kubernetes does.
 */
export function servedVersion(deployment: Deployment, replicaSets: readonly ReplicaSet[]): ServedVersion {
  if ((deployment.status?.readyReplicas ?? 0) < 1) {
    return { reason: "no ready replicas" };
  }
  const owned = replicaSets
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === deployment.metadata.uid))
    .filter((rs) => (rs.status?.readyReplicas ?? 0) >= 1)
    .sort((a, b) => revision(b) - revision(a));
  for (const rs of owned) {
    const version = templateVersion(rs.spec);
    if (version) {
      return { version };
    }
  }
  const s = deployment.status ?? {};
  const rolledOut =
    (s.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === (s.replicas ?? 0) &&
    (s.updatedReplicas ?? 0) >= 1;
  const version = templateVersion(deployment.spec);
  if (rolledOut && version) {
    return { version };
  }
  return {
    reason: version
      ? "rollout in progress and no ready ReplicaSet found"
      : `no container image of the form …/${IMAGE_NAME}:<version>`,
  };
}

function revision(rs: ReplicaSet): number {
  const n = Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? "0");
  return Number.isFinite(n) ? n : 0;
}

export interface RunningView {
  readonly key: string;
  readonly version: string;
}

export type Action =
  | { readonly kind: "start"; readonly desired: DesiredService }
  | { readonly kind: "swap"; readonly desired: DesiredService; readonly from: string }
  | { readonly kind: "stop"; readonly key: string; readonly reason: string };

/**
 * The actions that turn `running` into `desired`. `failed` maps a key to a version that
 * could not start; it is not retried until the desired version changes.
 */
export function planActions(
  desired: readonly DesiredService[],
  running: readonly RunningView[],
  failed: ReadonlyMap<string, string> = new Map(),
): Action[] {
  const actions: Action[] = [];
  const want = new Map(desired.map((d) => [d.key, d]));
  for (const r of running) {
    const d = want.get(r.key);
    if (!d) {
      actions.push({ kind: "stop", key: r.key, reason: "no ready replicas or the Deployment is gone" });
    } else if (d.version !== r.version && failed.get(d.key) !== d.version) {
      actions.push({ kind: "swap", desired: d, from: r.version });
    }
  }
  const runningKeys = new Set(running.map((r) => r.key));
  for (const d of desired) {
    if (!runningKeys.has(d.key) && failed.get(d.key) !== d.version) {
      actions.push({ kind: "start", desired: d });
    }
  }
  return actions.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
}

function keyOf(a: Action): string {
  return a.kind === "stop" ? a.key : a.desired.key;
}

// ---- running service processes ---------------------------------------------------------

export interface ServiceSpec {
  readonly namespace: string;
  readonly deployment: string;
  readonly version: string;
  /** Port on 127.0.0.1 the process must listen on. */
  readonly port: number;
}

export interface ServiceProcess {
  readonly pid: number;
  readonly url: string;
  /** Resolves when the process ended, whatever the reason. */
  readonly exited: Promise<void>;
  /** Stops the process and resolves once it ended. */
  stop(): Promise<void>;
}

export interface ServiceRunner {
  /** Starts a service and resolves once it listens; rejects with the reason it could not start. */
  start(spec: ServiceSpec): Promise<ServiceProcess>;
}

const SERVICE_SOURCES = path.join(__dirname, "service");
const NODE_MODULES = path.resolve(__dirname, "..", "..", "node_modules");

/**
 * Transpiles the service's sources to CommonJS in `outDir`, so that service processes run
 * on plain Node.js (no TypeScript compiler loaded: a third of the memory, starts in well
 * under a second). Returns the path of server.js.
 */
export function buildService(outDir: string): string {
  fs.mkdirSync(outDir, { recursive: true });
  for (const file of fs.readdirSync(SERVICE_SOURCES).filter((f) => f.endsWith(".ts"))) {
    const { outputText } = ts.transpileModule(fs.readFileSync(path.join(SERVICE_SOURCES, file), "utf8"), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    fs.writeFileSync(path.join(outDir, file.replace(/\.ts$/, ".js")), outputText);
  }
  return path.join(outDir, "server.js");
}

export interface ProcessRunnerOptions {
  /** Where each process logs, as <namespace>-<deployment>-<version>.log. */
  readonly logDir: string;
  /** Where the service is built to before the first start. */
  readonly buildDir: string;
  /** How long a process may take to listen; default 60000 ms. */
  readonly startTimeoutMs?: number;
}

/** Runs each service as a child process of this one; it ends itself if this process dies. */
export function processRunner(opts: ProcessRunnerOptions): ServiceRunner {
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  let server: string | undefined;
  return {
    start: (spec) =>
      new Promise<ServiceProcess>((resolve, reject) => {
        server ??= buildService(opts.buildDir);
        const logDir = opts.logDir;
        fs.mkdirSync(logDir, { recursive: true });
        const logFile = path.join(logDir, `${spec.namespace}-${spec.deployment}-${spec.version}.log`);
        const log = fs.createWriteStream(logFile, { flags: "a" });
        const child: ChildProcess = spawn(
          process.execPath,
          [
            server,
            "--version",
            spec.version,
            "--namespace",
            spec.namespace,
            "--port",
            String(spec.port),
            "--host",
            LOOPBACK,
          ],
          {
            env: { ...process.env, NODE_PATH: NODE_MODULES, CHURN_MODEL_PARENT_PID: String(process.pid) },
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        let output = "";
        let ready = false;
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(
            new Error(
              `${spec.namespace}/${spec.deployment} ${spec.version} did not listen within ${startTimeoutMs} ms`,
            ),
          );
        }, startTimeoutMs);
        const onData = (chunk: Buffer): void => {
          log.write(chunk);
          if (ready) {
            return;
          }
          output += chunk.toString("utf8");
          const m = /listening on (http:\/\/\S+)/.exec(output);
          if (m && child.pid !== undefined) {
            ready = true;
            clearTimeout(timer);
            const pid = child.pid;
            resolve({
              pid,
              url: m[1],
              exited,
              stop: async () => {
                if (child.exitCode === null && child.signalCode === null) {
                  child.kill("SIGTERM");
                  const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
                  await exited;
                  clearTimeout(killer);
                }
              },
            });
          }
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        void exited.then(() => {
          log.end();
          if (!ready) {
            clearTimeout(timer);
            reject(
              new Error(output.trim().split("\n").slice(-5).join("\n") || `exited with ${child.exitCode}`),
            );
          }
        });
      }),
  };
}

// ---- the per-namespace proxy -----------------------------------------------------------

/** Forwards every request to the namespace's current service process; 503 when none serves. */
export class NamespaceProxy {
  private backend: string | undefined;
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

  constructor(readonly namespace: string) {
    this.server = http.createServer((req, res) => this.forward(req, res));
  }

  get backendUrl(): string | undefined {
    return this.backend;
  }

  setBackend(url: string | undefined): void {
    this.backend = url;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, LOOPBACK, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.agent.destroy();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const backend = this.backend;
    if (!backend) {
      const body = JSON.stringify({ error: `no churn-model process serves namespace ${this.namespace}` });
      res.writeHead(503, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const upstream = http.request(
      new URL(req.url ?? "/", backend),
      { method: req.method, headers: { ...req.headers, host: new URL(backend).host }, agent: this.agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) {
        const body = JSON.stringify({ error: `backend ${backend} of ${this.namespace}: ${err.message}` });
        res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.destroy(err);
      }
    });
    req.pipe(upstream);
  }
}

// ---- the controller --------------------------------------------------------------------

/** One namespace's entry in services.json. */
export interface ServiceRecord {
  /** The stable URL of the namespace (its proxy); valid across version swaps. */
  readonly url: string;
  readonly proxyPort: number;
  /** Version served now, or null when no process serves the namespace. */
  readonly version: string | null;
  readonly pid: number | null;
  /** The process behind the proxy, or null. */
  readonly backendUrl: string | null;
  readonly deployment: string | null;
}

export type ServicesState = Record<string, ServiceRecord>;

export function servicesFile(stateDir: string): string {
  return path.join(path.resolve(stateDir), "services.json");
}

export function readServicesState(stateDir: string): ServicesState | undefined {
  const file = servicesFile(stateDir);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ServicesState) : undefined;
}

export interface ControllerOptions {
  readonly api: KubeApi;
  readonly namespaces: readonly string[];
  readonly stateDir: string;
  /** file_sd targets file Prometheus reads; default the sandbox Prometheus' targets file. */
  readonly targetsFile?: string;
  /** How service processes are run; default child processes logging to <stateDir>/logs. */
  readonly runner?: ServiceRunner;
  /** Default app.kubernetes.io/name=churn-model. */
  readonly labelSelector?: string;
  /** Periodic full reconcile; default 30000 ms. */
  readonly resyncMs?: number;
  readonly log?: (line: string) => void;
}

interface Running {
  readonly spec: ServiceSpec;
  proc: ServiceProcess | undefined;
  /** Set while the controller itself stops the process (not a crash). */
  stopping: boolean;
  restartDelayMs: number;
}

export class Controller {
  private readonly deployments = new Map<string, Map<string, Deployment>>();
  private readonly running = new Map<string, Running>();
  private readonly failed = new Map<string, string>();
  private readonly proxies = new Map<string, NamespaceProxy>();
  private readonly proxyPorts = new Map<string, number>();
  private readonly watches = new Set<{ abort(): void }>();
  private readonly runner: ServiceRunner;
  private readonly selector: string;
  private readonly targetsFile: string;
  private readonly log: (line: string) => void;
  private stopped = false;
  private dirty = false;
  private reconciling: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly synced = new Set<string>();

  constructor(private readonly opts: ControllerOptions) {
    if (opts.namespaces.length === 0) {
      throw new Error("namespaces must name at least one namespace");
    }
    const stateDir = path.resolve(opts.stateDir);
    this.runner =
      opts.runner ??
      processRunner({ logDir: path.join(stateDir, "logs"), buildDir: path.join(stateDir, "service-build") });
    this.selector = opts.labelSelector ?? APP_LABEL_SELECTOR;
    this.targetsFile = opts.targetsFile ?? prometheusPaths(opts.stateDir).targetsFile;
    this.log =
      opts.log ?? ((line) => console.log(`[controller ${new Date().toISOString().slice(11, 19)}] ${line}`));
  }

  /**
   * Opens the namespace proxies (reusing the ports of an earlier run when free), writes
   * services.json and the targets file, and starts watching. Resolves once every namespace
   * was listed and the first reconcile ran.
   */
  async start(): Promise<void> {
    fs.mkdirSync(path.resolve(this.opts.stateDir), { recursive: true });
    const earlier = readServicesState(this.opts.stateDir) ?? {};
    for (const ns of this.opts.namespaces) {
      const proxy = new NamespaceProxy(ns);
      const previous = earlier[ns]?.proxyPort;
      const port = previous !== undefined && (await isPortFree(previous)) ? previous : await freePort();
      await proxy.listen(port);
      this.proxies.set(ns, proxy);
      this.proxyPorts.set(ns, port);
    }
    this.writeState();
    const firstLists = this.opts.namespaces.map((ns) => this.watchLoop(ns));
    await Promise.all(firstLists);
    await this.reconcileNow();
    this.resyncTimer = setInterval(() => this.schedule(), this.opts.resyncMs ?? 30_000);
    this.resyncTimer.unref();
  }

  /** Stops watching, stops every service process and closes the proxies. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) {
      clearInterval(this.resyncTimer);
    }
    for (const w of this.watches) {
      w.abort();
    }
    await this.reconciling;
    await Promise.all([...this.running.keys()].map((key) => this.stopService(key, "controller stopping")));
    this.writeState();
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    if (this.opts.api instanceof HttpKubeApi) {
      this.opts.api.close();
    }
  }

  /** The services.json content as of now. */
  snapshot(): ServicesState {
    const state: ServicesState = {};
    for (const ns of this.opts.namespaces) {
      const port = this.proxyPorts.get(ns) ?? 0;
      const primary = [...this.running.values()]
        .filter((r) => r.spec.namespace === ns && r.proc)
        .sort((a, b) => a.spec.deployment.localeCompare(b.spec.deployment))[0];
      state[ns] = {
        url: `http://${LOOPBACK}:${port}`,
        proxyPort: port,
        version: primary?.spec.version ?? null,
        pid: primary?.proc?.pid ?? null,
        backendUrl: primary?.proc?.url ?? null,
        deployment: primary?.spec.deployment ?? null,
      };
    }
    return state;
  }

  /** Resolves once no reconcile is pending (for tests and the CLI). */
  async idle(): Promise<void> {
    while (this.reconciling) {
      await this.reconciling;
    }
  }

  /** Lists, then watches, one namespace until the controller stops; the first list resolves the promise. */
  private watchLoop(ns: string): Promise<void> {
    return new Promise<void>((firstListed, failedFirst) => {
      let backoffMs = 500;
      const loop = async (): Promise<void> => {
        while (!this.stopped) {
          try {
            const list = await this.opts.api.listDeployments(ns, this.selector);
            this.deployments.set(ns, new Map(list.items.map((d) => [d.metadata.name, d])));
            if (!this.synced.has(ns)) {
              this.synced.add(ns);
              firstListed();
            }
            this.schedule();
            let resourceVersion = list.resourceVersion;
            while (!this.stopped) {
              const watch = this.opts.api.watchDeployments(ns, this.selector, resourceVersion, (event) => {
                resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
                if (event.type === "BOOKMARK") {
                  return;
                }
                const byName = this.deployments.get(ns) ?? new Map<string, Deployment>();
                if (event.type === "DELETED") {
                  byName.delete(event.object.metadata.name);
                } else {
                  byName.set(event.object.metadata.name, event.object);
                }
                this.deployments.set(ns, byName);
                backoffMs = 500;
                this.schedule();
              });
              this.watches.add(watch);
              try {
                await watch.done;
              } finally {
                this.watches.delete(watch);
              }
            }
          } catch (err) {
            if (this.stopped) {
              return;
            }
            const gone = err instanceof KubeApiError && err.status === 410;
            if (!gone) {
              this.log(
                `watching Deployments in ${ns}: ${(err as Error).message}; retrying in ${backoffMs} ms`,
              );
              if (
                !this.synced.has(ns) &&
                err instanceof KubeApiError &&
                (err.status === 401 || err.status === 403)
              ) {
                failedFirst(err);
                return;
              }
              await new Promise((r) => setTimeout(r, backoffMs));
              backoffMs = Math.min(backoffMs * 2, 10_000);
            }
          }
        }
      };
      void loop();
    });
  }

  private schedule(): void {
    if (this.stopped) {
      return;
    }
    this.dirty = true;
    if (!this.reconciling) {
      this.reconciling = this.reconcileLoop().finally(() => {
        this.reconciling = undefined;
      });
    }
  }

  private async reconcileNow(): Promise<void> {
    this.schedule();
    await this.idle();
  }

  private async reconcileLoop(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      try {
        await this.reconcileOnce();
      } catch (err) {
        this.log(`reconcile failed: ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
        this.dirty = true;
      }
    }
  }

  private async desired(): Promise<DesiredService[]> {
    const out: DesiredService[] = [];
    for (const ns of this.opts.namespaces) {
      const deployments = [...(this.deployments.get(ns)?.values() ?? [])];
      if (deployments.length === 0) {
        continue;
      }
      const replicaSets = deployments.some((d) => (d.status?.readyReplicas ?? 0) >= 1)
        ? (await this.opts.api.listReplicaSets(ns, selectorOf(deployments))).items
        : [];
      for (const d of deployments) {
        const key = `${ns}/${d.metadata.name}`;
        const served = servedVersion(d, replicaSets);
        if (served.version !== undefined) {
          out.push({ key, namespace: ns, deployment: d.metadata.name, version: served.version });
        } else if (this.running.has(key)) {
          this.log(`${key}: ${served.reason}`);
        }
      }
    }
    return out;
  }

  private async reconcileOnce(): Promise<void> {
    const desired = await this.desired();
    // A key whose desired version changed may be tried again.
    for (const [key, version] of this.failed) {
      const d = desired.find((x) => x.key === key);
      if (!d || d.version !== version) {
        this.failed.delete(key);
      }
    }
    const running = [...this.running.entries()].map(([key, r]) => ({ key, version: r.spec.version }));
    const actions = planActions(desired, running, this.failed);
    for (const action of actions) {
      if (this.stopped) {
        return;
      }
      if (action.kind === "stop") {
        await this.stopService(action.key, action.reason);
      } else {
        await this.startService(action.desired, action.kind === "swap" ? action.from : undefined);
      }
      this.publish();
    }
    if (actions.length === 0) {
      this.publish();
    }
  }

  private async startService(d: DesiredService, from?: string): Promise<void> {
    const spec: ServiceSpec = { ...d, port: await freePort() };
    let proc: ServiceProcess;
    try {
      proc = await this.runner.start(spec);
    } catch (err) {
      this.failed.set(d.key, d.version);
      this.log(`${d.key}: cannot run ${d.version}: ${(err as Error).message}`);
      if (from !== undefined) {
        this.log(`${d.key}: keeps serving ${from}`);
      }
      return;
    }
    const old = this.running.get(d.key);
    const entry: Running = { spec, proc, stopping: false, restartDelayMs: 1000 };
    this.running.set(d.key, entry);
    this.watchExit(d.key, entry);
    this.log(
      from === undefined
        ? `${d.key}: serving ${d.version} (pid ${proc.pid}) at ${proc.url}`
        : `${d.key}: swapped ${from} → ${d.version} (pid ${proc.pid}) at ${proc.url}`,
    );
    this.publish();
    if (old) {
      old.stopping = true;
      await old.proc?.stop();
    }
  }

  private async stopService(key: string, reason: string): Promise<void> {
    const entry = this.running.get(key);
    if (!entry) {
      return;
    }
    entry.stopping = true;
    this.running.delete(key);
    this.publish();
    await entry.proc?.stop();
    this.log(`${key}: stopped ${entry.spec.version} (${reason})`);
  }

  /** Restarts a crashed process on the same port, so its scrape target (and `up` = 0 meanwhile) stay. */
  private watchExit(key: string, entry: Running): void {
    const proc = entry.proc;
    if (!proc) {
      return;
    }
    void proc.exited.then(async () => {
      if (entry.stopping || this.stopped || this.running.get(key) !== entry) {
        return;
      }
      this.log(
        `${key}: ${entry.spec.version} (pid ${proc.pid}) exited; restarting in ${entry.restartDelayMs} ms`,
      );
      entry.proc = undefined;
      this.publish();
      await new Promise((r) => setTimeout(r, entry.restartDelayMs));
      entry.restartDelayMs = Math.min(entry.restartDelayMs * 2, 30_000);
      if (entry.stopping || this.stopped || this.running.get(key) !== entry) {
        return;
      }
      try {
        entry.proc = await this.runner.start(entry.spec);
        this.log(`${key}: restarted ${entry.spec.version} (pid ${entry.proc.pid})`);
        this.publish();
        this.watchExit(key, entry);
      } catch (err) {
        this.log(`${key}: restart failed: ${(err as Error).message}`);
        this.running.delete(key);
        this.failed.set(key, entry.spec.version);
        this.publish();
      }
    });
  }

  /** Points the proxies at the current processes and writes the targets and services.json. */
  private publish(): void {
    const targets: ScrapeTarget[] = [];
    for (const r of this.running.values()) {
      targets.push({
        address: `${LOOPBACK}:${r.spec.port}`,
        namespace: r.spec.namespace,
        version: r.spec.version,
        deployment: r.spec.deployment,
      });
    }
    writeScrapeTargets(this.targetsFile, targets);
    const state = this.writeState();
    for (const [ns, proxy] of this.proxies) {
      proxy.setBackend(state[ns]?.backendUrl ?? undefined);
    }
  }

  private writeState(): ServicesState {
    const state = this.snapshot();
    const file = servicesFile(this.opts.stateDir);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
    fs.renameSync(tmp, file);
    return state;
  }
}

/** A label selector that matches every given Deployment's ReplicaSets (their common matchLabels). */
function selectorOf(deployments: readonly Deployment[]): string {
  const sets = deployments.map((d) => Object.entries(d.spec?.selector?.matchLabels ?? {}));
  const common = (sets[0] ?? []).filter(([k, v]) =>
    sets.every((s) => s.some(([k2, v2]) => k2 === k && v2 === v)),
  );
  return common.map(([k, v]) => `${k}=${v}`).join(",");
}

export async function startController(opts: ControllerOptions): Promise<Controller> {
  const controller = new Controller(opts);
  await controller.start();
  return controller;
}

// ---- running the controller as a detached process (for the sandbox CLI) -----------------

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

function controllerStateFile(stateDir: string): string {
  return path.join(path.resolve(stateDir), "controller.json");
}

function isControllerPid(pid: number): boolean {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .some((a) => a.endsWith("controller.ts"));
  } catch {
    return false;
  }
}

export function readControllerProcess(stateDir: string): ControllerProcessState | undefined {
  const file = controllerStateFile(stateDir);
  if (!fs.existsSync(file)) {
    return undefined;
  }
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as ControllerProcessState;
  return isAlive(state.pid) && isControllerPid(state.pid) ? state : undefined;
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
      "-r",
      require.resolve("ts-node/register/transpile-only"),
      __filename.replace(/\.js$/, ".ts"),
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

/** Stops the controller recorded for this state dir by PID (it stops its service processes). */
export async function stopControllerProcess(stateDir: string, graceMs = 15_000): Promise<boolean> {
  const state = readControllerProcess(stateDir);
  fs.rmSync(controllerStateFile(stateDir), { force: true });
  if (!state) {
    return false;
  }
  await stopProcesses([{ name: "controller", pid: state.pid, log: state.logFile }], graceMs);
  // Service processes end themselves when their parent is gone; make sure of it.
  for (const record of Object.values(readServicesState(stateDir) ?? {})) {
    if (record.pid !== null && isAlive(record.pid)) {
      process.kill(record.pid, "SIGTERM");
    }
  }
  return true;
}

// ---- CLI -------------------------------------------------------------------------------

export function parseControllerArgs(argv: readonly string[]): {
  kubeconfig: string;
  namespaces: string[];
  stateDir: string;
  targetsFile?: string;
} {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(kubeconfig|namespaces|state-dir|targets-file)(?:=(.*))?$/.exec(argv[i]);
    const value = m?.[2] ?? argv[i + 1];
    if (!m || value === undefined) {
      throw new Error(
        `bad argument ${argv[i]}; usage: --kubeconfig FILE --namespaces a,b --state-dir DIR [--targets-file FILE]`,
      );
    }
    if (m[2] === undefined) {
      i++;
    }
    flags.set(m[1], value);
  }
  const missing = ["kubeconfig", "namespaces", "state-dir"].filter((k) => !flags.get(k));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.map((k) => `--${k}`).join(", ")}`);
  }
  return {
    kubeconfig: flags.get("kubeconfig") as string,
    namespaces: (flags.get("namespaces") as string).split(",").filter((s) => s !== ""),
    stateDir: flags.get("state-dir") as string,
    targetsFile: flags.get("targets-file"),
  };
}

async function main(): Promise<void> {
  const args = parseControllerArgs(process.argv.slice(2));
  const controller = new Controller({
    api: new HttpKubeApi(loadKubeconfig(args.kubeconfig)),
    namespaces: args.namespaces,
    stateDir: args.stateDir,
    targetsFile: args.targetsFile,
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log(`[controller] ${signal}: stopping service processes`);
    controller.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[controller] stopping failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  await controller.start();
  const record: ControllerProcessState = {
    pid: process.pid,
    logFile: path.join(path.resolve(args.stateDir), "logs", "controller.log"),
    servicesFile: servicesFile(args.stateDir),
  };
  fs.writeFileSync(controllerStateFile(args.stateDir), `${JSON.stringify(record, null, 2)}\n`);
  console.log(
    `[controller] watching ${args.namespaces.join(", ")}; services in ${servicesFile(args.stateDir)}`,
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`[controller] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
