/**
 * Kubernetes objects as the API server returns them, for the sandbox's unit tests: a
 * churn-model Deployment with a given status and the ReplicaSets it owns.
 */
import { Deployment, ReplicaSet } from "../../scripts/sandbox/kube";

export const APP = { "app.kubernetes.io/name": "churn-model" };

export interface DeploymentShape {
  ready?: number;
  replicas?: number;
  updated?: number;
  generation?: number;
  observedGeneration?: number;
  image?: string;
  labels?: Record<string, string>;
}

export function deployment(
  namespace: string,
  name: string,
  version: string,
  shape: DeploymentShape = {},
): Deployment {
  const replicas = shape.replicas ?? 1;
  return {
    metadata: {
      name,
      namespace,
      uid: `uid-${namespace}-${name}`,
      generation: shape.generation ?? 1,
      labels: shape.labels ?? APP,
    },
    spec: {
      replicas,
      selector: { matchLabels: APP },
      template: {
        metadata: { labels: APP },
        spec: {
          containers: [
            { name: "model", image: shape.image ?? `registry.local:5000/ml/churn-model:${version}` },
          ],
        },
      },
    },
    status: {
      observedGeneration: shape.observedGeneration ?? shape.generation ?? 1,
      replicas,
      updatedReplicas: shape.updated ?? replicas,
      readyReplicas: shape.ready ?? replicas,
    },
  };
}

export function replicaSet(owner: Deployment, revision: number, version: string, ready: number): ReplicaSet {
  const { name = "", namespace, uid = "" } = owner.metadata ?? {};
  return {
    metadata: {
      name: `${name}-${revision}`,
      namespace,
      uid: `rs-${uid}-${revision}`,
      labels: APP,
      annotations: { "deployment.kubernetes.io/revision": String(revision) },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name, uid }],
    },
    spec: {
      replicas: ready,
      selector: { matchLabels: APP },
      template: { spec: { containers: [{ name: "model", image: `registry.local/churn-model:${version}` }] } },
    },
    status: { replicas: ready, readyReplicas: ready },
  };
}
