/** Helpers for stack policies: the production churn-model Deployments and label selectors. */
import { PolicyResource } from "@pulumi/policy";
import { list, record, text } from "./values";
import { DEPLOYMENT_TYPE, isChurnModelWorkload, isProduction, Workload, workloadOf } from "./workloads";

export interface DeploymentInStack {
  readonly resource: PolicyResource;
  readonly workload: Workload;
}

/** The stack's churn-model Deployments held to production rules. */
export function productionDeployments(resources: readonly PolicyResource[]): DeploymentInStack[] {
  const out: DeploymentInStack[] = [];
  for (const r of resources) {
    if (r.type !== DEPLOYMENT_TYPE) {
      continue;
    }
    const workload = workloadOf(r.type, r.props, r.name)!;
    if (isProduction(workload) && isChurnModelWorkload(workload)) {
      out.push({ resource: r, workload });
    }
  }
  return out;
}

/** `Kind "name"` for messages: metadata.name when known, else the Pulumi resource name. */
export function displayOf(kind: string, r: PolicyResource): string {
  return `${kind} "${text(record(r.props.metadata)?.name) ?? r.name}"`;
}

/**
 * Whether a Kubernetes LabelSelector selects a set of labels. An empty selector selects
 * everything; an absent one (undefined) selects nothing.
 */
export function selects(
  selector: Record<string, unknown> | undefined,
  labels: Record<string, unknown>,
): boolean {
  if (selector === undefined) {
    return false;
  }
  const matchLabels = record(selector.matchLabels) ?? {};
  for (const key of Object.keys(matchLabels)) {
    if (labels[key] !== matchLabels[key]) {
      return false;
    }
  }
  for (const item of list(selector.matchExpressions)) {
    const expr = record(item) ?? {};
    const key = text(expr.key) ?? "";
    const values = list(expr.values);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    switch (expr.operator) {
      case "In":
        if (!has || !values.includes(labels[key])) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
