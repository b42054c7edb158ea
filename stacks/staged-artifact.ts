/**
 * The artifact a stack's pods actually run, read from the cluster after the Deployment rolled
 * out: the `imageID` the kubelet reports in each pod's container status (registry, repository
 * and the digest it pulled), never the image the config names. It is the stack output
 * `artifact` the promotion signs into the evidence (docs/evidence-format.md, "The artifact").
 */
import * as k8s from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import {
  APP_NAME_LABEL,
  APP_VERSION_LABEL,
  Artifact,
  artifactOfImageId,
  TRACK_LABEL,
  versionLabel,
} from "../policy/contract";

/** What artifactOfPods reads of a pod. */
export interface PodFacts {
  readonly metadata?: {
    readonly name?: string;
    readonly labels?: Record<string, string>;
    readonly deletionTimestamp?: unknown;
  };
  readonly status?: {
    readonly containerStatuses?: readonly { readonly name: string; readonly imageID?: string }[];
  };
}

/**
 * The one artifact the stable pods of `version` run (container `container`, pods not being
 * deleted, not the canary track), or why there is none: no such pod reports an imageID with a
 * registry and digest, or they run different digests (a tag pushed again during the rollout).
 */
export function artifactOfPods(
  pods: readonly PodFacts[],
  version: string,
  container: string,
): Artifact | string {
  const label = versionLabel(version);
  const running = pods.filter(
    (p) =>
      p.metadata?.deletionTimestamp == null &&
      p.metadata?.labels?.[APP_VERSION_LABEL] === label &&
      p.metadata?.labels?.[TRACK_LABEL] === undefined,
  );
  const found = new Map<string, Artifact>();
  const unread: string[] = [];
  for (const pod of running) {
    const id = pod.status?.containerStatuses?.find((c) => c.name === container)?.imageID ?? "";
    const artifact = artifactOfImageId(id);
    if (artifact === undefined) unread.push(`${pod.metadata?.name ?? "?"} (imageID ${JSON.stringify(id)})`);
    else found.set(`${artifact.registry}/${artifact.repository}@${artifact.digest}`, artifact);
  }
  if (unread.length > 0 || found.size === 0) {
    return running.length === 0
      ? `no running pod of version ${version} reports the image it runs`
      : `pods of version ${version} report no registry and digest in their imageID: ${unread.join(", ")}`;
  }
  if (found.size > 1) {
    return `pods of version ${version} run different images: ${[...found.keys()].join(", ")}; roll the Deployment so one runs`;
  }
  return [...found.values()][0];
}

const ATTEMPTS = 5;
const PAUSE_MS = 2000;

/** Lists the app's pods in `namespace` with the kubeconfig the Kubernetes provider uses. */
async function listPods(namespace: string, app: string): Promise<PodFacts[]> {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedPod({ namespace, labelSelector: `${APP_NAME_LABEL}=${app}` });
  return list.items as PodFacts[];
}

/**
 * The artifact the stack's pods run, once the Deployment rolled out: `status` is its status,
 * which the engine resolves only then (during a preview it is unknown, and so is this; a
 * Deployment without a status, as rendered manifests are, gives undefined). Throws, failing
 * the update, when the pods name none or several: the promotion must not sign a guess.
 */
export function stagedArtifact(
  status: pulumi.Output<unknown>,
  namespace: pulumi.Input<string>,
  version: string,
  app: string,
  list: (namespace: string, app: string) => Promise<PodFacts[]> = listPods,
): pulumi.Output<Artifact | undefined> {
  return pulumi.all([status, namespace]).apply(async ([deployed, ns]) => {
    if (deployed === undefined || deployed === null) return undefined;
    let why = "";
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      let pods: PodFacts[];
      try {
        pods = await list(ns, app);
      } catch (err) {
        throw new Error(
          `cannot read the image digest staging runs: listing the pods of namespace ${ns} failed: ${(err as Error).message}`,
        );
      }
      const found = artifactOfPods(pods, version, app);
      if (typeof found !== "string") return found;
      why = found;
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
    throw new Error(`cannot read the image digest ${ns} runs: ${why}`);
  });
}
