"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.productionDeployments = productionDeployments;
exports.displayOf = displayOf;
exports.selects = selects;
const values_1 = require("./values");
const workloads_1 = require("./workloads");
/** The stack's churn-model Deployments held to production rules. */
function productionDeployments(resources) {
    const out = [];
    for (const r of resources) {
        if (r.type !== workloads_1.DEPLOYMENT_TYPE) {
            continue;
        }
        const workload = (0, workloads_1.workloadOf)(r.type, r.props, r.name);
        if ((0, workloads_1.isProduction)(workload) && (0, workloads_1.isChurnModelWorkload)(workload)) {
            out.push({ resource: r, workload });
        }
    }
    return out;
}
/** `Kind "name"` for messages: metadata.name when known, else the Pulumi resource name. */
function displayOf(kind, r) {
    return `${kind} "${(0, values_1.text)((0, values_1.record)(r.props.metadata)?.name) ?? r.name}"`;
}
/**
 * Whether a Kubernetes LabelSelector selects a set of labels. An empty selector selects
 * everything; an absent one (undefined) selects nothing.
 */
function selects(selector, labels) {
    if (selector === undefined) {
        return false;
    }
    const matchLabels = (0, values_1.record)(selector.matchLabels) ?? {};
    for (const key of Object.keys(matchLabels)) {
        if (labels[key] !== matchLabels[key]) {
            return false;
        }
    }
    for (const item of (0, values_1.list)(selector.matchExpressions)) {
        const expr = (0, values_1.record)(item) ?? {};
        const key = (0, values_1.text)(expr.key) ?? "";
        const values = (0, values_1.list)(expr.values);
        const has = Object.prototype.hasOwnProperty.call(labels, key);
        switch (expr.operator) {
            case "In":
                if (!has || !values.includes(labels[key]))
                    return false;
                break;
            case "NotIn":
                if (has && values.includes(labels[key]))
                    return false;
                break;
            case "Exists":
                if (!has)
                    return false;
                break;
            case "DoesNotExist":
                if (has)
                    return false;
                break;
            default:
                return false;
        }
    }
    return true;
}
