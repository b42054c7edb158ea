"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.containerProbes = void 0;
const values_1 = require("../lib/values");
const workloads_1 = require("../lib/workloads");
/**
 * Long-running containers tell Kubernetes when they can take traffic and when they must be
 * restarted; a rollout with maxUnavailable 0 relies on the readiness probe.
 */
exports.containerProbes = {
    name: "container-probes",
    description: "Every container of a long-running workload (not Jobs or CronJobs, not init containers) must define a " +
        "readinessProbe and a livenessProbe.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const w = (0, workloads_1.workloadOf)(args.type, args.props, args.name);
        if (w === undefined || !w.longRunning) {
            return;
        }
        for (const c of (0, workloads_1.containersOf)(w)) {
            if (c.init) {
                continue;
            }
            for (const probe of ["readinessProbe", "livenessProbe"]) {
                if ((0, values_1.record)(c.props[probe]) === undefined) {
                    report(`${c.label} must define a ${probe}`);
                }
            }
        }
    },
};
