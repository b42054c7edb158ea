"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.environmentLabel = void 0;
const workloads_1 = require("../lib/workloads");
/**
 * The environment label decides which rules a churn-model workload meets (staging needs no
 * evidence), so in a stack whose policy config names its environment the label must agree:
 * a production workload cannot pass as staging by its label.
 */
exports.environmentLabel = {
    name: "environment-label",
    description: "A churn-model workload must carry the label churn-model/environment naming the environment this " +
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
        const environment = args.getConfig().environment;
        const w = (0, workloads_1.workloadOf)(args.type, args.props, args.name);
        if (w === undefined || environment === undefined || !(0, workloads_1.isChurnModelWorkload)(w)) {
            return;
        }
        const label = (0, workloads_1.labelOf)(w, workloads_1.ENVIRONMENT_LABEL);
        if (label !== environment) {
            report(`${w.display} must carry the label ${workloads_1.ENVIRONMENT_LABEL}: ${environment}, the environment this policy ` +
                `config is for; it has ${label === undefined ? "none" : JSON.stringify(label)}`);
        }
    },
};
