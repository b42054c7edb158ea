import { StackValidationPolicy } from "@pulumi/policy";
import { displayOf, productionDeployments, selects } from "../lib/stack";
import { num, record } from "../lib/values";
import { isCanaryTrack, namespaceOf } from "../lib/workloads";

export const PDB_TYPE = "kubernetes:policy/v1:PodDisruptionBudget";

/** A Kubernetes IntOrString: an integer or a percentage. */
type Amount = { count: number } | { percent: number } | undefined;

function amountOf(v: unknown): Amount {
  if (typeof v === "number") {
    return { count: v };
  }
  const m = typeof v === "string" ? /^(\d+)%$/.exec(v) : null;
  return m ? { percent: Number(m[1]) } : undefined;
}

/** Why the budget lets every selected pod be evicted at once, or undefined when it protects at least one. */
function allowsFullDisruption(
  spec: Record<string, unknown> | undefined,
  replicas: number,
): string | undefined {
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
export const productionDisruptionBudget: StackValidationPolicy = {
  name: "production-disruption-budget",
  description:
    "The production churn-model Deployment must be covered by a PodDisruptionBudget in its namespace whose " +
    "selector matches its pod labels and which keeps at least one pod available.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const pdbs = args.resources.filter((r) => r.type === PDB_TYPE);
    const deployments = productionDeployments(args.resources);
    for (const { resource: d, workload } of deployments) {
      const podLabels = record(workload.podMetadata?.labels) ?? {};
      const namespace = namespaceOf(d.props);
      // A canary track shares the service's budget with the stable: what may be disrupted at
      // once is counted over both tracks' pods.
      const replicas = isCanaryTrack(workload)
        ? deployments
            .filter((o) => namespaceOf(o.resource.props) === namespace)
            .reduce((n, o) => n + (num(record(o.resource.props.spec)?.replicas) ?? 1), 0)
        : (num(record(d.props.spec)?.replicas) ?? 1);
      const selecting = pdbs.filter(
        (p) =>
          namespaceOf(p.props) === namespace && selects(record(record(p.props.spec)?.selector), podLabels),
      );
      if (selecting.length === 0) {
        report(
          `${workload.display} in production must be covered by a PodDisruptionBudget whose selector matches ` +
            "its pod labels; none does",
          d.urn,
        );
        continue;
      }
      const weak = selecting.map((p) => [p, allowsFullDisruption(record(p.props.spec), replicas)] as const);
      if (weak.every(([, why]) => why !== undefined)) {
        for (const [p, why] of weak) {
          report(
            `${displayOf("PodDisruptionBudget", p)} selects the pods of ${workload.display} but lets all of ` +
              `them be disrupted at once: ${why}`,
            p.urn,
          );
        }
      }
    }
  },
};
