/**
 * The pod both tracks of a ModelService run (the stable Deployment and the canary's): the
 * image a track runs, checked against its version, and the pod template, the same for both
 * tracks but for labels, version and image.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageFor, imageRunsVersion } from "./image";
import type { ModelServiceArgs } from "./model-service-args";
import { scrapeAnnotations } from "./monitoring";

/**
 * The image of a track: `image` when given (checked to run `version` when known, unless the
 * check is skipped), else derived from `repository`.
 */
export function checkedImage(
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
export interface PodSpecArgs {
  readonly appName: string;
  readonly environment: "staging" | "production";
  readonly containerPort: number;
  readonly serviceAccountName: pulumi.Input<string>;
  readonly selectorLabels: Record<string, string>;
  readonly probes?: ModelServiceArgs["probes"];
  readonly resources: ModelServiceArgs["resources"];
}

/** The pod template of a track: the same pod for stable and canary, but for labels, version and image. */
export function podTemplate(
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
