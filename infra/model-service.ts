/**
 * The ModelService component (exported with its helpers by infra/index.ts): one constructor
 * declaring the children of both tracks. Its args, annotations and validation are in
 * model-service-args.ts, the pod both tracks run in pod-template.ts, the canary's Deployment
 * in canary.ts, images in image.ts, go-live records in go-live-record.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { canaryDeployment } from "./canary";
import {
  EVIDENCE_ANNOTATION,
  MODEL_VERSION_ANNOTATION,
  ModelServiceArgs,
  POSITION_ANNOTATION,
  validateModelServiceArgs,
  versionLabel,
} from "./model-service-args";
import { scrapeLabels } from "./monitoring";
import { checkedImage, PodSpecArgs, podTemplate } from "./pod-template";
import { goLiveRecordName } from "./go-live-record";

/** The Kubernetes provider's annotation that makes its server-side apply take fields other managers own. */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

export {
  CanaryTrackArgs,
  EVIDENCE_ANNOTATION,
  MODEL_VERSION_ANNOTATION,
  ModelServiceArgs,
  ResourceQuantities,
  versionLabel,
} from "./model-service-args";

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
    validateModelServiceArgs(args);

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
    if (args.promotionPosition !== undefined) {
      annotations[POSITION_ANNOTATION] = args.promotionPosition;
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
            // The HPA and this program co-own .spec.replicas: the autoscaler writes it whenever
            // the declared size leaves its bounds (a canary step shrinks the stable before the
            // HPA's new bounds are applied, its removal grows it back), and server-side apply then
            // refuses the program's next size as a field conflict. The program's size is the
            // HPA's minimum, so forcing it is right (docs/canary.md).
            [PATCH_FORCE_ANNOTATION]: "true",
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

    const goLive = new k8s.core.v1.ConfigMap(
      `${name}-release-${goLiveRecordName(args.modelVersion)}`,
      {
        metadata: {
          name: `${appName}-release-${goLiveRecordName(args.modelVersion)}`,
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
    this.deployedAt = goLive.data.apply((d) => d?.deployedAt ?? "");

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
