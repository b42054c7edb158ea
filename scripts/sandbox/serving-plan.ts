/**
 * What the sandbox controller should run, decided without I/O: the version a Deployment's
 * ready pods run (its newest ReplicaSet with a ready replica) and the start/swap/stop actions
 * that turn the running service processes into the desired ones. The controller
 * (scripts/sandbox/controller.ts) fetches and acts; this file only judges.
 */
import { DIGEST, versionOfLabel } from "../../policy/contract";
import { Deployment, PodTemplate, ReplicaSet } from "./kube";

export const APP_LABEL_SELECTOR = "app.kubernetes.io/name=churn-model";
export const IMAGE_NAME = "churn-model";
const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";

/**
 * The model version an image reference runs: `…/churn-model:<tag>[@digest]` runs the version
 * whose image tag that is (`1.4.2_b7` is 1.4.2+b7, policy/contract/version.ts), and a
 * digest-only `…/churn-model@sha256:…` runs the digest version. Undefined without either.
 */
export function imageVersion(image: string): { name: string; version: string } | undefined {
  const at = image.indexOf("@");
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const last = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = last.lastIndexOf(":");
  if (colon < 0 && at >= 0 && DIGEST.test(image.slice(at + 1)) && last !== "") {
    return { name: last, version: image.slice(at + 1) };
  }
  if (colon <= 0 || colon === last.length - 1) {
    return undefined;
  }
  const tag = last.slice(colon + 1);
  return { name: last.slice(0, colon), version: versionOfLabel(tag) ?? tag };
}

/** The churn-model container's image of a pod template (the one container when it is alone). */
export function templateImage(spec: { readonly template?: PodTemplate } | undefined): string | undefined {
  const containers = spec?.template?.spec?.containers ?? [];
  const named = containers.find((c) => c.image && imageVersion(c.image)?.name === IMAGE_NAME);
  return (named ?? (containers.length === 1 ? containers[0] : undefined))?.image;
}

/** The version a pod template runs: its churn-model container's image version. */
export function templateVersion(spec: { readonly template?: PodTemplate } | undefined): string | undefined {
  const image = templateImage(spec);
  return image ? imageVersion(image)?.version : undefined;
}

export interface DesiredService {
  /** `<namespace>/<deployment>` */
  readonly key: string;
  readonly namespace: string;
  readonly deployment: string;
  readonly version: string;
  /** The image its ready pods run (which model the sandbox serves for it: artifact.ts). */
  readonly image?: string;
  /** The Deployment's ready replicas: its share of the namespace's traffic. */
  readonly readyReplicas: number;
}

export type ServedVersion =
  | { readonly version: string; readonly image?: string }
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
    .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid))
    .filter((rs) => (rs.status?.readyReplicas ?? 0) >= 1)
    .sort((a, b) => revision(b) - revision(a));
  for (const rs of owned) {
    const image = templateImage(rs.spec);
    const version = image ? imageVersion(image)?.version : undefined;
    if (version) {
      return { version, image };
    }
  }
  const s = deployment.status ?? {};
  const rolledOut =
    (s.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === (s.replicas ?? 0) &&
    (s.updatedReplicas ?? 0) >= 1;
  const image = templateImage(deployment.spec);
  const version = image ? imageVersion(image)?.version : undefined;
  if (rolledOut && version) {
    return { version, image };
  }
  return {
    reason: version
      ? "rollout in progress and no ready ReplicaSet found"
      : `no container image of the form …/${IMAGE_NAME}:<version> or …/${IMAGE_NAME}@sha256:<digest>`,
  };
}

function revision(rs: ReplicaSet): number {
  const n = Number(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? "0");
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
