import { StackValidationPolicy } from "@pulumi/policy";
import { displayOf, productionDeployments } from "../lib/stack";
import { num, record, text } from "../lib/values";
import { isCanaryTrack, namespaceOf } from "../lib/workloads";

export const HPA_TYPES = [
  "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
  "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
];

export interface ProductionAutoscalingConfig {
  /** Fewest replicas the autoscaler may scale production to. Default 2. */
  readonly minReplicas: number;
}

/** Production scales with load but never down to a single pod. */
export const productionAutoscaling: StackValidationPolicy = {
  name: "production-autoscaling",
  description:
    "The production churn-model Deployment must be the scale target of a HorizontalPodAutoscaler, and every " +
    "autoscaler targeting it must keep minReplicas at least minReplicas (default 2); a canary track needs no " +
    "autoscaler but must run beside a stable Deployment in its namespace.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minReplicas: { type: "integer", minimum: 2, default: 2, description: "Fewest replicas in production." },
    },
  },
  validateStack: (args, report) => {
    const min = args.getConfig<ProductionAutoscalingConfig>().minReplicas ?? 2;
    const hpas = args.resources.filter((r) => HPA_TYPES.includes(r.type));
    const deployments = productionDeployments(args.resources);
    for (const { resource: d, workload } of deployments) {
      const name = text(workload.metadata?.name);
      const namespace = namespaceOf(d.props);
      if (isCanaryTrack(workload)) {
        // A canary has a step's fixed size and no autoscaler, but only beside a stable that has one.
        const stable = deployments.some(
          (o) => !isCanaryTrack(o.workload) && namespaceOf(o.resource.props) === namespace,
        );
        if (!stable) {
          report(
            `${workload.display} is a canary track in production without a stable churn-model Deployment ` +
              "beside it in its namespace: a canary runs only next to the stable it is compared with",
            d.urn,
          );
        }
        continue;
      }
      const targeting = hpas.filter((h) => {
        const ref = record(record(h.props.spec)?.scaleTargetRef);
        return (
          text(ref?.kind) === "Deployment" &&
          name !== undefined &&
          text(ref?.name) === name &&
          namespaceOf(h.props) === namespace
        );
      });
      if (targeting.length === 0) {
        report(
          `${workload.display} in production must be the scale target of a HorizontalPodAutoscaler with ` +
            `minReplicas of at least ${min}; none targets it`,
          d.urn,
        );
        continue;
      }
      for (const h of targeting) {
        const minReplicas = num(record(h.props.spec)?.minReplicas);
        if (minReplicas === undefined || minReplicas < min) {
          report(
            `${displayOf("HorizontalPodAutoscaler", h)} must keep ${workload.display} at minReplicas of at ` +
              `least ${min} in production (it is ${minReplicas ?? "unset, which means 1"})`,
            h.urn,
          );
        }
      }
    }
  },
};
