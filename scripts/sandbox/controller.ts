/**
 * The sandbox controller: what Kubernetes runs is what Prometheus sees. It watches the
 * apps/v1 Deployments labelled app.kubernetes.io/name=churn-model in the sandbox
 * namespaces, and for each Deployment with ready replicas runs one churn-model service
 * process at the version its ready pods run (scripts/sandbox/serving-plan.ts decides which).
 * It swaps the process when that version changes, stops it when the Deployment goes or has
 * no ready replica, and restarts a process that crashed.
 *
 * Each namespace also gets a reverse proxy (scripts/sandbox/namespace-proxy.ts) on a stable
 * port (kept across restarts in the state file) that spreads requests over the processes of
 * all the namespace's Deployments in proportion to their ready replicas, as a Service's
 * endpoints do (a 1-of-10 canary beside a stable Deployment gets one request in ten), so a
 * stack's `serviceUrl` stays valid across version swaps. Each process is its own scrape
 * target, so Prometheus sees every version separately.
 *
 * It writes:
 *   <stateDir>/services.json         { "<namespace>": ServiceRecord }  (url = the stable proxy URL)
 *   <prometheus targets file>        file_sd targets labelled namespace, version, deployment
 *
 * Its command line and detached process: scripts/sandbox/controller-main.ts and
 * scripts/sandbox/controller-process.ts; what to run is judged in serving-plan.ts, processes
 * are run by service-runner.ts. What stays here (about 440 lines) is one class: the watches,
 * the reconcile loop and the lifecycle of the processes it started, which share its state.
 */
import * as fs from "fs";
import * as path from "path";
import {
  Deployment,
  deploymentInformer,
  DeploymentInformer,
  describeKubeError,
  httpStatusOf,
  KubeConfig,
  listReplicaSets,
} from "./kube";
import { versionLabel } from "../../policy/contract";
import { sandboxModel } from "./artifact";
import { NamespaceProxy } from "./namespace-proxy";
import { catalogVersions } from "./service/models";
import { freePort, isPortFree, LOOPBACK } from "./ports";
import { prometheusPaths, ScrapeTarget, writeScrapeTargets } from "./prometheus";
import { APP_LABEL_SELECTOR, DesiredService, planActions, servedVersion } from "./serving-plan";
import { processRunner, ServiceProcess, ServiceRunner, ServiceSpec } from "./service-runner";
import { readServicesState, servicesFile, ServicesState } from "./services-state";

export interface ControllerOptions {
  /** The cluster to watch (scripts/sandbox/kube.ts loads one from a kubeconfig file). */
  readonly kubeConfig: KubeConfig;
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
  /** The Deployment's ready replicas: the process's share of the namespace's traffic. */
  weight: number;
  /** Set while the controller itself stops the process (not a crash). */
  stopping: boolean;
  restartDelayMs: number;
}

export class Controller {
  private readonly informers = new Map<string, DeploymentInformer>();
  private readonly running = new Map<string, Running>();
  private readonly failed = new Map<string, string>();
  private readonly proxies = new Map<string, NamespaceProxy>();
  private readonly proxyPorts = new Map<string, number>();
  private readonly runner: ServiceRunner;
  private readonly selector: string;
  private readonly targetsFile: string;
  private readonly log: (line: string) => void;
  private stopped = false;
  private dirty = false;
  private reconciling: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  private readonly kc: KubeConfig;

  constructor(private readonly opts: ControllerOptions) {
    if (opts.namespaces.length === 0) {
      throw new Error("namespaces must name at least one namespace");
    }
    const stateDir = path.resolve(opts.stateDir);
    this.runner =
      opts.runner ??
      processRunner({ logDir: path.join(stateDir, "logs"), buildDir: path.join(stateDir, "service-build") });
    this.kc = opts.kubeConfig;
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
    const firstLists = this.opts.namespaces.map((ns) => this.watchNamespace(ns));
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
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await this.reconciling;
    await Promise.all([...this.running.keys()].map((key) => this.stopService(key, "controller stopping")));
    this.writeState();
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }

