/**
 * The sandbox's Kubernetes access, on @kubernetes/client-node: the kubeconfig's current
 * context, a list-then-watch cache (informer) of the churn-model Deployments of a namespace,
 * and listing ReplicaSets. The informer watches from the last resourceVersion it saw,
 * reconnects when the stream ends or goes quiet past the client's timeout, and relists when
 * the server answers 410 Gone; any other error stops it and is reported to its `error`
 * handlers (the controller restarts it with a backoff).
 */
import * as fs from "fs";
import * as k8s from "@kubernetes/client-node";

export type Deployment = k8s.V1Deployment;
export type ReplicaSet = k8s.V1ReplicaSet;
export type PodTemplate = k8s.V1PodTemplateSpec;
export type KubeConfig = k8s.KubeConfig;
export type DeploymentInformer = k8s.Informer<Deployment> & k8s.ObjectCache<Deployment>;

/** The kubeconfig file's current context; a missing file or context is named in the error. */
export function loadKubeConfig(file: string): KubeConfig {
  if (!fs.existsSync(file)) {
    throw new Error(`kubeconfig ${file} does not exist`);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  const name = kc.getCurrentContext();
  if (!kc.getContextObject(name)) {
    throw new Error(`kubeconfig ${file}: current-context ${JSON.stringify(name)} is not among its contexts`);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(`kubeconfig ${file}: the cluster of context ${name} is not among its clusters`);
  }
  return kc;
}

/**
 * A kubeconfig for one API server without credentials (a local test server on http; the
 * client refuses plain http unless TLS verification is marked as skipped, which on http
 * there is none of).
 */
export function kubeConfigForServer(server: string): KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "local", server, skipTLSVerify: true }],
    users: [{ name: "anonymous" }],
    contexts: [{ name: "local", cluster: "local", user: "anonymous" }],
    currentContext: "local",
  });
  return kc;
}

/** A list-then-watch cache of the Deployments matching `labelSelector` in `namespace`; call start(). */
export function deploymentInformer(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
): DeploymentInformer {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  return k8s.makeInformer<Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`,
    () => apps.listNamespacedDeployment({ namespace, labelSelector }),
    labelSelector,
  );
}

export async function listReplicaSets(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
): Promise<ReplicaSet[]> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  return (await apps.listNamespacedReplicaSet({ namespace, labelSelector })).items;
}

/** A failed API call or watch in one line: `HTTP <status> <the server's message>` when it has one. */
export function describeKubeError(err: unknown): string {
  const status = httpStatusOf(err);
  if (err instanceof k8s.ApiException) {
    let body: unknown = err.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON: no message to quote
      }
    }
    const message = (body as { message?: unknown } | undefined)?.message;
    return `HTTP ${status}${typeof message === "string" ? ` ${message}` : ""}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return status === undefined ? message : `HTTP ${status} ${message}`;
}

/** The HTTP status of a failed API call or watch, when it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) {
    return err.code;
  }
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}
