/**
 * A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler, with kwok playing the kubelet of a few
 * simulated nodes (pods become Running and Ready without containers). Certificates are
 * made with openssl; every process is started detached, its PID recorded, so another
 * process (`sandbox down`) can stop exactly what was started.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { sourceDir, toolPath } from "../toolchain/env";
import { makeCertificates, writeKubeconfig } from "./pki";
import { freePort } from "./ports";

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
}

export interface ControlPlane {
  readonly kubeconfig: string;
  readonly server: string;
  readonly processes: readonly ManagedProcess[];
}

export type Log = (message: string) => void;

/** Starts a detached process with output to a log file; it outlives this process. */
export function startDetached(
  name: string,
  cmd: string,
  args: string[],
  logDir: string,
  env?: NodeJS.ProcessEnv,
): ManagedProcess {
  const log = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(log, "a");
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd], env: env ?? process.env });
  fs.closeSync(fd);
  child.unref();
  if (child.pid === undefined) {
    throw new Error(`could not start ${name} (${cmd})`);
  }
  return { name, pid: child.pid, log };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops processes (SIGTERM, then SIGKILL after a grace period), newest first. */
export async function stopProcesses(processes: readonly ManagedProcess[], graceMs = 5000): Promise<void> {
  for (const p of [...processes].reverse()) {
    if (!isAlive(p.pid)) continue;
    try {
      process.kill(p.pid, "SIGTERM");
    } catch {
      continue;
    }
    const deadline = Date.now() + graceMs;
    while (isAlive(p.pid) && Date.now() < deadline) {
      await sleep(100);
    }
    if (isAlive(p.pid)) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Polls `check` until it returns true; fails naming the process and quoting its log. */
async function waitFor(
  what: string,
  proc: ManagedProcess,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(proc.pid)) {
      throw new Error(
        `${proc.name} exited while starting (${what}); last lines of ${proc.log}:\n${tail(proc.log)}`,
      );
    }
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(
    `${proc.name} did not become ready (${what}) within ${timeoutMs / 1000}s; see ${proc.log}:\n${tail(proc.log)}`,
  );
}

/** An HTTPS request to the API server as the sandbox admin. */
export function apiRequest(
  server: string,
  pki: string,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const url = new URL(urlPath, server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ca: fs.readFileSync(path.join(pki, "ca.crt")),
        cert: fs.readFileSync(path.join(pki, "admin.crt")),
        key: fs.readFileSync(path.join(pki, "admin.key")),
        headers: payload
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {},
        timeout: 10_000,
      },
      (res) => {
        let data = "";
        res.on("data", (c: Buffer) => (data += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export interface StartOptions {
  readonly stateDir: string;
  /** Simulated nodes. Default 3 (so production's topology spread has somewhere to go). */
  readonly nodes?: number;
  readonly log: Log;
}

/** Starts the control plane; on any failure stops what it started and rethrows. */
export async function startControlPlane(opts: StartOptions): Promise<ControlPlane> {
  const { stateDir, log } = opts;
  const pki = path.join(stateDir, "pki");
  const logs = path.join(stateDir, "logs");
  fs.mkdirSync(logs, { recursive: true });
  const started: ManagedProcess[] = [];
  const t0 = Date.now();
  const step = (m: string) => log(`${m} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  try {
    makeCertificates(pki);
    step("certificates made");

    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcd = startDetached(
      "etcd",
      toolPath("etcd"),
      [
        "--name=sandbox",
        `--data-dir=${path.join(stateDir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=sandbox=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync=true",
        "--quota-backend-bytes=1073741824",
        "--log-level=warn",
      ],
      logs,
    );
    started.push(etcd);
    await waitFor(
      "etcd /health",
      etcd,
      async () => {
        const res = await fetch(`http://127.0.0.1:${etcdClient}/health`);
        return res.ok;
      },
      30_000,
    );
    step(`etcd ready on 127.0.0.1:${etcdClient}`);

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = startDetached(
      "kube-apiserver",
      toolPath("kube-apiserver"),
      [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${path.join(pki, "apiserver.crt")}`,
        `--tls-private-key-file=${path.join(pki, "apiserver.key")}`,
        `--client-ca-file=${path.join(pki, "ca.crt")}`,
        `--service-account-key-file=${path.join(pki, "sa.pub")}`,
        `--service-account-signing-key-file=${path.join(pki, "sa.key")}`,
        "--service-account-issuer=https://kubernetes.default.svc",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        `--cert-dir=${path.join(stateDir, "apiserver-certs")}`,
        "--endpoint-reconciler-type=none",
        "--v=0",
      ],
      logs,
    );
    started.push(apiserver);
    await waitFor(
      "kube-apiserver /readyz",
      apiserver,
      async () => {
        const res = await apiRequest(server, pki, "GET", "/readyz");
        return res.status === 200;
      },
      120_000,
    );
    step(`kube-apiserver ready at ${server}`);

    const kubeconfig = path.join(stateDir, "kubeconfig");
    writeKubeconfig(kubeconfig, server, pki);

    started.push(
      startDetached(
        "kube-controller-manager",
        toolPath("kube-controller-manager"),
        [
          `--kubeconfig=${kubeconfig}`,
          `--service-account-private-key-file=${path.join(pki, "sa.key")}`,
          `--root-ca-file=${path.join(pki, "ca.crt")}`,
          "--use-service-account-credentials=false",
          "--leader-elect=false",
          "--secure-port=0",
          "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
          "--concurrent-deployment-syncs=5",
        ],
        logs,
      ),
    );
    started.push(
      startDetached(
        "kube-scheduler",
        toolPath("kube-scheduler"),
        [`--kubeconfig=${kubeconfig}`, "--leader-elect=false", "--secure-port=0"],
        logs,
      ),
    );

    for (let i = 0; i < (opts.nodes ?? 3); i++) {
      const name = `kwok-node-${i}`;
      const res = await apiRequest(server, pki, "POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          labels: {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            type: "kwok",
          },
          annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        },
      });
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`creating node ${name} failed: HTTP ${res.status} ${res.body.slice(0, 300)}`);
      }
    }
    const kwok = startDetached(
      "kwok",
      toolPath("kwok"),
      [
        `--kubeconfig=${kubeconfig}`,
        `--config=${path.join(sourceDir(__dirname), "kwok-stages.yaml")}`,
        "--manage-all-nodes=true",
        "--cidr=10.244.0.0/16",
        "--node-ip=10.0.0.1",
      ],
      logs,
    );
    started.push(kwok);
    await waitFor(
      "nodes Ready",
      kwok,
      async () => {
        const res = await apiRequest(server, pki, "GET", "/api/v1/nodes");
        const nodes = (
          JSON.parse(res.body) as {
            items: { status?: { conditions?: { type: string; status: string }[] } }[];
          }
        ).items;
        return (
          nodes.length > 0 &&
          nodes.every((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
        );
      },
      60_000,
    );
    step(`${opts.nodes ?? 3} kwok nodes Ready`);

    for (const p of started) {
      if (!isAlive(p.pid)) throw new Error(`${p.name} exited; see ${p.log}:\n${tail(p.log)}`);
    }
    return { kubeconfig, server, processes: started };
  } catch (err) {
    await stopProcesses(started);
    throw err;
  }
}
