/**
 * A Pulumi program that declares the churn-model service from the stack's `churn-model:*`
 * config the way stacks/index.ts does, without the program's own evidence check
 * (assertPromotionEvidence): what someone who bypasses the program deploys. Only the policy
 * pack stands between it and production.
 *
 * `churn-model-bypass:image` replaces the image `<registry>/churn-model:<modelVersion>`,
 * so an image the stack config refuses (`:latest`) can reach the engine.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ModelService } from "../../infra/model-service";
import { IMAGE_NAME, imageFor, readStackConfig } from "../../stacks/config";

const cfg = readStackConfig(new pulumi.Config("churn-model"));
const image =
  new pulumi.Config("churn-model-bypass").get("image") ??
  imageFor(`${cfg.registry}/${IMAGE_NAME}`, cfg.modelVersion);

const provider = new k8s.Provider("k8s", {
  renderYamlToDirectory: cfg.renderYamlToDirectory,
  enableServerSideApply: true,
});

new ModelService(
  "churn-model",
  {
    namespace: cfg.namespace,
    createNamespace: cfg.createNamespace,
    environment: cfg.environment,
    modelVersion: cfg.modelVersion,
    image,
    replicas: cfg.replicas,
    resources: cfg.resources,
    containerPort: cfg.containerPort,
    servicePort: cfg.servicePort,
    probes: cfg.probes,
    targetCpuUtilization: cfg.targetCpuUtilization,
    promotionEvidence: cfg.promotionEvidence,
    readyTimeoutSeconds: cfg.readyTimeoutSeconds,
  },
  { providers: { kubernetes: provider } },
);
