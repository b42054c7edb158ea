/**
 * A bench-only Pulumi program: `services` instances of the ModelService component, each in
 * its own namespace, with production's shape (PodDisruptionBudget and topology spread), the
 * provider rendering manifests to `renderDir` so that no cluster is needed.
 *
 * Config (project churn-model-bench-scale): services (1–500), renderDir.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ModelService } from "../../infra/model-service";

const config = new pulumi.Config();
const services = config.requireNumber("services", { min: 1, max: 500 });
const provider = new k8s.Provider("k8s", {
  renderYamlToDirectory: config.require("renderDir"),
  enableServerSideApply: true,
});

for (let i = 0; i < services; i++) {
  new ModelService(
    `churn-model-${i}`,
    {
      namespace: `churn-model-${i}`,
      environment: "production",
      modelVersion: "1.1.0",
      image: "localhost:5000/ml/churn-model:1.1.0",
      replicas: { min: 2, max: 4 },
      resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
    },
    { providers: { kubernetes: provider } },
  );
}

export const modelServices = services;
