/**
 * The sandbox for real: a kube-apiserver with kwok nodes, Prometheus scraping the service
 * processes the controller runs for each Deployment, and the real engine deploying to it.
 */
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { upsertStack } from "../../scripts/promotion/engine";
import { sandboxDown, sandboxEnv, sandboxStatus, sandboxUp, SandboxState } from "../../scripts/sandbox/cli";
import { apiRequest, isAlive } from "../../scripts/sandbox/controlplane";
import { readControllerProcess } from "../../scripts/sandbox/controller-process";
import { readServicesState } from "../../scripts/sandbox/services-state";
import { readPrometheusState } from "../../scripts/sandbox/prometheus";

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

async function promQuery(
  url: string,
  query: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const u = new URL("/api/v1/query", url);
  u.searchParams.set("query", query);
  const body = (await (await fetch(u)).json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return body.data.result;
}

describe("the sandbox (real control plane, Prometheus, service processes)", function () {
  this.timeout(20 * 60_000);
  let dir: string;
  let s: SandboxState;
  const pki = () => path.join(dir, "cluster", "pki");
  const log: string[] = [];

  before(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-sandbox-"));
    const t0 = Date.now();
    s = await sandboxUp({ dir, trafficRate: 20, log: (l) => log.push(l) });
    console.log(`      sandbox up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  });

  after(async function () {
    if (s) await sandboxDown({ dir, log: () => undefined });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs Kubernetes v1.36.3 with three kwok nodes Ready", async function () {
    const version = JSON.parse((await apiRequest(s.server, pki(), "GET", "/version")).body) as {
      gitVersion: string;
    };
    expect(version.gitVersion).to.equal("v1.36.3");
    const nodes = JSON.parse((await apiRequest(s.server, pki(), "GET", "/api/v1/nodes")).body) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    };
    expect(nodes.items.map((n) => n.metadata.name).sort()).to.deep.equal([
      "kwok-node-0",
      "kwok-node-1",
      "kwok-node-2",
    ]);
    for (const n of nodes.items) {
      expect(n.status.conditions.find((c) => c.type === "Ready")?.status).to.equal("True");
    }
    expect(sandboxStatus(dir)).to.match(/^sandbox: up since/);
  });

  it("is idempotent: a second up returns the running sandbox", async function () {
    const again = await sandboxUp({ dir, log: () => undefined });
    expect(again.server).to.equal(s.server);
    expect(again.controlPlane.map((p) => p.pid)).to.deep.equal(s.controlPlane.map((p) => p.pid));
  });

  it("deploys staging with the real engine, waiting for the Deployment to become ready", async function () {
    const stack = await upsertStack("staging", { projectDir: s.projectDir, env: sandboxEnv(s) });
    const t0 = Date.now();
    const up = await stack.up({ color: "never" });
    console.log(`      pulumi up staging on the sandbox: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    expect(up.summary.result).to.equal("succeeded");
    const d = JSON.parse(
      (await apiRequest(s.server, pki(), "GET", "/apis/apps/v1/namespaces/staging/deployments/churn-model"))
        .body,
    ) as {
      status: { readyReplicas?: number };
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(d.status.readyReplicas).to.equal(1);
    expect(d.spec.template.spec.containers[0].image).to.equal("localhost:5000/ml/churn-model:1.1.0");
    // The pods report the digest they run, as a kubelet would: here a digest of the reference.
    const pods = JSON.parse(
      (
        await apiRequest(
          s.server,
          pki(),
          "GET",
          "/api/v1/namespaces/staging/pods?labelSelector=app.kubernetes.io%2Fname%3Dchurn-model",
        )
      ).body,
    ) as { items: { status: { containerStatuses?: { imageID?: string }[] } }[] };
    const digest = crypto.createHash("sha256").update("localhost:5000/ml/churn-model:1.1.0").digest("hex");
    expect(pods.items.map((p) => p.status.containerStatuses?.[0]?.imageID)).to.deep.equal([
      `localhost:5000/ml/churn-model@sha256:${digest}`,
    ]);
  });

  it("shows the deployed version's series in Prometheus within a few scrapes, with the contract's labels", async function () {
    const deadline = Date.now() + 90_000;
    let requests: { metric: Record<string, string> }[] = [];
    let up: { metric: Record<string, string>; value: [number, string] }[] = [];
    while (Date.now() < deadline) {
      requests = await promQuery(
        s.prometheusUrl,
        'churn_model_requests_total{namespace="staging",version="1.1.0"}',
      );
      up = await promQuery(s.prometheusUrl, 'up{job="churn-model",namespace="staging",version="1.1.0"}');
      if (requests.length > 0 && up.length > 0) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(requests.length).to.be.greaterThan(0);
    expect(requests[0].metric).to.include({ job: "churn-model", namespace: "staging", version: "1.1.0" });
    expect(up[0].value[1]).to.equal("1");
    expect(readServicesState(dir)?.staging.version).to.equal("1.1.0");
  });

  it("fails pulumi up within the custom timeout when the pods never become Ready", async function () {
    const stack = await upsertStack("staging", { projectDir: s.projectDir, env: sandboxEnv(s) });
    await stack.setConfig("churn-model:podLabels", { value: '{"churn-model/sandbox-fault":"not-ready"}' });
    await stack.setConfig("churn-model:readyTimeoutSeconds", { value: "30" });
    await stack.setConfig("churn-model:modelVersion", { value: "1.0.0" });
    const t0 = Date.now();
    let message = "";
    try {
      await stack.up({ color: "never" });
    } catch (err) {
      message = String(err);
    }
    const seconds = (Date.now() - t0) / 1000;
    console.log(`      the failing update ended after ${seconds.toFixed(1)}s`);
    expect(message).to.match(/timed out|Timeout occurred/i);
    expect(message).to.contain("churn-model");
    expect(seconds).to.be.lessThan(240);
    // The old pods keep serving (maxUnavailable 0): staging still answers with 1.1.0.
    expect(readServicesState(dir)?.staging.version).to.equal("1.1.0");
  });

  it("stops everything it started on down and leaves no process or port behind", async function () {
    const pids = [
      ...s.controlPlane.map((p) => p.pid),
      readPrometheusState(dir)!.pid,
      readControllerProcess(dir)!.pid,
      ...Object.values(readServicesState(dir) ?? {}).flatMap((r) => (r.pid ? [r.pid] : [])),
    ];
    const ports = [
      Number(new URL(s.server).port),
      Number(new URL(s.prometheusUrl).port),
      ...Object.values(s.services).map((u) => Number(new URL(u).port)),
    ];
    expect(pids.every(isAlive)).to.equal(true);
    await sandboxDown({ dir, log: () => undefined });
    s = undefined as unknown as SandboxState;
    expect(pids.filter(isAlive)).to.deep.equal([]);
    for (const port of ports) expect(await listening(port), `port ${port}`).to.equal(false);
    expect(fs.existsSync(path.join(dir, "sandbox.json"))).to.equal(false);
  });
});
