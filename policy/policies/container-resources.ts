import { ResourceValidationPolicy } from "@pulumi/policy";
import { record } from "../lib/values";
import { containersOf, workloadOf } from "../lib/workloads";

const REQUIRED = [
  ["requests", "cpu"],
  ["requests", "memory"],
  ["limits", "cpu"],
  ["limits", "memory"],
] as const;

/** Every container states what it needs and what it may take, so scheduling and eviction are predictable. */
export const containerResources: ResourceValidationPolicy = {
  name: "container-resources",
  description: "Every container must set CPU and memory requests and limits.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const w = workloadOf(args.type, args.props, args.name);
    if (w === undefined) {
      return;
    }
    for (const c of containersOf(w)) {
      const resources = record(c.props.resources);
      for (const [section, key] of REQUIRED) {
        const value = record(resources?.[section])?.[key];
        if (value === undefined || value === null || value === "") {
          report(`${c.label} must set resources.${section}.${key}`);
        }
      }
    }
  },
};
