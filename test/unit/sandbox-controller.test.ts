import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { Controller } from "../../scripts/sandbox/controller";
import { ServiceProcess, ServiceRunner, ServiceSpec } from "../../scripts/sandbox/service-runner";
import { readServicesState } from "../../scripts/sandbox/services-state";
import { Deployment, kubeConfigForServer, ReplicaSet } from "../../scripts/sandbox/kube";
import { deployment, replicaSet } from "../helpers/kube-objects";
import { freePort, isPortFree } from "../../scripts/sandbox/ports";
import { prometheusPaths } from "../../scripts/sandbox/prometheus";
import { ChurnModelService } from "../../scripts/sandbox/service/server";

// ---- an in-process stand-in for the API server's list and watch ------------------------------

interface Stored {
  ns: string;
  obj: { metadata: { name: string; labels?: Readonly<Record<string, string>>; resourceVersion?: string } };
}

function named(o: Deployment | ReplicaSet): { name: string; namespace: string } {
  const { name, namespace } = o.metadata ?? {};
  if (name === undefined || namespace === undefined) throw new Error("an object without name or namespace");
  return { name, namespace };
}

class FakeApiServer {
  private rv = 100;
  private oldestRv = 0;
  private readonly deployments = new Map<string, Stored>();
  private readonly replicaSets = new Map<string, Stored>();
  private readonly log: { rv: number; ns: string; type: string; object: unknown }[] = [];
  private readonly watchers = new Set<{ ns: string; res: http.ServerResponse }>();
  private holding = false;
  /** Status codes the next Deployment lists answer with, in order. */
  readonly failLists: number[] = [];
  readonly server = http.createServer((req, res) => this.handle(req, res));
  url = "";

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  applyDeployment(d: Deployment): void {
    const { name, namespace } = named(d);
    const key = `${namespace}/${name}`;
    const type = this.deployments.has(key) ? "MODIFIED" : "ADDED";
    const obj = { ...d, metadata: { ...d.metadata, name, resourceVersion: String(++this.rv) } };
    this.deployments.set(key, { ns: namespace, obj });
    this.emit(namespace, type, obj);
  }

  deleteDeployment(namespace: string, name: string): void {
    const stored = this.deployments.get(`${namespace}/${name}`);
    if (!stored) throw new Error(`no deployment ${namespace}/${name}`);
    this.deployments.delete(`${namespace}/${name}`);
    this.emit(namespace, "DELETED", {
      ...stored.obj,
      metadata: { ...stored.obj.metadata, resourceVersion: String(++this.rv) },
    });
  }

  setReplicaSets(...items: ReplicaSet[]): void {
    for (const rs of items)
      this.replicaSets.set(`${named(rs).namespace}/${named(rs).name}`, {
        ns: named(rs).namespace,
        obj: { ...rs, metadata: { ...rs.metadata, name: named(rs).name } },
      });
  }

  /** Changes made while holding reach no watcher; expire() then forces a relist. */
  hold(): void {
    this.holding = true;
  }

  /** Compacts the event history (older resource versions are gone) and ends every watch. */
  expire(): void {
    this.holding = false;
    this.oldestRv = this.rv;
    this.log.length = 0;
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  private emit(ns: string, type: string, object: unknown): void {
    if (this.holding) return;
    this.log.push({ rv: this.rv, ns, type, object });
    for (const w of this.watchers) {
      if (w.ns === ns) w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|replicasets)$/.exec(url.pathname);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, ns, kind] = m;
    const selector = (url.searchParams.get("labelSelector") ?? "")
      .split(",")
      .filter((s) => s !== "")
      .map((s) => s.split("="));
    const matches = (s: Stored) =>
      s.ns === ns && selector.every(([k, v]) => s.obj.metadata.labels?.[k] === v);
    if (url.searchParams.get("watch") === "true") {
      // As kube-apiserver does, a watch answers its headers at once, before any event.
      res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
      const from = Number(url.searchParams.get("resourceVersion"));
      if (from < this.oldestRv) {
        res.end(
          `${JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, message: "too old resource version" } })}\n`,
        );
        return;
      }
      for (const e of this.log.filter((e) => e.ns === ns && e.rv > from)) {
        res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
      const watcher = { ns, res };
      this.watchers.add(watcher);
      req.on("close", () => this.watchers.delete(watcher));
      return;
    }
    const failure = kind === "deployments" ? this.failLists.shift() : undefined;
    if (failure !== undefined) {
      res
        .writeHead(failure, { "content-type": "application/json" })
        .end(JSON.stringify({ kind: "Status", code: failure, message: `refused with ${failure}` }));
      return;
    }
    const source = kind === "deployments" ? this.deployments : this.replicaSets;
    const body = JSON.stringify({
      kind: "List",
      metadata: { resourceVersion: String(this.rv) },
      items: [...source.values()].filter(matches).map((s) => s.obj),
    });
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  }
}

// ---- service processes stand in as in-process services ---------------------------------------

class InProcessRunner implements ServiceRunner {
  readonly started: ServiceSpec[] = [];
  private nextPid = 50_000;
  private readonly crashers = new Map<number, () => Promise<void>>();

