import { ResourceValidationPolicy } from "@pulumi/policy";
import { num, record, text } from "../lib/values";
import {
  DEPLOYMENT_TYPE,
  isCanaryTrack,
  isChurnModelWorkload,
  isProduction,
  workloadOf,
} from "../lib/workloads";

export interface ProductionReplicasConfig {
  /** Fewest replicas of the production Deployment. Default 2. */
  readonly minReplicas: number;
}

/** Zero, whether written as a number or as a percentage. */
export function isZero(v: unknown): boolean {
  return v === 0 || v === "0" || v === "0%";
}

/**
 * Production survives the loss of a pod and never drops below its replica count during a
 * rollout: new pods must be ready before old ones go.
 */
export const productionReplicas: ResourceValidationPolicy = {
  name: "production-replicas",
  description:
    "The production churn-model Deployment must run at least minReplicas (default 2) replicas (a canary track " +
    "at least 1) and roll out with the RollingUpdate strategy and maxUnavailable 0.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minReplicas: { type: "integer", minimum: 2, default: 2, description: "Fewest replicas in production." },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== DEPLOYMENT_TYPE) {
      return;
    }
    const w = workloadOf(args.type, args.props, args.name)!;
    if (!isProduction(w) || !isChurnModelWorkload(w)) {
      return;
    }
    // A canary track runs a step's few pods beside the stable (production-autoscaling checks the stable is there).
    const min = isCanaryTrack(w) ? 1 : (args.getConfig<ProductionReplicasConfig>().minReplicas ?? 2);
    const spec = record(args.props.spec);
    const replicas = num(spec?.replicas);
    if (replicas === undefined) {
      report(`${w.display} in production must set spec.replicas to at least ${min} (unset means 1)`);
    } else if (replicas < min) {
      report(`${w.display} in production must run at least ${min} replicas (spec.replicas is ${replicas})`);
    }
    const strategy = record(spec?.strategy);
    const type = text(strategy?.type) ?? "RollingUpdate";
    if (type !== "RollingUpdate") {
      report(
        `${w.display} in production must use the RollingUpdate strategy (spec.strategy.type is ${type})`,
      );
      return;
    }
    const maxUnavailable = record(strategy?.rollingUpdate)?.maxUnavailable;
    if (maxUnavailable === undefined) {
      report(
        `${w.display} in production must set spec.strategy.rollingUpdate.maxUnavailable to 0 (unset means 25%)`,
      );
    } else if (!isZero(maxUnavailable)) {
      report(
        `${w.display} in production must set spec.strategy.rollingUpdate.maxUnavailable to 0 ` +
          `(it is ${JSON.stringify(maxUnavailable)})`,
      );
    }
  },
};
