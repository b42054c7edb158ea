"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.productionAutoscaling = exports.HPA_TYPES = void 0;
const stack_1 = require("../lib/stack");
const values_1 = require("../lib/values");
const workloads_1 = require("../lib/workloads");
exports.HPA_TYPES = [
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
];
/** Production scales with load but never down to a single pod. */
exports.productionAutoscaling = {
    name: "production-autoscaling",
    description: "The production churn-model Deployment must be the scale target of a HorizontalPodAutoscaler, and every " +
        "autoscaler targeting it must keep minReplicas at least minReplicas (default 2); a canary track needs no " +
        "autoscaler but must run beside a stable Deployment in its namespace.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            minReplicas: { type: "integer", minimum: 2, default: 2, description: "Fewest replicas in production." },
        },
    },
    validateStack: (args, report) => {
        const min = args.getConfig().minReplicas ?? 2;
        const hpas = args.resources.filter((r) => exports.HPA_TYPES.includes(r.type));
        const deployments = (0, stack_1.productionDeployments)(args.resources);
        for (const { resource: d, workload } of deployments) {
            const name = (0, values_1.text)(workload.metadata?.name);
            const namespace = (0, workloads_1.namespaceOf)(d.props);
            if ((0, workloads_1.isCanaryTrack)(workload)) {
                // A canary has a step's fixed size and no autoscaler, but only beside a stable that has one.
                const stable = deployments.some((o) => !(0, workloads_1.isCanaryTrack)(o.workload) && (0, workloads_1.namespaceOf)(o.resource.props) === namespace);
                if (!stable) {
                    report(`${workload.display} is a canary track in production without a stable churn-model Deployment ` +
                        "beside it in its namespace: a canary runs only next to the stable it is compared with", d.urn);
                }
                continue;
            }
            const targeting = hpas.filter((h) => {
                const ref = (0, values_1.record)((0, values_1.record)(h.props.spec)?.scaleTargetRef);
                return ((0, values_1.text)(ref?.kind) === "Deployment" &&
                    name !== undefined &&
                    (0, values_1.text)(ref?.name) === name &&
                    (0, workloads_1.namespaceOf)(h.props) === namespace);
            });
            if (targeting.length === 0) {
                report(`${workload.display} in production must be the scale target of a HorizontalPodAutoscaler with ` +
                    `minReplicas of at least ${min}; none targets it`, d.urn);
                continue;
            }
            for (const h of targeting) {
                const minReplicas = (0, values_1.num)((0, values_1.record)(h.props.spec)?.minReplicas);
                if (minReplicas === undefined || minReplicas < min) {
                    report(`${(0, stack_1.displayOf)("HorizontalPodAutoscaler", h)} must keep ${workload.display} at minReplicas of at ` +
                        `least ${min} in production (it is ${minReplicas ?? "unset, which means 1"})`, h.urn);
                }
            }
        }
    },
};
