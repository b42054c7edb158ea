/**
 * Kubernetes workloads as policies see them: the pod template of each workload kind, its
 * containers, image references, and which workloads are the churn-model service in which
 * environment.
 */
import {
  APP_NAME_LABEL,
  CANARY_TRACK,
  ENVIRONMENT_LABEL,
  MODEL_NAME,
  PRODUCTION_NAMESPACE,
  TRACK_LABEL,
  versionOfTag,
} from "../contract";
import { isUnknownValueError, list, orWhenUnknown, record, text } from "./values";

export { APP_NAME_LABEL, DIGEST, ENVIRONMENT_LABEL, MODEL_NAME, SEMVER, TRACK_LABEL } from "../contract";

export const DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment";

interface WorkloadKind {
  /** The Kubernetes kind, used in messages. */
  readonly kind: string;
  /** Path from the resource to its pod template ({metadata, spec}); [] for a Pod. */
  readonly template: readonly string[];
  /** Serves traffic for as long as it runs (needs probes). */
  readonly longRunning: boolean;
}

/** Every resource type that runs pods, by Pulumi type token. */
export const WORKLOAD_KINDS: Readonly<Record<string, WorkloadKind>> = {
  [DEPLOYMENT_TYPE]: { kind: "Deployment", template: ["spec", "template"], longRunning: true },
  "kubernetes:apps/v1:StatefulSet": {
    kind: "StatefulSet",
    template: ["spec", "template"],
    longRunning: true,
  },
  "kubernetes:apps/v1:DaemonSet": { kind: "DaemonSet", template: ["spec", "template"], longRunning: true },
  "kubernetes:apps/v1:ReplicaSet": { kind: "ReplicaSet", template: ["spec", "template"], longRunning: true },
  "kubernetes:core/v1:Pod": { kind: "Pod", template: [], longRunning: true },
  "kubernetes:batch/v1:Job": { kind: "Job", template: ["spec", "template"], longRunning: false },
  "kubernetes:batch/v1:CronJob": {
    kind: "CronJob",
    template: ["spec", "jobTemplate", "spec", "template"],
    longRunning: false,
  },
};

export interface Container {
  /** `container "name" in Deployment "x"`, the subject of every container message. */
  readonly label: string;
  readonly name: string;
  readonly props: Record<string, unknown>;
  readonly init: boolean;
}

export interface Workload {
  readonly kind: string;
  readonly longRunning: boolean;
  /** `Deployment "churn-model"`: metadata.name when known, else the Pulumi resource name. */
  readonly display: string;
  readonly props: Record<string, unknown>;
  readonly metadata: Record<string, unknown> | undefined;
  /** The pod spec (for a Pod, its spec). */
  readonly podSpec: Record<string, unknown> | undefined;
  /** The pod template's metadata (for a Pod, its metadata). */
  readonly podMetadata: Record<string, unknown> | undefined;
}

/** The workload view of a resource, or undefined when the type runs no pods. */
export function workloadOf(
  type: string,
  props: Record<string, unknown>,
  pulumiName: string,
): Workload | undefined {
  const kind = WORKLOAD_KINDS[type];
  if (kind === undefined) {
    return undefined;
  }
  const name = orWhenUnknown(() => text(record(props.metadata)?.name), undefined) ?? pulumiName;
  const display = `${kind.kind} "${name}"`;
  const template = (): Record<string, unknown> | undefined => {
    let t: Record<string, unknown> | undefined = props;
    for (const step of kind.template) {
      t = record(t?.[step]);
    }
    return t;
  };
  return {
    kind: kind.kind,
    longRunning: kind.longRunning,
    display,
    props,
    get metadata() {
      return record(props.metadata);
    },
    get podSpec() {
      return record(template()?.spec);
    },
    get podMetadata() {
      return record(template()?.metadata);
    },
  };
}

/** The workload's containers, then its init containers. */
export function containersOf(w: Workload): Container[] {
  const out: Container[] = [];
  const add = (items: unknown, init: boolean) => {
    let i = 0;
    for (const item of list(items)) {
      const props = record(item) ?? {};
      const name = orWhenUnknown(() => text(props.name), undefined) ?? `#${i}`;
      const what = init ? "init container" : "container";
      out.push({ label: `${what} "${name}" in ${w.display}`, name, props, init });
      i++;
    }
  };
  add(w.podSpec?.containers, false);
  add(w.podSpec?.initContainers, true);
  return out;
}

