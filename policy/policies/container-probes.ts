import { ResourceValidationPolicy } from "@pulumi/policy";
import { record } from "../lib/values";
import { containersOf, workloadOf } from "../lib/workloads";

/**
 * Long-running containers tell Kubernetes when they can take traffic and when they must be
 * restarted; a rollout with maxUnavailable 0 relies on the readiness probe.
 */
export const containerProbes: ResourceValidationPolicy = {
  name: "container-probes",
  description:
    "Every container of a long-running workload (not Jobs or CronJobs, not init containers) must define a " +
    "readinessProbe and a livenessProbe.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const w = workloadOf(args.type, args.props, args.name);
    if (w === undefined || !w.longRunning) {
      return;
    }
    for (const c of containersOf(w)) {
      if (c.init) {
        continue;
      }
      for (const probe of ["readinessProbe", "livenessProbe"]) {
        if (record(c.props[probe]) === undefined) {
          report(`${c.label} must define a ${probe}`);
        }
      }
    }
  },
};
