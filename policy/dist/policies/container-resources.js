"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.containerResources = void 0;
const values_1 = require("../lib/values");
const workloads_1 = require("../lib/workloads");
const REQUIRED = [
    ["requests", "cpu"],
    ["requests", "memory"],
    ["limits", "cpu"],
    ["limits", "memory"],
];
/** Every container states what it needs and what it may take, so scheduling and eviction are predictable. */
exports.containerResources = {
    name: "container-resources",
    description: "Every container must set CPU and memory requests and limits.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const w = (0, workloads_1.workloadOf)(args.type, args.props, args.name);
        if (w === undefined) {
            return;
        }
        for (const c of (0, workloads_1.containersOf)(w)) {
            const resources = (0, values_1.record)(c.props.resources);
            for (const [section, key] of REQUIRED) {
                const value = (0, values_1.record)(resources?.[section])?.[key];
                if (value === undefined || value === null || value === "") {
                    report(`${c.label} must set resources.${section}.${key}`);
                }
            }
        }
    },
};