  async start(spec: ServiceSpec): Promise<ServiceProcess> {
    const service = new ChurnModelService({ version: spec.version, namespace: spec.namespace });
    const url = await service.listen(spec.port);
    this.started.push(spec);
    let ended: () => void = () => undefined;
    const exited = new Promise<void>((r) => (ended = r));
    let closed = false;
    const stop = async () => {
      if (!closed) {
        closed = true;
        await service.close(0);
        ended();
      }
    };
    const pid = this.nextPid++;
    this.crashers.set(pid, stop);
    return { pid, url, exited, stop };
  }

  /** Ends a process as if it crashed. */
  crash(pid: number): Promise<void> {
    const stop = this.crashers.get(pid);
    if (!stop) throw new Error(`no process ${pid}`);
    return stop();
  }
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

// ---- the controller against a list/watch stream ------------------------------------------------

describe("sandbox controller", function () {
  this.timeout(30_000);
  let api: FakeApiServer;
  let runner: InProcessRunner;
  let stateDir: string;
  let controller: Controller;
  let lines: string[];

  const state = () => readServicesState(stateDir) ?? {};
  const targets = () =>
    JSON.parse(fs.readFileSync(prometheusPaths(stateDir).targetsFile, "utf8")) as {
      targets: string[];
      labels: Record<string, string>;
    }[];
  const servedBy = (ns: string, version: string) => state()[ns]?.version === version && state()[ns];

  async function startController(): Promise<void> {
    controller = new Controller({
      kubeConfig: kubeConfigForServer(api.url),
      namespaces: ["staging", "production"],
      stateDir,
      runner,
      log: (l) => lines.push(l),
      resyncMs: 60_000,
    });
    await controller.start();
  }

  function rollOut(d: Deployment, revisions: [number, string, number][]): void {
    api.setReplicaSets(...revisions.map(([rev, version, ready]) => replicaSet(d, rev, version, ready)));
    api.applyDeployment(d);
  }

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    runner = new InProcessRunner();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "sandbox-controller-"));
    lines = [];
  });

  afterEach(async () => {
    await controller?.stop();
    await api.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("runs a Deployment's version once it has a ready replica, behind the namespace's stable URL", async () => {
    await startController();
    const before = state();
    expect(before.staging).to.include({ version: null, pid: null, backendUrl: null });
    expect((await get(`${before.staging.url}/healthz`)).status).to.equal(503);

    const d = deployment("staging", "churn-model", "1.1.0", { ready: 0 });
    rollOut(d, [[1, "1.1.0", 0]]);
    await new Promise((r) => setTimeout(r, 300));
    expect(runner.started).to.have.length(0);

    rollOut(deployment("staging", "churn-model", "1.1.0"), [[1, "1.1.0", 1]]);
    const record = await until("staging serves 1.1.0", () => servedBy("staging", "1.1.0"));
    expect(record.url).to.equal(before.staging.url);
    expect(record.deployment).to.equal("churn-model");
    const health = await get(`${record.url}/healthz`);
    expect(JSON.parse(health.body)).to.deep.equal({ status: "ok", version: "1.1.0", namespace: "staging" });
    expect(targets()).to.deep.equal([
      {
        targets: [record.backendUrl!.replace("http://", "")],
        labels: { namespace: "staging", version: "1.1.0", deployment: "churn-model" },
      },
    ]);
    expect(state().production.version).to.equal(null);
  });

  it("swaps the process when the ready version changes and keeps the stable URL", async () => {
    const d = deployment("staging", "churn-model", "1.0.0");
    rollOut(d, [[1, "1.0.0", 1]]);
    await startController();
    const first = await until("1.0.0", () => servedBy("staging", "1.0.0"));

    rollOut(deployment("staging", "churn-model", "1.1.0", { generation: 2 }), [
      [1, "1.0.0", 0],
      [2, "1.1.0", 1],
    ]);
    const second = await until("1.1.0", () => servedBy("staging", "1.1.0"));
    expect(second.url).to.equal(first.url);
    expect(second.pid).to.not.equal(first.pid);
    expect(JSON.parse((await get(`${second.url}/healthz`)).body).version).to.equal("1.1.0");
    await controller.idle();
    const refused = await get(first.backendUrl!).then(
      () => "answered",
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(refused, "the 1.0.0 process after the swap").to.equal("ECONNREFUSED");
    expect(targets().map((t) => t.labels.version)).to.deep.equal(["1.1.0"]);
    expect(lines).to.include(
      `staging/churn-model: swapped 1.0.0 → 1.1.0 (pid ${second.pid}) at ${second.backendUrl}`,
    );
  });

  it("keeps serving the old version while the new pods never become ready", async () => {
    const d = deployment("staging", "churn-model", "1.0.0");
    rollOut(d, [[1, "1.0.0", 1]]);
    await startController();
    await until("1.0.0", () => servedBy("staging", "1.0.0"));
    rollOut(
      deployment("staging", "churn-model", "1.2.0", { generation: 2, replicas: 2, updated: 1, ready: 1 }),
      [
        [1, "1.0.0", 1],
        [2, "1.2.0", 0],
      ],
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(state().staging.version).to.equal("1.0.0");
    expect(runner.started.map((s) => s.version)).to.deep.equal(["1.0.0"]);
  });

  it("stops the process when the Deployment loses its ready replicas or goes", async () => {
    rollOut(deployment("staging", "churn-model", "1.0.0"), [[1, "1.0.0", 1]]);
    rollOut(deployment("production", "churn-model", "1.0.0"), [[1, "1.0.0", 1]]);
    await startController();
    await until("both", () => servedBy("staging", "1.0.0") && servedBy("production", "1.0.0"));

    rollOut(deployment("staging", "churn-model", "1.0.0", { ready: 0 }), [[1, "1.0.0", 0]]);
    await until("staging stopped", () => state().staging.version === null);
    api.deleteDeployment("production", "churn-model");
    await until("production stopped", () => state().production.version === null);
    expect(targets()).to.deep.equal([]);
    expect((await get(`${state().production.url}/healthz`)).status).to.equal(503);
  });

  it("does not run a version the catalog lacks, and runs the next one that it has", async () => {
    rollOut(deployment("staging", "churn-model", "7.0.0"), [[1, "7.0.0", 1]]);
    await startController();
    await until("failure logged", () =>
      lines.find((l) => l.startsWith("staging/churn-model: cannot run 7.0.0")),
    );
    api.applyDeployment({
      ...deployment("staging", "churn-model", "7.0.0"),
      metadata: { ...deployment("staging", "churn-model", "7.0.0").metadata, annotations: { touched: "1" } },
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(lines.filter((l) => l.includes("cannot run 7.0.0"))).to.have.length(1);
    expect(state().staging.version).to.equal(null);

    rollOut(deployment("staging", "churn-model", "1.1.0", { generation: 2 }), [
      [1, "7.0.0", 0],
      [2, "1.1.0", 1],
    ]);
    await until("1.1.0", () => servedBy("staging", "1.1.0"));
  });

  it("restarts a crashed process on the same port", async () => {
    rollOut(deployment("staging", "churn-model", "1.0.0"), [[1, "1.0.0", 1]]);
    await startController();
    const first = await until("1.0.0", () => servedBy("staging", "1.0.0"));
    await runner.crash(first.pid!);
    const again = await until("restarted", () => {
      const s = state().staging;
      return s.pid !== null && s.pid !== first.pid && s;
    });
    expect(again.backendUrl).to.equal(first.backendUrl);
    expect(runner.started.map((s) => s.port)).to.deep.equal([runner.started[0].port, runner.started[0].port]);
  });

  it("relists after its watch expired and catches up with what changed meanwhile", async () => {
    rollOut(deployment("staging", "churn-model", "1.0.0"), [[1, "1.0.0", 1]]);
    await startController();
    await until("1.0.0", () => servedBy("staging", "1.0.0"));
    api.hold();
    rollOut(deployment("staging", "churn-model", "1.3.0", { generation: 2 }), [
      [1, "1.0.0", 0],
      [2, "1.3.0", 1],
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(state().staging.version).to.equal("1.0.0");
    api.expire();
    await until("1.3.0 after relist", () => servedBy("staging", "1.3.0"));
  });

  it("keeps a namespace's proxy port across controller restarts and frees every port on stop", async () => {
    rollOut(deployment("staging", "churn-model", "1.0.0"), [[1, "1.0.0", 1]]);
    await startController();
    const first = await until("1.0.0", () => servedBy("staging", "1.0.0"));
    await controller.stop();
    expect(await isPortFree(first.proxyPort)).to.equal(true);
    expect(await isPortFree(Number(new URL(first.backendUrl!).port))).to.equal(true);
    expect(state().staging.version).to.equal(null);

    await startController();
    const second = await until("1.0.0 again", () => servedBy("staging", "1.0.0"));
    expect(second.url).to.equal(first.url);
  });

  it("spreads a namespace's requests over its Deployments in proportion to their ready replicas", async () => {
    const versionsOf = async (n: number): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const { version } = JSON.parse((await get(`${state().production.url}/healthz`)).body) as {
          version: string;
        };
        out[version] = (out[version] ?? 0) + 1;
      }
      return out;
    };
    const weights = () =>
      (state().production?.backends ?? []).map((b) => [b.deployment, b.version, b.weight]);
    const stable = deployment("production", "churn-model", "1.1.0", { replicas: 9 });
    const canary = deployment("production", "churn-model-canary", "1.4.0", { replicas: 1 });
    rollOut(stable, [[1, "1.1.0", 9]]);
    rollOut(canary, [[1, "1.4.0", 1]]);
    await startController();
    await until("both tracks serve", () => weights().length === 2);
    expect(weights()).to.deep.equal([
      ["churn-model", "1.1.0", 9],
      ["churn-model-canary", "1.4.0", 1],
    ]);
    expect(state().production).to.include({ version: "1.1.0", deployment: "churn-model" });
    // Each request is an independent draw (backend-weights.ts): counts of 1000 draws, each
    // within 5 standard deviations of its share.
    const split = await versionsOf(1000);
    expect(split["1.1.0"] + split["1.4.0"]).to.equal(1000);
    expect(split["1.4.0"], "the 1-of-10 canary's requests").to.be.within(52, 148);
    expect(targets().map((t) => [t.labels.deployment, t.labels.version])).to.have.deep.members([
      ["churn-model", "1.1.0"],
      ["churn-model-canary", "1.4.0"],
    ]);

    rollOut(deployment("production", "churn-model", "1.1.0", { replicas: 5 }), [[1, "1.1.0", 5]]);
    rollOut(deployment("production", "churn-model-canary", "1.4.0", { replicas: 5 }), [[1, "1.4.0", 5]]);
    await until("5:5", () => weights().every(([, , w]) => w === 5) && weights());
    const even = await versionsOf(1000);
    expect(even["1.1.0"] + even["1.4.0"]).to.equal(1000);
    expect(even["1.4.0"], "the 5-of-10 canary's requests").to.be.within(420, 580);
    expect(runner.started, "a change of weight restarts no process").to.have.length(2);

    api.deleteDeployment("production", "churn-model-canary");
    await until("the canary gone", () => weights().length === 1);
    expect(await versionsOf(20)).to.deep.equal({ "1.1.0": 20 });
  });

  it("fails to start, naming the namespace, when listing Deployments is forbidden", async () => {
    api.failLists.push(403);
    const failure = await startController().then(
      () => "started",
      (err: Error) => err.message,
    );
    expect(failure).to.match(/^listing Deployments in (staging|production): HTTP 403 refused with 403$/);
  });

  it("retries a failing list with a backoff and then serves what it lists", async () => {
    rollOut(deployment("staging", "churn-model", "1.0.0"), [[1, "1.0.0", 1]]);
    api.failLists.push(500);
    await startController();
    await until("1.0.0", () => servedBy("staging", "1.0.0"));
    expect(
      lines.filter((l) =>
        /^watching Deployments in staging: HTTP 500 refused with 500; retrying in 500 ms$/.test(l),
      ),
    ).to.have.length(1);
  });

  it("takes a new proxy port when the recorded one is in use", async () => {
    const taken = await freePort();
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(taken, "127.0.0.1", () => r()));
    try {
      fs.writeFileSync(
        path.join(stateDir, "services.json"),
        JSON.stringify({ staging: { url: `http://127.0.0.1:${taken}`, proxyPort: taken } }),
      );
      await startController();
      expect(state().staging.proxyPort).to.not.equal(taken);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
