"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.productionDisruptionBudget = exports.PDB_TYPE = void 0;
const stack_1 = require("../lib/stack");
const values_1 = require("../lib/values");
const workloads_1 = require("../lib/workloads");
exports.PDB_TYPE = "kubernetes:policy/v1:PodDisruptionBudget";
function amountOf(v) {
    if (typeof v === "number") {
        return { count: v };
    }
    const m = typeof v === "string" ? /^(\d+)%$/.exec(v) : null;
    return m ? { percent: Number(m[1]) } : undefined;
}
/** Why the budget lets every selected pod be evicted at once, or undefined when it protects at least one. */
function allowsFullDisruption(spec, replicas) {
    const minAvailable = amountOf(spec?.minAvailable);
    const maxUnavailable = amountOf(spec?.maxUnavailable);
    if (minAvailable !== undefined) {
        const zero = "count" in minAvailable ? minAvailable.count < 1 : minAvailable.percent <= 0;
        return zero ? `minAvailable is ${JSON.stringify(spec?.minAvailable)}` : undefined;
    }
    if (maxUnavailable !== undefined) {
        const all = "count" in maxUnavailable ? maxUnavailable.count >= replicas : maxUnavailable.percent >= 100;
        return all
            ? `maxUnavailable is ${JSON.stringify(spec?.maxUnavailable)} with ${replicas} replicas`
            : undefined;
    }
    return "it sets neither minAvailable nor maxUnavailable";
}
/** Voluntary disruptions (node drains, upgrades) never take every production pod at once. */
exports.productionDisruptionBudget = {
    name: "production-disruption-budget",
    description: "The production churn-model Deployment must be covered by a PodDisruptionBudget in its namespace whose " +
        "selector matches its pod labels and which keeps at least one pod available.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const pdbs = args.resources.filter((r) => r.type === exports.PDB_TYPE);
        const deployments = (0, stack_1.productionDeployments)(args.resources);
        for (const { resource: d, workload } of deployments) {
            const podLabels = (0, values_1.record)(workload.podMetadata?.labels) ?? {};
            const namespace = (0, workloads_1.namespaceOf)(d.props);
            // A canary track shares the service's budget with the stable: what may be disrupted at
            // once is counted over both tracks' pods.
            const replicas = (0, workloads_1.isCanaryTrack)(workload)
                ? deployments
                    .filter((o) => (0, workloads_1.namespaceOf)(o.resource.props) === namespace)
                    .reduce((n, o) => n + ((0, values_1.num)((0, values_1.record)(o.resource.props.spec)?.replicas) ?? 1), 0)
                : ((0, values_1.num)((0, values_1.record)(d.props.spec)?.replicas) ?? 1);
            const selecting = pdbs.filter((p) => (0, workloads_1.namespaceOf)(p.props) === namespace && (0, stack_1.selects)((0, values_1.record)((0, values_1.record)(p.props.spec)?.selector), podLabels));
            if (selecting.length === 0) {
                report(`${workload.display} in production must be covered by a PodDisruptionBudget whose selector matches ` +
                    "its pod labels; none does", d.urn);
                continue;
            }
            const weak = selecting.map((p) => [p, allowsFullDisruption((0, values_1.record)(p.props.spec), replicas)]);
            if (weak.every(([, why]) => why !== undefined)) {
                for (const [p, why] of weak) {
                    report(`${(0, stack_1.displayOf)("PodDisruptionBudget", p)} selects the pods of ${workload.display} but lets all of ` +
                        `them be disrupted at once: ${why}`, p.urn);
                }
            }
        }
    },
};
