/**
 * The ModelService component (exported with its helpers by infra/index.ts). About 440 lines:
 * the args with their documented defaults, one constructor declaring the children of both
 * tracks, the pod template they share and the validation that runs before any child; the
 * canary's Deployment is in canary.ts, images in image.ts, release records in
 * release-record.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { scrapeAnnotations, scrapeLabels } from "./monitoring";
import { canaryDeployment } from "./canary";
import { imageFor, imageRunsVersion } from "./image";
import { releaseRecordName } from "./release-record";

/** Annotation on the Deployment naming the model version it runs (label values cannot hold a digest). */
export const MODEL_VERSION_ANNOTATION = "churn-model/model-version";

/** Annotation on the Deployment that carries the signed promotion evidence, unchanged. */
export const EVIDENCE_ANNOTATION = "churn-model/promotion-evidence";

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
}

/**
 * The churn-model inference service in one namespace: Namespace, ServiceAccount,
 * Deployment, Service, HPA, and in production a PodDisruptionBudget and topology spread.
 */
export class ModelService extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly deployment: k8s.apps.v1.Deployment;
  /** The canary track's Deployment, when `canary` is given. */
  public readonly canary?: k8s.apps.v1.Deployment;
  public readonly service: k8s.core.v1.Service;
  public readonly podLabels: Record<string, string>;
  /** When this version went live here (RFC3339); changes only with the version. */
  public readonly deployedAt: pulumi.Output<string>;
  /** The model version and image the Deployment actually runs (its state, not the config). */
  public readonly modelVersion: pulumi.Output<string>;
  public readonly image: pulumi.Output<string>;

  constructor(name: string, args: ModelServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("churn:k8s:ModelService", name, {}, opts);
    validate(args);

    const production = args.environment === "production";
    const containerPort = args.containerPort ?? 8080;
    const servicePort = args.servicePort ?? 80;
    const appName = args.appName ?? "churn-model";
    const prefix = args.labelPrefix ?? "churn-model";

    const selectorLabels = {
      "app.kubernetes.io/name": appName,
      [`${prefix}/environment`]: args.environment,
    };
    this.podLabels = {
      ...(args.podLabels ?? {}),
      ...selectorLabels,
      "app.kubernetes.io/version": versionLabel(args.modelVersion),
      "app.kubernetes.io/part-of": "churn-model-cd",
      ...scrapeLabels(),
    };
    const image = checkedImage("image", args.image, args.repository, args.modelVersion, args);

    const ns =
      (args.createNamespace ?? true)
        ? new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: args.namespace, labels: { [`${prefix}/environment`]: args.environment } } },
            { parent: this },
          ).metadata.name
        : pulumi.output(args.namespace);
    this.namespace = ns;

    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-serviceaccount`,
      {
        metadata: {
          name: appName,
          namespace: ns,
          labels: selectorLabels,
          annotations: args.serviceAccountRoleArn
            ? { "eks.amazonaws.com/role-arn": args.serviceAccountRoleArn }
            : undefined,
        },
        automountServiceAccountToken: false,
      },
      { parent: this },
    );

    const annotations: Record<string, string> = {};
    if (args.promotionEvidence !== undefined) {
      annotations[EVIDENCE_ANNOTATION] = args.promotionEvidence;
    }

    const pod: PodSpecArgs = {
      environment: args.environment,
      appName,
      containerPort,
      serviceAccountName: serviceAccount.metadata.name,
      selectorLabels,
      probes: args.probes,
      resources: args.resources,
    };
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: {
          name: appName,
          namespace: ns,
          labels: this.podLabels,
          annotations: {
            ...annotations,
            [MODEL_VERSION_ANNOTATION]: args.modelVersion,
            "pulumi.com/timeoutSeconds": String(args.readyTimeoutSeconds ?? 600),
          },
        },
        spec: {
          replicas: args.replicas.min,
          selector: { matchLabels: selectorLabels },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          revisionHistoryLimit: 5,
          template: podTemplate(pod, this.podLabels, args.modelVersion, image),
        },
      },
      { parent: this },
    );

    if (args.canary !== undefined) {
      const canary = args.canary;
      const canaryImage = checkedImage(
        "canary.image",
        canary.image,
        args.repository,
        canary.modelVersion,
        args,
      );
      this.canary = canaryDeployment(`${name}-canary-deployment`, {
        namespace: ns,
        appName,
        trackLabel: `${prefix}/track`,
        stableLabels: this.podLabels,
        selectorLabels,
        canary: args.canary,
        readyTimeoutSeconds: args.readyTimeoutSeconds ?? 600,
        template: (labels) => podTemplate(pod, labels, canary.modelVersion, canaryImage),
        opts: { parent: this },
      });
    }

    const release = new k8s.core.v1.ConfigMap(
      `${name}-release-${releaseRecordName(args.modelVersion)}`,
      {
        metadata: {
          name: `${appName}-release-${releaseRecordName(args.modelVersion)}`,
          namespace: ns,
          labels: { ...selectorLabels, [`${prefix}/release-record`]: "true" },
        },
        data: { modelVersion: args.modelVersion, deployedAt: new Date().toISOString() },
      },
      // Written once the Deployment has rolled out this version (so a refused or failed
      // rollout records nothing), and kept on every later update: a new version is a new
      // record, so deployedAt moves only then.
      { parent: this, ignoreChanges: ["data"], dependsOn: [this.deployment] },
    );
    this.deployedAt = release.data.apply((d) => d?.deployedAt ?? "");

    this.service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: appName, namespace: ns, labels: selectorLabels },
        spec: {
          type: "ClusterIP",
          // Derived from the pod template, so the Service always selects exactly these pods.
          selector: this.deployment.spec.selector.matchLabels,
          ports: [{ name: "http", port: servicePort, targetPort: "http" }],
        },
      },
      { parent: this },
    );

    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-hpa`,
      {
        metadata: { name: appName, namespace: ns, labels: selectorLabels },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.deployment.metadata.name },
          minReplicas: args.replicas.min,
          maxReplicas: args.replicas.max,
          metrics: [
            {
              type: "Resource",
              resource: {
                name: "cpu",
                target: { type: "Utilization", averageUtilization: args.targetCpuUtilization ?? 70 },
              },
            },
          ],
        },
      },
      { parent: this },
    );

    if (production) {
      new k8s.policy.v1.PodDisruptionBudget(
        `${name}-pdb`,
        {
          metadata: { name: appName, namespace: ns, labels: selectorLabels },
          spec: {
            maxUnavailable: 1,
            selector: { matchLabels: this.deployment.spec.selector.matchLabels },
          },
        },
        { parent: this },
      );
    }

    this.modelVersion = this.deployment.metadata.annotations.apply(
      (a) => a?.[MODEL_VERSION_ANNOTATION] ?? "",
    );
    this.image = this.deployment.spec.template.spec.containers.apply((c) => c[0]?.image ?? "");

    this.registerOutputs({
      namespace: this.namespace,
      deployment: this.deployment.metadata.name,
      service: this.service.metadata.name,
      deployedAt: this.deployedAt,
      ...(this.canary !== undefined ? { canary: this.canary.metadata.name } : {}),
    });
  }
}