  /** The services.json content as of now. */
  snapshot(): ServicesState {
    const state: ServicesState = {};
    for (const ns of this.opts.namespaces) {
      const port = this.proxyPorts.get(ns) ?? 0;
      const serving = [...this.running.values()]
        .filter((r) => r.spec.namespace === ns && r.proc)
        .sort((a, b) => a.spec.deployment.localeCompare(b.spec.deployment));
      const primary = serving[0];
      state[ns] = {
        url: `http://${LOOPBACK}:${port}`,
        proxyPort: port,
        version: primary?.spec.version ?? null,
        pid: primary?.proc?.pid ?? null,
        backendUrl: primary?.proc?.url ?? null,
        deployment: primary?.spec.deployment ?? null,
        backends: serving.flatMap((r) =>
          r.proc
            ? [
                {
                  deployment: r.spec.deployment,
                  version: r.spec.version,
                  pid: r.proc.pid,
                  url: r.proc.url,
                  weight: r.weight,
                },
              ]
            : [],
        ),
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

  /**
   * Starts the namespace's Deployment informer and resolves once its first list succeeded.
   * The informer reconnects and relists by itself; when it stops on an error, it is started
   * again after a backoff (500 ms doubling to 10 s). A first list refused with 401 or 403
   * fails start().
   */
  private watchNamespace(ns: string): Promise<void> {
    const informer = deploymentInformer(this.kc, ns, this.selector);
    this.informers.set(ns, informer);
    return new Promise<void>((firstListed, failedFirst) => {
      let backoffMs = 500;
      let errors = 0;
      let synced = false;
      informer.on("change", () => {
        backoffMs = 500;
        this.schedule();
      });
      informer.on("error", (err: unknown) => {
        errors++;
        if (this.stopped) {
          return;
        }
        const status = httpStatusOf(err);
        const message = describeKubeError(err);
        if (!synced && (status === 401 || status === 403)) {
          failedFirst(new Error(`listing Deployments in ${ns}: ${message}`));
          return;
        }
        this.log(`watching Deployments in ${ns}: ${message}; retrying in ${backoffMs} ms`);
        const delay = backoffMs;
        backoffMs = Math.min(backoffMs * 2, 10_000);
        setTimeout(() => void begin(), delay).unref();
      });
      const begin = async (): Promise<void> => {
        if (this.stopped) {
          return;
        }
        const before = errors;
        await informer.start();
        if (errors === before) {
          if (!synced) {
            synced = true;
            firstListed();
          }
          this.schedule();
        }
      };
      void begin();
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
      const deployments = this.informers.get(ns)?.list() ?? [];
      if (deployments.length === 0) {
        continue;
      }
      const replicaSets = deployments.some((d) => (d.status?.readyReplicas ?? 0) >= 1)
        ? await listReplicaSets(this.kc, ns, selectorOf(deployments))
        : [];
      for (const d of deployments) {
        const name = d.metadata?.name ?? "";
        const key = `${ns}/${name}`;
        const served = servedVersion(d, replicaSets);
        if (served.version !== undefined) {
          out.push({
            key,
            namespace: ns,
            deployment: name,
            version: served.version,
            ...(served.image !== undefined ? { image: served.image } : {}),
            readyReplicas: d.status?.readyReplicas ?? 0,
          });
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
    for (const d of desired) {
      const entry = this.running.get(d.key);
      if (entry !== undefined && entry.spec.version === d.version) {
        entry.weight = d.readyReplicas;
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
    const model = d.image !== undefined ? sandboxModel(d.image, d.version, catalogVersions()) : undefined;
    const spec: ServiceSpec = {
      namespace: d.namespace,
      deployment: d.deployment,
      version: d.version,
      // A version the catalog names is its own model; another one (a build, a digest) serves
      // the model the sandbox's registry holds under its image, or fails to start naming it.
      ...(model !== undefined && model !== d.version ? { model } : {}),
      ...(versionLabel(d.version) !== d.version ? { versionLabel: versionLabel(d.version) } : {}),
      port: await freePort(),
    };
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
    const entry: Running = { spec, proc, weight: d.readyReplicas, stopping: false, restartDelayMs: 1000 };
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
        version: versionLabel(r.spec.version),
        deployment: r.spec.deployment,
      });
    }
    writeScrapeTargets(this.targetsFile, targets);
    const state = this.writeState();
    for (const [ns, proxy] of this.proxies) {
      proxy.setBackends(state[ns]?.backends ?? []);
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
