/**
 * What a ModelService takes: its args with their documented defaults, the annotations it
 * writes, the version label and the validation that runs before any child is declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { imageRunsVersion } from "./image";

import {
  EVIDENCE_ANNOTATION,
  MODEL_VERSION_ANNOTATION,
  POSITION_ANNOTATION,
  versionLabel,
} from "../policy/contract";

export { EVIDENCE_ANNOTATION, MODEL_VERSION_ANNOTATION, POSITION_ANNOTATION, versionLabel };

export interface ResourceQuantities {
  readonly cpu: string;
  readonly memory: string;
}

export interface ModelServiceArgs {
  /**
   * The service's name: of its Deployment, Service, ServiceAccount, HPA and PDB, and its
   * `app.kubernetes.io/name` label, so two services can share a namespace. Default `churn-model`.
   */
  readonly appName?: string;
  /** Prefix of the service's own labels (`<prefix>/environment`, `<prefix>/track`, …). Default `churn-model`. */
  readonly labelPrefix?: string;
  /** Namespace the service runs in. Required. */
  readonly namespace: string;
  /** Create the namespace (true, the default) or use an existing one. */
  readonly createNamespace?: boolean;
  /** "staging" or "production"; production adds a PodDisruptionBudget and topology spread. Required. */
  readonly environment: "staging" | "production";
  /** Model version served: the image tag (semver) or digest. Required. */
  readonly modelVersion: string;
  /** Image repository, e.g. `<registry>/churn-model`; the image is `<repository>:<modelVersion>` (or `@<digest>`). Required unless `image` is given. */
  readonly repository?: pulumi.Input<string>;
  /** Full image reference instead of the derived one; its tag or digest must be `modelVersion`. Default derived from `repository`. */
  readonly image?: pulumi.Input<string>;
  /** Let an `image` that does not run `modelVersion` through (the policy pack's tests declare one on purpose). Default false. */
  readonly skipImageVersionCheck?: boolean;
  /** Replica bounds; the Deployment starts at `min`, the HPA scales within them. Required. */
  readonly replicas: { readonly min: number; readonly max: number };
  /** Container requests and limits. Required. */
  readonly resources: { readonly requests: ResourceQuantities; readonly limits: ResourceQuantities };
  /** Port the model server listens on. Default 8080. */
  readonly containerPort?: number;
  /** Port of the Service. Default 80. */
  readonly servicePort?: number;
  /** Readiness and liveness probe paths. Default "/healthz" for both. */
  readonly probes?: { readonly readinessPath?: string; readonly livenessPath?: string };
  /** HPA target CPU utilisation, percent. Default 70. */
  readonly targetCpuUtilization?: number;
  /** Signed promotion evidence to carry as the Deployment annotation. Default none. */
  readonly promotionEvidence?: string;
  /** Production's position (JSON, policy/contract/position.ts) for the policy pack, as an annotation. Default none. */
  readonly promotionPosition?: string;
  /** IAM role ARN for the service account (IRSA), when the AWS part is on. Default none. */
  readonly serviceAccountRoleArn?: pulumi.Input<string>;
  /** Seconds the provider waits for the rollout to become ready. Default 600. */
  readonly readyTimeoutSeconds?: number;
  /** Extra pod labels; the service's own labels win over them. Default none. */
  readonly podLabels?: Readonly<Record<string, string>>;
  /** A canary track beside this (stable) one, behind the same Service. Default none. */
  readonly canary?: CanaryTrackArgs;
}

/** The canary track: its own Deployment `<app>-canary`, fixed size, no autoscaler (docs/canary.md). */
export interface CanaryTrackArgs {
  /** Model version the canary serves; must differ from the stable's. Required. */
  readonly modelVersion: string;
  /** Full image reference of that version; its tag or digest must be the canary's version. Default derived from `repository`. */
  readonly image?: pulumi.Input<string>;
  /** Replicas of the canary Deployment, 1..100. Required. */
  readonly replicas: number;
  /** The canary version's signed staging promotion evidence, as the Deployment annotation. Default none. */
  readonly promotionEvidence?: string;
  /** Production's position for the canary's version (JSON), as an annotation. Default none. */
  readonly promotionPosition?: string;
}

/** Every problem with the args at once, before any child is declared. */
export function validateModelServiceArgs(args: ModelServiceArgs): void {
  const problems: string[] = [];
  const { min, max } = args.replicas;
  if (!Number.isInteger(min) || min < 1) problems.push(`replicas.min (${min}) must be an integer ≥ 1`);
  if (!Number.isInteger(max) || max < 1) problems.push(`replicas.max (${max}) must be an integer ≥ 1`);
  if (min > max) problems.push(`replicas.min (${min}) must not exceed replicas.max (${max})`);
  if (args.environment === "production" && min < 2) {
    problems.push(`replicas.min (${min}) must be at least 2 in production`);
  }
  if (args.namespace.trim() === "") problems.push("namespace must not be empty");
  const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;
  if (args.appName !== undefined && !dnsLabel.test(args.appName)) {
    problems.push(`appName (${args.appName}) must be a DNS label of at most 40 characters`);
  }
  if (args.labelPrefix !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(args.labelPrefix)) {
    problems.push(`labelPrefix (${args.labelPrefix}) must be a DNS subdomain`);
  }
  if (args.image === undefined && args.repository === undefined) {
    problems.push("repository or image must be given");
  }
  if (args.canary !== undefined && args.canary.image === undefined && args.repository === undefined) {
    problems.push("repository or canary.image must be given");
  }
  for (const [field, image, version] of [
    ["image", args.image, args.modelVersion],
    ["canary.image", args.canary?.image, args.canary?.modelVersion],
  ] as const) {
    if (
      typeof image === "string" &&
      version !== undefined &&
      !args.skipImageVersionCheck &&
      !imageRunsVersion(image, version)
    ) {
      problems.push(`${field} (${image}) must run version ${version} (its tag or digest)`);
    }
  }
  if (args.modelVersion.trim() === "") problems.push("modelVersion must not be empty");
  if (args.canary !== undefined) {
    const c = args.canary;
    if (args.environment !== "production") problems.push("canary runs in production only");
    if (c.modelVersion === args.modelVersion) {
      problems.push(`canary.modelVersion (${c.modelVersion}) must differ from modelVersion`);
    }
    if (c.modelVersion.trim() === "") problems.push("canary.modelVersion must not be empty");
    if (!Number.isInteger(c.replicas) || c.replicas < 1 || c.replicas > 100) {
      problems.push(`canary.replicas (${c.replicas}) must be an integer from 1 to 100`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`ModelService: ${problems.join("; ")}`);
  }
}