/**
 * The image of a track: `image` when given (checked to run `version` when known, unless the
 * check is skipped), else derived from `repository`.
 */
function checkedImage(
  field: string,
  image: pulumi.Input<string> | undefined,
  repository: pulumi.Input<string> | undefined,
  version: string,
  args: ModelServiceArgs,
): pulumi.Output<string> {
  if (image === undefined) {
    return pulumi.output(repository as pulumi.Input<string>).apply((repo) => imageFor(repo, version));
  }
  return pulumi.output(image).apply((img) => {
    if (!args.skipImageVersionCheck && !imageRunsVersion(img, version)) {
      throw new Error(`ModelService: ${field} (${img}) must run version ${version} (its tag or digest)`);
    }
    return img;
  });
}

/** What the pods of both tracks share. */
interface PodSpecArgs {
  readonly appName: string;
  readonly environment: "staging" | "production";
  readonly containerPort: number;
  readonly serviceAccountName: pulumi.Input<string>;
  readonly selectorLabels: Record<string, string>;
  readonly probes?: ModelServiceArgs["probes"];
  readonly resources: ModelServiceArgs["resources"];
}

/** The pod template of a track: the same pod for stable and canary, but for labels, version and image. */
function podTemplate(
  pod: PodSpecArgs,
  labels: Record<string, string>,
  modelVersion: string,
  image: pulumi.Input<string>,
): k8s.types.input.core.v1.PodTemplateSpec {
  const { appName, containerPort, selectorLabels } = pod;
  return {
    metadata: { labels, annotations: scrapeAnnotations(containerPort) },
    spec: {
      serviceAccountName: pod.serviceAccountName,
      automountServiceAccountToken: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: "RuntimeDefault" },
      },
      topologySpreadConstraints:
        pod.environment === "production"
          ? [
              {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: selectorLabels },
              },
            ]
          : undefined,
      containers: [
        {
          name: appName,
          image,
          imagePullPolicy: "IfNotPresent",
          args: ["--port", String(containerPort)],
          env: [
            { name: "MODEL_VERSION", value: modelVersion },
            { name: "CHURN_ENVIRONMENT", value: pod.environment },
            { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
          ],
          ports: [{ name: "http", containerPort }],
          readinessProbe: {
            httpGet: { path: pod.probes?.readinessPath ?? "/healthz", port: "http" },
            periodSeconds: 5,
            failureThreshold: 3,
          },
          livenessProbe: {
            httpGet: { path: pod.probes?.livenessPath ?? "/healthz", port: "http" },
            initialDelaySeconds: 10,
            periodSeconds: 10,
          },
          resources: {
            requests: { ...pod.resources.requests },
            limits: { ...pod.resources.limits },
          },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ["ALL"] },
          },
          volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
        },
      ],
      volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
    },
  };
}

/** Label values are limited to 63 characters of [A-Za-z0-9_.-]; a digest is shortened. */
export function versionLabel(version: string): string {
  return version.startsWith("sha256:") ? `sha256-${version.slice(7, 19)}` : version.replace(/\+/g, "_");
}

function validate(args: ModelServiceArgs): void {
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