/** A label of the workload itself (metadata.labels). */
export function labelOf(w: Workload, key: string): string | undefined {
  return text(record(w.metadata?.labels)?.[key]);
}

/** A parsed image reference: `[registry/]path/name[:tag][@digest]`. */
export interface ImageRef {
  /** Everything before the tag and digest, e.g. `registry.example.com/ml/churn-model`. */
  readonly repository: string;
  /** The registry host[:port], when the reference names one. */
  readonly registry: string | undefined;
  /** The last path segment, e.g. `churn-model`. */
  readonly name: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

/** Parses an image reference by the Docker rules, or returns undefined for an empty or malformed one. */
export function parseImage(ref: string): ImageRef | undefined {
  if (ref.trim() !== ref || ref === "" || /\s/.test(ref)) {
    return undefined;
  }
  const at = ref.indexOf("@");
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const slash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const repository = colon > slash ? named.slice(0, colon) : named;
  const segments = repository.split("/");
  if (segments.some((s) => s === "") || tag === "" || digest === "") {
    return undefined;
  }
  const first = segments[0];
  const registry =
    segments.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")
      ? first
      : undefined;
  return { repository, registry, name: segments[segments.length - 1], tag, digest };
}

/**
 * The model version an image runs (policy/contract/version.ts): the version its tag stands
 * for (`1.4.2_b7` → `1.4.2+b7`, else the tag as it is), also when a digest pins it
 * (`:1.4.2@sha256:…`, how production runs a semver); without a tag, its digest.
 */
export function imageVersion(ref: ImageRef): string | undefined {
  if (ref.tag !== undefined) return versionOfTag(ref.tag) ?? ref.tag;
  return ref.digest;
}

/**
 * Whether the workload is the churn-model service: named churn-model, labelled
 * app.kubernetes.io/name=churn-model, or running a churn-model image. A rename cannot hide
 * it while it runs the image. Throws UnknownValueError when no known signal says yes and
 * some signal is unknown during preview.
 */
export function isChurnModelWorkload(w: Workload): boolean {
  let unknown: unknown;
  const holds = (signal: () => boolean): boolean => {
    try {
      return signal();
    } catch (err) {
      if (!isUnknownValueError(err)) {
        throw err;
      }
      unknown ??= err;
      return false;
    }
  };
  const runsModelImage = (c: Container) => {
    const image = text(c.props.image);
    return image !== undefined && parseImage(image)?.name === MODEL_NAME;
  };
  if (
    holds(() => text(w.metadata?.name) === MODEL_NAME) ||
    holds(() => labelOf(w, APP_NAME_LABEL) === MODEL_NAME) ||
    holds(() => text(record(w.podMetadata?.labels)?.[APP_NAME_LABEL]) === MODEL_NAME) ||
    holds(() => containersOf(w).some((c) => holds(() => runsModelImage(c))))
  ) {
    return true;
  }
  if (unknown !== undefined) {
    throw unknown;
  }
  return false;
}

/**
 * Whether the workload is held to production rules: everything in production's namespace, and
 * everything else not labelled churn-model/environment=staging (a missing label counts as
 * production). Throws UnknownValueError when the namespace or label is unknown during preview.
 */
export function isProduction(w: Workload): boolean {
  return namespaceOf(w.props) === PRODUCTION_NAMESPACE || labelOf(w, ENVIRONMENT_LABEL) !== "staging";
}

/**
 * Whether a workload is a canary track: its pods are labelled `churn-model/track: canary` and
 * its selector selects on that label (so it can never own the stable's pods).
 */
export function isCanaryTrack(w: Workload): boolean {
  const podLabel = text(record(w.podMetadata?.labels)?.[TRACK_LABEL]);
  const selector = text(record(record(record(w.props.spec)?.selector)?.matchLabels)?.[TRACK_LABEL]);
  return podLabel === CANARY_TRACK && selector === CANARY_TRACK;
}

/** The workload's namespace ("" when unset, i.e. the provider's default). */
export function namespaceOf(props: Record<string, unknown>): string {
  return text(record(props.metadata)?.namespace) ?? "";
}
