/**
 * The stack configuration of the churn-model program, read once into one typed, validated
 * object. Every error names the key (as `churn-model:<key>`) and what is accepted, and is
 * raised before any resource is declared.
 */
import * as path from "path";
import {
  Environment,
  ENVIRONMENT_LABEL,
  TRACK_LABEL,
  ENVIRONMENTS,
  MODEL_NAME,
  modelVersionProblem,
} from "../policy/contract";

import { CanaryConfig, readCanary } from "./canary-config";
import { CHECKOUT } from "./trust-roots";
import { ConfigReader, ConfigSource, isInt } from "./config-reader";

export type { Environment } from "../policy/contract";
export { ENVIRONMENTS, imageFor, modelVersionProblem } from "../policy/contract";
export type { CanaryConfig } from "./canary-config";
export type { ConfigSource } from "./config-reader";

export interface Quantities {
  readonly cpu: string;
  readonly memory: string;
}

export interface AwsConfig {
  /** Declare the AWS part (registry, artifact bucket, IAM role). Default false. */
  readonly enabled: boolean;
  /** AWS region. Default "eu-west-1". */
  readonly region: string;
  /**
   * Who owns the shared ECR repository: "self" creates it in this stack (staging does);
   * a stack name ("staging") references that stack's `registryUrl` output. Default:
   * "self" in staging, "staging" in production.
   */
  readonly registryOwner: string;
  /** The EKS cluster's OIDC provider ARN and issuer host, for the service account's IAM role. */
  readonly oidcProviderArn?: string;
  readonly oidcIssuer?: string;
}

