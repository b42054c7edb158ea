/**
 * The sandbox controller against a real control plane: Deployments created, updated and
 * deleted through kube-apiserver (kwok makes their pods Ready) start, swap and stop real
 * service processes, behind a stable per-namespace URL, and Prometheus scrapes what runs.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { createPrometheusClient, PrometheusClient } from "../../scripts/promotion/prometheus";
import {
  ControllerProcessState,
  startControllerProcess,
  stopControllerProcess,
} from "../../scripts/sandbox/controller-process";
import { readServicesState, ServiceRecord } from "../../scripts/sandbox/services-state";
import {
  apiRequest,
  ControlPlane,
  isAlive,
  startControlPlane,
  stopProcesses,
} from "../../scripts/sandbox/controlplane";
import { isPortFree } from "../../scripts/sandbox/ports";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";
import { versionLabel } from "../../policy/contract";
import { generateDataset } from "../../scripts/sandbox/service/dataset";
import { PrometheusState, startPrometheus, stopPrometheus } from "../../scripts/sandbox/prometheus";

const NAMESPACES = ["staging", "production"];
const APP = { "app.kubernetes.io/name": "churn-model", "churn-model/environment": "staging" };

/** `version` is an image tag, or with `@` a whole digest reference after the repository. */
function deploymentManifest(version: string, podLabels: Record<string, string> = {}): unknown {
  const image = version.startsWith("@")
    ? `registry.sandbox.local/churn-model${version}`
    : `registry.sandbox.local/churn-model:${version}`;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "churn-model", namespace: "staging", labels: APP },
    spec: {
      replicas: 1,
      selector: { matchLabels: APP },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { ...APP, ...podLabels } },
        spec: {
          containers: [{ name: "model", image }],
          nodeSelector: { type: "kwok" },
          tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
        },
      },
    },
  };
}

/** A production track: `churn-model` (stable) or `churn-model-canary`, whose selector adds the track label. */
function trackManifest(name: string, version: string, replicas: number): unknown {
  const labels = { "app.kubernetes.io/name": "churn-model", "churn-model/environment": "production" };
  const own = name.endsWith("-canary") ? { ...labels, "churn-model/track": "canary" } : labels;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "production", labels: own },
    spec: {
      replicas,
      selector: { matchLabels: own },
      template: {
        metadata: { labels: own },
        spec: {
          containers: [{ name: "model", image: `registry.sandbox.local/churn-model:${version}` }],
          nodeSelector: { type: "kwok" },
          tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
        },
      },
    },
  };
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

