"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.imagePinning = void 0;
exports.registryAllowed = registryAllowed;
const values_1 = require("../lib/values");
const contract_1 = require("../contract");
const workloads_1 = require("../lib/workloads");
function entryPattern(entry) {
    const body = entry
        .replace(/\/+$/, "")
        .split("*")
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("[^./:]+");
    return new RegExp(`^${body}/`, "i");
}
/** Whether the image's repository lies under one of the allowed registries. */
function registryAllowed(ref, allowed) {
    return ref.registry !== undefined && allowed.some((entry) => entryPattern(entry).test(`${ref.repository}`));
}
/**
 * Pinned images only: a workload must name exactly what it runs (a semantic version tag or a
 * sha256 digest), and pull it from a registry the config allows.
 */
exports.imagePinning = {
    name: "image-pinning",
    description: "Every container image must be pinned to a semantic version tag or a sha256 digest (never latest or " +
        "untagged) and come from a registry on the allowedRegistries list.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedRegistries: {
                type: "array",
                items: { type: "string", minLength: 1 },
                default: [],
                description: "Registries images may come from: host[:port][/path]; * stands for one host label other than the first (the account).",
            },
        },
    },
    validateResource: (args, report) => {
        const w = (0, workloads_1.workloadOf)(args.type, args.props, args.name);
        if (w === undefined) {
            return;
        }
        const configured = args.getConfig().allowedRegistries ?? [];
        const allowed = configured.filter((entry) => (0, contract_1.registryEntryProblem)(entry) === undefined);
        for (const entry of configured) {
            const problem = (0, contract_1.registryEntryProblem)(entry);
            if (problem !== undefined)
                report(`${w.display}: allowedRegistries ${problem}; it allows nothing`);
        }
        const allowList = allowed.length > 0 ? allowed.join(", ") : "none configured";
        for (const c of (0, workloads_1.containersOf)(w)) {
            const image = (0, values_1.text)(c.props.image);
            if (image === undefined || image === "") {
                report(`${c.label} must name an image`);
                continue;
            }
            const ref = (0, workloads_1.parseImage)(image);
            if (ref === undefined) {
                report(`${c.label} has image "${image}", which is not a valid image reference`);
                continue;
            }
            if (ref.digest !== undefined) {
                if (!contract_1.DIGEST.test(ref.digest)) {
                    report(`${c.label} has image "${image}": a digest must be sha256:<64 lower-case hex digits>`);
                }
            }
            else if (ref.tag === undefined) {
                report(`${c.label} has image "${image}" without a tag: pin it to a semantic version tag or a sha256 digest`);
            }
            else if ((0, contract_1.versionOfTag)(ref.tag) === undefined) {
                report(`${c.label} has image "${image}": the tag "${ref.tag}" is not a semantic version; pin it to a ` +
                    "semantic version tag or a sha256 digest");
            }
            if (ref.registry === undefined) {
                report(`${c.label} has image "${image}", which names no registry; images must come from an allowed ` +
                    `registry (allowedRegistries: ${allowList})`);
            }
            else if (!registryAllowed(ref, allowed)) {
                report(`${c.label} pulls ${ref.repository}, which is under no allowed registry (allowedRegistries: ${allowList})`);
            }
        }
    },
};
