/**
 * The seed's way of shipping a version: `kubectl set image deployment/churn-model …` and
 * `kubectl rollout status`, on a copy of production's Deployment in a namespace of its own
 * (so production's stack and the cluster never disagree). When kubectl is missing or cannot
 * talk to the API server, the same change is made through the API: a read-modify-write of
 * the Deployment's image (GET, then PUT) and a poll of its rollout status by kubectl's rules.
 */
import { execFile } from "child_process";
import * as path from "path";
import { promisify } from "util";
import { apiRequest } from "../sandbox/controlplane";
import type { SandboxState } from "../sandbox/cli";

const execFileAsync = promisify(execFile);

export const SEED_NAMESPACE = "bench-seed";
const NAME = "churn-model";

interface DeploymentObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; generation?: number };
  spec: {
    replicas?: number;
    template: { spec: { containers: { name: string; image: string }[] } };
    [key: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; reason?: string }[];
  };
}

export interface SeedWay {
  /** How the change is made, for the report. */
  readonly method: string;
  /** Sets the Deployment's churn-model image and waits for the rollout to complete. */
  setImage(image: string): Promise<void>;
}

function pkiOf(s: SandboxState): string {
  return path.join(path.dirname(s.kubeconfig), "pki");
}

async function api(s: SandboxState, method: string, urlPath: string, body?: unknown): Promise<string> {
  const res = await apiRequest(s.server, pkiOf(s), method, urlPath, body);
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${method} ${urlPath} answered HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return res.body;
}

const deploymentPath = (ns: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${NAME}`;

/** Whether the rollout is complete, by the rules `kubectl rollout status` applies. */
export function rolloutComplete(d: DeploymentObject): { done: boolean; failed?: string } {
  const st = d.status ?? {};
  if ((d.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { done: false };
  const stalled = st.conditions?.find(
    (c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded",
  );
  if (stalled)
    return { done: false, failed: `deployment "${d.metadata.name}" exceeded its progress deadline` };
  const want = d.spec.replicas ?? 1;
  if ((st.updatedReplicas ?? 0) < want) return { done: false };
  if ((st.replicas ?? 0) > (st.updatedReplicas ?? 0)) return { done: false };
  if ((st.availableReplicas ?? 0) < (st.updatedReplicas ?? 0)) return { done: false };
  return { done: true };
}

async function waitRolledOut(s: SandboxState, ns: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = JSON.parse(await api(s, "GET", deploymentPath(ns))) as DeploymentObject;
    const r = rolloutComplete(d);
    if (r.failed) throw new Error(r.failed);
    if (r.done) return;
    if (Date.now() > deadline)
      throw new Error(`the rollout of ${ns}/${NAME} did not complete within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * Creates the seed's namespace with a copy of production's Deployment (same spec, replicas
 * and rollout strategy) running `image`, and waits until it is rolled out.
 */
export async function createSeedDeployment(s: SandboxState, image: string): Promise<void> {
  const prod = JSON.parse(await api(s, "GET", deploymentPath("production"))) as DeploymentObject;
  await api(s, "POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: SEED_NAMESPACE },
  });
  await api(s, "POST", `/api/v1/namespaces/${SEED_NAMESPACE}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: NAME },
  });
  const spec = JSON.parse(JSON.stringify(prod.spec)) as DeploymentObject["spec"];
  for (const c of spec.template.spec.containers) if (c.name === NAME) c.image = image;
  await api(s, "POST", `/apis/apps/v1/namespaces/${SEED_NAMESPACE}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: NAME, namespace: SEED_NAMESPACE, labels: prod.metadata.labels },
    spec,
  });
  await waitRolledOut(s, SEED_NAMESPACE);
}

export async function deleteSeedNamespace(s: SandboxState): Promise<void> {
  const res = await apiRequest(s.server, pkiOf(s), "DELETE", `/api/v1/namespaces/${SEED_NAMESPACE}`);
  if (res.status !== 200 && res.status !== 202 && res.status !== 404) {
    throw new Error(`DELETE namespace ${SEED_NAMESPACE} answered HTTP ${res.status}`);
  }
}

/** kubectl's client and server versions when it can talk to the sandbox, else why not. */
export async function kubectlVersions(
  s: SandboxState,
  cacheDir: string,
): Promise<{ ok: true; client: string; server: string } | { ok: false; reason: string }> {
  try {
    const { stdout } = await execFileAsync("kubectl", ["version", "-o", "json", "--cache-dir", cacheDir], {
      env: { ...process.env, KUBECONFIG: s.kubeconfig },
      timeout: 30_000,
    });
    const v = JSON.parse(stdout) as {
      clientVersion?: { gitVersion?: string };
      serverVersion?: { gitVersion?: string };
    };
    if (!v.serverVersion?.gitVersion)
      return { ok: false, reason: "kubectl version reported no server version" };
    return { ok: true, client: v.clientVersion?.gitVersion ?? "unknown", server: v.serverVersion.gitVersion };
  } catch (err) {
    const e = err as Error & { code?: string; stderr?: string };
    return {
      ok: false,
      reason:
        e.code === "ENOENT" ? "kubectl is not installed" : (e.stderr?.trim() || e.message).split("\n")[0],
    };
  }
}

/** `kubectl set image` + `kubectl rollout status` on the seed's Deployment. */
export function kubectlWay(s: SandboxState, cacheDir: string, version: string): SeedWay {
  const run = (args: string[]) =>
    execFileAsync("kubectl", [...args, "--namespace", SEED_NAMESPACE, "--cache-dir", cacheDir], {
      env: { ...process.env, KUBECONFIG: s.kubeconfig },
      timeout: 600_000,
    });
  return {
    method: `kubectl ${version}: set image deployment/${NAME} + rollout status`,
    async setImage(image) {
      await run(["set", "image", `deployment/${NAME}`, `${NAME}=${image}`]);
      await run(["rollout", "status", `deployment/${NAME}`, "--timeout=5m"]);
    },
  };
}

/**
 * The same change through the API and a poll of its rollout: GET the Deployment, set the
 * image, PUT it back — again from a fresh GET when the controllers changed it in between
 * (HTTP 409), which a PATCH would not have to do.
 */
export function apiWay(s: SandboxState): SeedWay {
  return {
    method:
      "API: GET + PUT of the Deployment's image (again on a conflict), then its rollout status polled every 100 ms",
    async setImage(image) {
      for (let attempt = 1; ; attempt++) {
        const d = JSON.parse(await api(s, "GET", deploymentPath(SEED_NAMESPACE))) as DeploymentObject;
        for (const c of d.spec.template.spec.containers) if (c.name === NAME) c.image = image;
        const res = await apiRequest(s.server, pkiOf(s), "PUT", deploymentPath(SEED_NAMESPACE), d);
        if (res.status === 200) break;
        if (res.status !== 409 || attempt === 10) {
          throw new Error(
            `PUT ${deploymentPath(SEED_NAMESPACE)} answered HTTP ${res.status}: ${res.body.slice(0, 300)}`,
          );
        }
      }
      await waitRolledOut(s, SEED_NAMESPACE);
    },
  };
}