function postJson(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("sandbox controller on a real control plane", function () {
  this.timeout(300_000);
  let stateDir: string;
  let cluster: ControlPlane;
  let prometheus: PrometheusState;
  let prom: PrometheusClient;
  let controller: ControllerProcessState;
  const pids = new Set<number>();

  const api = (method: string, urlPath: string, body?: unknown) =>
    apiRequest(cluster.server, path.join(stateDir, "cluster", "pki"), method, urlPath, body);
  const staging = (): ServiceRecord | undefined => readServicesState(stateDir)?.staging;
  const servingStaging = (version: string) =>
    until(
      `staging to serve ${version}`,
      async () => {
        const s = staging();
        if (s?.version === version && s.pid !== null) {
          pids.add(s.pid);
          return s;
        }
        return undefined;
      },
      90_000,
    );
  const upSeries = async (version: string) => {
    const r = await prom.instantQuery(
      `up{job="churn-model",namespace="staging",version="${version}"} == 1`,
      new Date(),
    );
    return r.resultType === "vector" && r.samples.length === 1 ? r.samples[0].labels : undefined;
  };

  before(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "sandbox-controller-it-"));
    cluster = await startControlPlane({
      stateDir: path.join(stateDir, "cluster"),
      nodes: 1,
      log: () => undefined,
    });
    for (const ns of NAMESPACES) {
      const res = await api("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns },
      });
      expect(res.status, res.body).to.be.oneOf([201, 409]);
    }
    prometheus = await startPrometheus({ stateDir });
    prom = createPrometheusClient({ baseUrl: prometheus.url });
    controller = await startControllerProcess({
      kubeconfig: cluster.kubeconfig,
      namespaces: NAMESPACES,
      stateDir,
    });
    pids.add(controller.pid);
  });

  after(async () => {
    if (stateDir) {
      await stopControllerProcess(stateDir);
      await stopPrometheus(stateDir);
    }
    if (cluster) await stopProcesses(cluster.processes);
    for (const pid of pids) {
      expect(isAlive(pid), `process ${pid} left running`).to.equal(false);
    }
    if (prometheus) expect(await isPortFree(prometheus.port)).to.equal(true);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("gives every namespace a stable URL that answers 503 while nothing serves it", async () => {
    const state = readServicesState(stateDir);
    expect(Object.keys(state ?? {}).sort()).to.deep.equal(["production", "staging"]);
    for (const ns of NAMESPACES) {
      expect(state![ns]).to.include({ version: null, pid: null });
      expect((await get(`${state![ns].url}/healthz`)).status).to.equal(503);
    }
  });

  it("runs the Deployment's version once its pod is Ready, and Prometheus scrapes it", async () => {
    const res = await api(
      "POST",
      "/apis/apps/v1/namespaces/staging/deployments",
      deploymentManifest("1.0.0"),
    );
    expect(res.status, res.body).to.equal(201);
    const served = await servingStaging("1.0.0");
    const health = JSON.parse((await get(`${served.url}/healthz`)).body) as Record<string, string>;
    expect(health).to.deep.equal({ status: "ok", version: "1.0.0", namespace: "staging" });
    const labels = await until("up for 1.0.0", () => upSeries("1.0.0"), 30_000);
    expect(labels).to.include({ namespace: "staging", version: "1.0.0", deployment: "churn-model" });
  });

  it("swaps to the new version after a rollout, behind the same URL", async () => {
    const before = await servingStaging("1.0.0");
    const res = await api(
      "PUT",
      "/apis/apps/v1/namespaces/staging/deployments/churn-model",
      deploymentManifest("1.1.0"),
    );
    expect(res.status, res.body).to.equal(200);
    const after = await servingStaging("1.1.0");
    expect(after.url).to.equal(before.url);
    expect(after.pid).to.not.equal(before.pid);
    expect(JSON.parse((await get(`${after.url}/healthz`)).body)).to.include({ version: "1.1.0" });
    await until("up for 1.1.0", () => upSeries("1.1.0"), 30_000);
  });

  it("serves a build version and a digest-pinned version with the model the registry holds, under their labels", async () => {
    // The sandbox's registry holds each catalog model under its tag and that tag's digest
    // (scripts/sandbox/artifact.ts); a build of a release serves the release's model.
    const digest = sandboxArtifact("registry.sandbox.local/churn-model:1.4.0").digest;
    for (const [tagOrDigest, version] of [
      ["1.1.0_b7", "1.1.0+b7"],
      [`@${digest}`, digest],
    ]) {
      const res = await api(
        "PUT",
        "/apis/apps/v1/namespaces/staging/deployments/churn-model",
        deploymentManifest(tagOrDigest),
      );
      expect(res.status, res.body).to.equal(200);
      const served = await servingStaging(version);
      expect(JSON.parse((await get(`${served.url}/healthz`)).body)).to.include({ version });
      const labels = await until(`up for ${version}`, () => upSeries(versionLabel(version)), 30_000);
      expect(labels).to.include({ namespace: "staging", version: versionLabel(version) });
      // The model it serves answers under the version's label: 1.4.0's refuses a mailed check.
      const mailed = generateDataset().find((r) => r.features.paymentMethod === "mailed-check")!;
      const status = await postJson(`${served.url}/predict`, mailed.features);
      expect(status, `${version} on a mailed check`).to.equal(tagOrDigest.startsWith("@") ? 500 : 200);
      await until(
        `the ${version} request in Prometheus`,
        async () => {
          const r = await prom.instantQuery(
            `churn_model_requests_total{namespace="staging",version="${versionLabel(version)}",code="${status}"} >= 1`,
            new Date(),
          );
          return r.resultType === "vector" && r.samples.length === 1 ? true : undefined;
        },
        30_000,
      );
    }
    const back = await api(
      "PUT",
      "/apis/apps/v1/namespaces/staging/deployments/churn-model",
      deploymentManifest("1.1.0"),
    );
    expect(back.status, back.body).to.equal(200);
    await servingStaging("1.1.0");
  });

  it("keeps serving the old version while the new pods never become Ready", async () => {
    const res = await api(
      "PUT",
      "/apis/apps/v1/namespaces/staging/deployments/churn-model",
      deploymentManifest("1.2.0", { "churn-model/sandbox-fault": "not-ready" }),
    );
    expect(res.status, res.body).to.equal(200);
    await until(
      "the new ReplicaSet's pod to exist",
      async () => {
        const pods = await api(
          "GET",
          "/api/v1/namespaces/staging/pods?labelSelector=churn-model%2Fsandbox-fault%3Dnot-ready",
        );
        return (JSON.parse(pods.body) as { items: unknown[] }).items.length > 0 ? true : undefined;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 5000));
    expect(staging()?.version).to.equal("1.1.0");
  });

  it("spreads production's requests over a stable and a 1-of-10 canary by ready pods; Prometheus sees both", async () => {
    const weights = () =>
      (readServicesState(stateDir)?.production?.backends ?? []).map((b) => [
        b.deployment,
        b.version,
        b.weight,
      ]);
    for (const [name, version, replicas] of [
      ["churn-model", "1.1.0", 9],
      ["churn-model-canary", "1.4.0", 1],
    ] as const) {
      const res = await api(
        "POST",
        "/apis/apps/v1/namespaces/production/deployments",
        trackManifest(name, version, replicas),
      );
      expect(res.status, res.body).to.equal(201);
    }
    await until(
      "9 stable and 1 canary pods to be Ready and weighted",
      async () =>
        JSON.stringify(weights()) ===
        JSON.stringify([
          ["churn-model", "1.1.0", 9],
          ["churn-model-canary", "1.4.0", 1],
        ])
          ? true
          : undefined,
      120_000,
    );
    const production = readServicesState(stateDir)!.production;
    for (const b of production.backends) pids.add(b.pid);
    const seen: Record<string, number> = {};
    const n = 1000;
    for (let i = 0; i < n; i++) {
      const { version } = JSON.parse((await get(`${production.url}/healthz`)).body) as { version: string };
      seen[version] = (seen[version] ?? 0) + 1;
    }
    // Each request is an independent draw (backend-weights.ts): the canary's count is
    // binomial(1000, 0.1), mean 100 and standard deviation 9.5; 5 deviations either side.
    expect(Object.keys(seen).sort()).to.deep.equal(["1.1.0", "1.4.0"]);
    expect(seen["1.4.0"]).to.be.within(52, 148);
    expect(seen["1.1.0"] + seen["1.4.0"]).to.equal(n);
    for (const [deployment, version] of [
      ["churn-model", "1.1.0"],
      ["churn-model-canary", "1.4.0"],
    ]) {
      const labels = await until(
        `up for production ${version}`,
        async () => {
          const r = await prom.instantQuery(
            `up{job="churn-model",namespace="production",version="${version}"} == 1`,
            new Date(),
          );
          return r.resultType === "vector" && r.samples.length === 1 ? r.samples[0].labels : undefined;
        },
        30_000,
      );
      expect(labels).to.include({ namespace: "production", version, deployment });
    }
    for (const name of ["churn-model-canary", "churn-model"]) {
      const res = await api("DELETE", `/apis/apps/v1/namespaces/production/deployments/${name}`);
      expect(res.status, res.body).to.equal(200);
    }
    await until("production to be empty", async () => (weights().length === 0 ? true : undefined), 60_000);
  });

  it("stops the process when the Deployment is deleted", async () => {
    const serving = await servingStaging("1.1.0");
    const res = await api("DELETE", "/apis/apps/v1/namespaces/staging/deployments/churn-model");
    expect(res.status, res.body).to.equal(200);
    await until("staging to be empty", async () => (staging()?.version === null ? true : undefined), 60_000);
    // The proxy stops routing first, then the process gets SIGTERM: it is gone within its grace period.
    const pid = serving.pid!;
    await until(`process ${pid} to exit`, async () => (isAlive(pid) ? undefined : true), 10_000);
    expect(isAlive(pid)).to.equal(false);
    expect((await get(`${serving.url}/healthz`)).status).to.equal(503);
  });
});