export interface StackConfig {
  readonly environment: Environment;
  readonly namespace: string;
  /** Create the namespace (default) or use an existing one. */
  readonly createNamespace: boolean;
  readonly modelVersion: string;
  /** Container registry prefix, e.g. "registry.example.com/ml" (ignored when AWS owns it). */
  readonly registry: string;
  readonly replicas: { readonly min: number; readonly max: number };
  readonly resources: { readonly requests: Quantities; readonly limits: Quantities };
  readonly containerPort: number;
  readonly servicePort: number;
  readonly probes: { readonly readinessPath: string; readonly livenessPath: string };
  readonly targetCpuUtilization: number;
  readonly prometheusUrl: string;
  /** Where clients reach the service; default the in-cluster DNS name of the Service. */
  readonly serviceUrl?: string;
  /** Signed promotion evidence (JSON), written by the promotion script; production only. */
  readonly promotionEvidence?: string;
  /** SPKI PEM of the Ed25519 key that verifies promotion evidence. */
  readonly evidencePublicKey?: string;
  /**
   * Versions an operator revokes (`npm run promote -- revoke`), production only: recorded in
   * production's position, which keeps them even when this key is edited (position.ts).
   */
  readonly revokeVersions: readonly string[];
  /** Policy-config file with the promotion thresholds; default policy/config/<environment>.json. */
  readonly thresholdsFile: string;
  /** Render manifests into this directory instead of applying them to a cluster. */
  readonly renderYamlToDirectory?: string;
  /** Seconds the provider waits for the Deployment to become ready. Default 600. */
  readonly readyTimeoutSeconds: number;
  /** Extra pod labels (team, cost centre, …); they cannot override the service's own labels. */
  readonly podLabels: Readonly<Record<string, string>>;
  readonly aws: AwsConfig;
  /** A canary beside the stable version (production only); absent: production as without canaries. */
  readonly canary?: CanaryConfig;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const CPU = /^([0-9]+m|[0-9]+(\.[0-9]+)?)$/;
const MEMORY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$/;
const HTTP_PATH = /^\/[A-Za-z0-9._~\-/]*$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const REGISTRY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

/** The image repository's last segment: the model's name. */
export const IMAGE_NAME = MODEL_NAME;

function quantities(r: ConfigReader, key: string, obj: Record<string, unknown>, def: Quantities): Quantities {
  const given = Object.keys(obj).length > 0;
  const src: Record<string, unknown> = given ? obj : { ...def };
  const cpu = r.field(
    key,
    src,
    "cpu",
    (v) => typeof v === "string" && CPU.test(v),
    'a CPU quantity like "250m" or "1"',
  );
  const memory = r.field(
    key,
    src,
    "memory",
    (v) => typeof v === "string" && MEMORY.test(v),
    'a memory quantity like "256Mi"',
  );
  return { cpu: (cpu as string) ?? def.cpu, memory: (memory as string) ?? def.memory };
}

/** Reads and validates the whole stack configuration; throws one ConfigError listing every problem. */
export function readStackConfig(src: ConfigSource, repoRoot = CHECKOUT): StackConfig {
  const r = new ConfigReader("churn-model", src);
  const environment = r.oneOf("environment", ENVIRONMENTS);
  const namespace =
    r.string("namespace", {
      default: environment,
      pattern: DNS_LABEL,
      accepted: "a DNS label (lower-case letters, digits and '-', at most 63 characters)",
    }) ?? "invalid";

  const modelVersion = r.raw("modelVersion");
  if (modelVersion === undefined) {
    r.problems.push(
      "churn-model:modelVersion is required (a semantic version like 1.4.2 or sha256:<digest>)",
    );
  } else {
    const problem = modelVersionProblem(modelVersion);
    if (problem) r.problems.push(`churn-model:modelVersion ${problem} (got ${JSON.stringify(modelVersion)})`);
  }

  const registry = r.string("registry", {
    pattern: REGISTRY,
    accepted: 'a registry prefix like "registry.example.com/ml" (host[:port][/path], lower case)',
  });

  const rep = r.object("replicas");
  const min = r.field("replicas", rep, "min", isInt(1, 100), "an integer from 1 to 100") as
    | number
    | undefined;
  const max = r.field("replicas", rep, "max", isInt(1, 100), "an integer from 1 to 100") as
    | number
    | undefined;
  if (min !== undefined && max !== undefined && min > max) {
    r.problems.push(`churn-model:replicas.min (${min}) must not exceed churn-model:replicas.max (${max})`);
  }
  if (environment === "production" && min !== undefined && min < 2) {
    r.problems.push(`churn-model:replicas.min must be at least 2 in production (got ${min})`);
  }

  const res = r.object("resources");
  const requests = quantities(r, "resources.requests", (res.requests ?? {}) as Record<string, unknown>, {
    cpu: "250m",
    memory: "256Mi",
  });
  const limits = quantities(r, "resources.limits", (res.limits ?? {}) as Record<string, unknown>, {
    cpu: "1",
    memory: "512Mi",
  });

  const probes = r.object("probes");
  const pathCheck = (v: unknown) => typeof v === "string" && HTTP_PATH.test(v);
  const pathAccepted = 'an absolute HTTP path like "/healthz"';
  const readinessPath = (
    probes.readinessPath === undefined
      ? "/healthz"
      : r.field("probes", probes, "readinessPath", pathCheck, pathAccepted)
  ) as string | undefined;
  const livenessPath = (
    probes.livenessPath === undefined
      ? "/healthz"
      : r.field("probes", probes, "livenessPath", pathCheck, pathAccepted)
  ) as string | undefined;

  const containerPort = r.int("containerPort", 8080, 1024, 65535);
  const servicePort = r.int("servicePort", 80, 1, 65535);
  const targetCpuUtilization = r.int("targetCpuUtilization", 70, 1, 100);
  const readyTimeoutSeconds = r.int("readyTimeoutSeconds", 600, 10, 3600);

  const prometheusUrl = r.string("prometheusUrl", {
    pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/,
    accepted: "an http(s) URL",
  });
  const serviceUrl = r.raw("serviceUrl");
  if (serviceUrl !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(serviceUrl)) {
    r.problems.push(`churn-model:serviceUrl must be an http(s) URL (got ${JSON.stringify(serviceUrl)})`);
  }

  const promotionEvidence = r.raw("promotionEvidence");
  if (promotionEvidence !== undefined && environment === "staging") {
    r.problems.push("churn-model:promotionEvidence belongs to production only; staging takes no evidence");
  }
  const revokeVersions = revokeVersionsOf(r.raw("revokeVersions"), environment, r.problems);
  const evidencePublicKey = r.raw("evidencePublicKey");
  if (evidencePublicKey !== undefined && !evidencePublicKey.includes("BEGIN PUBLIC KEY")) {
    r.problems.push(
      "churn-model:evidencePublicKey must be an SPKI PEM public key (-----BEGIN PUBLIC KEY-----)",
    );
  }
  const thresholdsFile = path.resolve(
    repoRoot,
    r.raw("thresholdsFile") ?? path.join("policy", "config", `${environment ?? "production"}.json`),
  );

  const awsRaw = r.object("aws");
  const awsEnabled = awsRaw.enabled ?? false;
  if (typeof awsEnabled !== "boolean") {
    r.problems.push(`churn-model:aws.enabled must be true or false (got ${JSON.stringify(awsEnabled)})`);
  }
  const registryOwner = awsRaw.registryOwner ?? (environment === "staging" ? "self" : "staging");
  if (
    typeof registryOwner !== "string" ||
    !/^(self|[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2})$/.test(registryOwner)
  ) {
    r.problems.push(
      `churn-model:aws.registryOwner must be "self" or a stack name like "staging" (got ${JSON.stringify(registryOwner)})`,
    );
  }
  const region = awsRaw.region ?? "eu-west-1";
  if (typeof region !== "string" || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    r.problems.push(
      `churn-model:aws.region must be an AWS region like eu-west-1 (got ${JSON.stringify(region)})`,
    );
  }
  for (const k of ["oidcProviderArn", "oidcIssuer"] as const) {
    if (awsRaw[k] !== undefined && typeof awsRaw[k] !== "string") {
      r.problems.push(`churn-model:aws.${k} must be a string`);
    }
  }

  const podLabelsRaw = r.object("podLabels");
  const podLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(podLabelsRaw)) {
    if (
      !LABEL_KEY.test(k) ||
      k.startsWith("app.kubernetes.io/") ||
      k === ENVIRONMENT_LABEL ||
      k === TRACK_LABEL
    ) {
      r.problems.push(
        `churn-model:podLabels key ${JSON.stringify(k)} must be a label key ([prefix/]name) other than the service's own app.kubernetes.io/*, churn-model/environment and churn-model/track labels`,
      );
    } else if (typeof v !== "string" || !LABEL_VALUE.test(v)) {
      r.problems.push(
        `churn-model:podLabels.${k} must be a label value (at most 63 characters of letters, digits, '-', '_', '.') (got ${JSON.stringify(v)})`,
      );
    } else {
      podLabels[k] = v;
    }
  }
  const canary = readCanary(r, environment, modelVersion);
  const createNamespace = r.bool("createNamespace", true);
  const renderYamlToDirectory = r.raw("renderYamlToDirectory");
  if (r.problems.length > 0) {
    throw new ConfigError(`invalid stack configuration:\n  - ${r.problems.join("\n  - ")}`);
  }
  return {
    environment: environment!,
    namespace,
    createNamespace,
    modelVersion: modelVersion!,
    registry: registry!,
    replicas: { min: min!, max: max! },
    resources: { requests, limits },
    containerPort,
    servicePort,
    probes: { readinessPath: readinessPath!, livenessPath: livenessPath! },
    targetCpuUtilization,
    prometheusUrl: prometheusUrl!,
    serviceUrl,
    promotionEvidence,
    evidencePublicKey,
    revokeVersions,
    thresholdsFile,
    renderYamlToDirectory,
    readyTimeoutSeconds,
    podLabels,
    aws: {
      enabled: awsEnabled === true,
      region: region as string,
      registryOwner: registryOwner as string,
      oidcProviderArn: awsRaw.oidcProviderArn as string | undefined,
      oidcIssuer: awsRaw.oidcIssuer as string | undefined,
    },
    ...(canary !== undefined ? { canary } : {}),
  };
}

/** `churn-model:revokeVersions`: a JSON list of model versions, production only; [] when unset. */
function revokeVersionsOf(
  raw: string | undefined,
  environment: string | undefined,
  problems: string[],
): string[] {
  if (raw === undefined) return [];
  const at = "churn-model:revokeVersions";
  if (environment !== "production") {
    problems.push(`${at} belongs to production only`);
    return [];
  }
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    list = undefined;
  }
  if (
    !Array.isArray(list) ||
    list.some((v) => typeof v !== "string" || modelVersionProblem(v) !== undefined)
  ) {
    problems.push(`${at} must be a JSON list of model versions (got ${JSON.stringify(raw)})`);
    return [];
  }
  return list as string[];
}
