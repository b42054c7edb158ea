import { ResourceValidationPolicy } from "@pulumi/policy";
import { ENVIRONMENT_LABEL, isChurnModelWorkload, labelOf, workloadOf } from "../lib/workloads";

export interface EnvironmentLabelConfig {
  /** The environment of the stacks this policy config is applied to. Unset: nothing is checked. */
  readonly environment?: "staging" | "production";
}

/**
 * The environment label decides which rules a churn-model workload meets (staging needs no
 * evidence), so in a stack whose policy config names its environment the label must agree:
 * a production workload cannot pass as staging by its label.
 */
export const environmentLabel: ResourceValidationPolicy = {
  name: "environment-label",
  description:
    "A churn-model workload must carry the label churn-model/environment naming the environment this " +
    "policy config is for.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      environment: {
        type: "string",
        enum: ["staging", "production"],
        description: "The environment of the stacks this config is applied to.",
      },
    },
  },
  validateResource: (args, report) => {
    const environment = args.getConfig<EnvironmentLabelConfig>().environment;
    const w = workloadOf(args.type, args.props, args.name);
    if (w === undefined || environment === undefined || !isChurnModelWorkload(w)) {
      return;
    }
    const label = labelOf(w, ENVIRONMENT_LABEL);
    if (label !== environment) {
      report(
        `${w.display} must carry the label ${ENVIRONMENT_LABEL}: ${environment}, the environment this policy ` +
          `config is for; it has ${label === undefined ? "none" : JSON.stringify(label)}`,
      );
    }
  },
};
