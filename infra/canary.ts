/**
 * The canary track of the model service: a second Deployment `<app>-canary` beside the stable
 * one, running its own version with the same pod, behind the same Service. Like Argo Rollouts'
 * basic canary, both tracks carry the Service's selector labels, so traffic splits by ready
 * pods; the canary's own selector adds the track label, so its ReplicaSets never select stable
 * pods. It has a fixed size and no autoscaler; the PodDisruptionBudget of the service selects
 * both tracks. See docs/canary.md.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  CanaryTrackArgs,
  EVIDENCE_ANNOTATION,
  MODEL_VERSION_ANNOTATION,
  POSITION_ANNOTATION,
  versionLabel,
} from "./model-service-args";
import { CANARY_TRACK, TRACK_LABEL } from "../policy/contract";

/** Pod label naming the track; only canary pods carry it (the stable's pods stay as they were). */
export { CANARY_TRACK, TRACK_LABEL } from "../policy/contract";

export interface CanaryDeploymentArgs {
  readonly namespace: pulumi.Input<string>;
  /** The service's name, e.g. `churn-model`; the Deployment is `<appName>-canary`. */
  readonly appName: string;
  /** The pod label naming the track; default TRACK_LABEL. */
  readonly trackLabel?: string;
  /** The stable pods' labels; the canary's are these with its version and the track label. */
  readonly stableLabels: Record<string, string>;
  /** The Service's selector (both tracks). */
  readonly selectorLabels: Record<string, string>;
  readonly canary: CanaryTrackArgs;
  readonly readyTimeoutSeconds: number;
  /** The pod template for the given labels (the stable's pod, at the canary's version and image). */
  readonly template: (labels: Record<string, string>) => k8s.types.input.core.v1.PodTemplateSpec;
  readonly opts: pulumi.CustomResourceOptions;
}

/** The canary pods' labels: the stable's, with the canary's version and the track label. */
export function canaryPodLabels(
  stableLabels: Record<string, string>,
  version: string,
  trackLabel: string = TRACK_LABEL,
): Record<string, string> {
  return { ...stableLabels, "app.kubernetes.io/version": versionLabel(version), [trackLabel]: CANARY_TRACK };
}

export function canaryDeployment(name: string, args: CanaryDeploymentArgs): k8s.apps.v1.Deployment {
  const trackLabel = args.trackLabel ?? TRACK_LABEL;
  const labels = canaryPodLabels(args.stableLabels, args.canary.modelVersion, trackLabel);
  const annotations: Record<string, string> = {
    [MODEL_VERSION_ANNOTATION]: args.canary.modelVersion,
    "pulumi.com/timeoutSeconds": String(args.readyTimeoutSeconds),
  };
  if (args.canary.promotionEvidence !== undefined) {
    annotations[EVIDENCE_ANNOTATION] = args.canary.promotionEvidence;
  }
  if (args.canary.promotionPosition !== undefined) {
    annotations[POSITION_ANNOTATION] = args.canary.promotionPosition;
  }
  return new k8s.apps.v1.Deployment(
    name,
    {
      metadata: { name: `${args.appName}-canary`, namespace: args.namespace, labels, annotations },
      spec: {
        replicas: args.canary.replicas,
        selector: { matchLabels: { ...args.selectorLabels, [trackLabel]: CANARY_TRACK } },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        revisionHistoryLimit: 2,
        template: args.template(labels),
      },
    },
    args.opts,
  );
}
