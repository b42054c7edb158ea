"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.productionReplicas = void 0;
exports.isZero = isZero;
const values_1 = require("../lib/values");
const workloads_1 = require("../lib/workloads");
/** Zero, whether written as a number or as a percentage. */
function isZero(v) {
    return v === 0 || v === "0" || v === "0%";
}
/**
 * Production survives the loss of a pod and never drops below its replica count during a
 * rollout: new pods must be ready before old ones go.
 */
exports.productionReplicas = {
    name: "production-replicas",
    description: "The production churn-model Deployment must run at least minReplicas (default 2) replicas (a canary track " +
        "at least 1) and roll out with the RollingUpdate strategy and maxUnavailable 0.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            minReplicas: { type: "integer", minimum: 2, default: 2, description: "Fewest replicas in production." },
        },
    },
    validateResource: (args, report) => {
        if (args.type !== workloads_1.DEPLOYMENT_TYPE) {
            return;
        }
        const w = (0, workloads_1.workloadOf)(args.type, args.props, args.name);
        if (!(0, workloads_1.isProduction)(w) || !(0, workloads_1.isChurnModelWorkload)(w)) {
            return;
        }
        // A canary track runs a step's few pods beside the stable (production-autoscaling checks the stable is there).
        const min = (0, workloads_1.isCanaryTrack)(w) ? 1 : (args.getConfig().minReplicas ?? 2);
        const spec = (0, values_1.record)(args.props.spec);
        const replicas = (0, values_1.num)(spec?.replicas);
        if (replicas === undefined) {
            report(`${w.display} in production must set spec.replicas to at least ${min} (unset means 1)`);
        }
        else if (replicas < min) {
            report(`${w.display} in production must run at least ${min} replicas (spec.replicas is ${replicas})`);
        }
        const strategy = (0, values_1.record)(spec?.strategy);
        const type = (0, values_1.text)(strategy?.type) ?? "RollingUpdate";
        if (type !== "RollingUpdate") {
            report(`${w.display} in production must use the RollingUpdate strategy (spec.strategy.type is ${type})`);
            return;
        }
        const maxUnavailable = (0, values_1.record)(strategy?.rollingUpdate)?.maxUnavailable;
        if (maxUnavailable === undefined) {
            report(`${w.display} in production must set spec.strategy.rollingUpdate.maxUnavailable to 0 (unset means 25%)`);
        }
        else if (!isZero(maxUnavailable)) {
            report(`${w.display} in production must set spec.strategy.rollingUpdate.maxUnavailable to 0 ` +
                `(it is ${JSON.stringify(maxUnavailable)})`);
        }
    },
};
