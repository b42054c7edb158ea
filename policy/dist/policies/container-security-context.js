"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.containerSecurityContext = void 0;
const values_1 = require("../lib/values");
const workloads_1 = require("../lib/workloads");
/** Containers run unprivileged, as a non-root user, on a read-only root filesystem. */
exports.containerSecurityContext = {
    name: "container-security-context",
    description: "Every container must run as non-root, forbid privilege escalation, use a read-only root filesystem " +
        "and not be privileged.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const w = (0, workloads_1.workloadOf)(args.type, args.props, args.name);
        if (w === undefined) {
            return;
        }
        const pod = (0, values_1.record)(w.podSpec?.securityContext);
        for (const c of (0, workloads_1.containersOf)(w)) {
            const sc = (0, values_1.record)(c.props.securityContext);
            const runAsNonRoot = sc?.runAsNonRoot ?? pod?.runAsNonRoot;
            const runAsUser = sc?.runAsUser ?? pod?.runAsUser;
            if (runAsNonRoot !== true) {
                report(`${c.label} must run as non-root: set securityContext.runAsNonRoot: true on the container or its pod`);
            }
            if (runAsUser === 0) {
                report(`${c.label} must not run as user 0 (securityContext.runAsUser)`);
            }
            if (sc?.allowPrivilegeEscalation !== false) {
                report(`${c.label} must set securityContext.allowPrivilegeEscalation: false`);
            }
            if (sc?.readOnlyRootFilesystem !== true) {
                report(`${c.label} must set securityContext.readOnlyRootFilesystem: true`);
            }
            if (sc?.privileged === true) {
                report(`${c.label} must not be privileged (securityContext.privileged: true)`);
            }
        }
    },
};
