"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.WORKLOAD_KINDS = exports.DEPLOYMENT_TYPE = exports.TRACK_LABEL = exports.SEMVER = exports.MODEL_NAME = exports.ENVIRONMENT_LABEL = exports.DIGEST = exports.APP_NAME_LABEL = void 0;
exports.workloadOf = workloadOf;
exports.containersOf = containersOf;
exports.labelOf = labelOf;
exports.parseImage = parseImage;
exports.imageVersion = imageVersion;
exports.isChurnModelWorkload = isChurnModelWorkload;
exports.isProduction = isProduction;
exports.isCanaryTrack = isCanaryTrack;
exports.namespaceOf = namespaceOf;
/**
 * Kubernetes workloads as policies see them: the pod template of each workload kind, its
 * containers, image references, and which workloads are the churn-model service in which
 * environment.
 */
const contract_1 = require("../contract");
const values_1 = require("./values");
var contract_2 = require("../contract");
Object.defineProperty(exports, "APP_NAME_LABEL", { enumerable: true, get: function () { return contract_2.APP_NAME_LABEL; } });
Object.defineProperty(exports, "DIGEST", { enumerable: true, get: function () { return contract_2.DIGEST; } });
Object.defineProperty(exports, "ENVIRONMENT_LABEL", { enumerable: true, get: function () { return contract_2.ENVIRONMENT_LABEL; } });
Object.defineProperty(exports, "MODEL_NAME", { enumerable: true, get: function () { return contract_2.MODEL_NAME; } });
Object.defineProperty(exports, "SEMVER", { enumerable: true, get: function () { return contract_2.SEMVER; } });
Object.defineProperty(exports, "TRACK_LABEL", { enumerable: true, get: function () { return contract_2.TRACK_LABEL; } });
exports.DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment";
/** Every resource type that runs pods, by Pulumi type token. */
exports.WORKLOAD_KINDS = {
    [exports.DEPLOYMENT_TYPE]: { kind: "Deployment", template: ["spec", "template"], longRunning: true },
    "kubernetes:apps/v1:StatefulSet": {
        kind: "StatefulSet",
        template: ["spec", "template"],
        longRunning: true,
    },
    "kubernetes:apps/v1:DaemonSet": { kind: "DaemonSet", template: ["spec", "template"], longRunning: true },
    "kubernetes:apps/v1:ReplicaSet": { kind: "ReplicaSet", template: ["spec", "template"], longRunning: true },
    "kubernetes:core/v1:Pod": { kind: "Pod", template: [], longRunning: true },
    "kubernetes:batch/v1:Job": { kind: "Job", template: ["spec", "template"], longRunning: false },
    "kubernetes:batch/v1:CronJob": {
        kind: "CronJob",
        template: ["spec", "jobTemplate", "spec", "template"],
        longRunning: false,
    },
};
/** The workload view of a resource, or undefined when the type runs no pods. */
function workloadOf(type, props, pulumiName) {
    const kind = exports.WORKLOAD_KINDS[type];
    if (kind === undefined) {
        return undefined;
    }
    const name = (0, values_1.orWhenUnknown)(() => (0, values_1.text)((0, values_1.record)(props.metadata)?.name), undefined) ?? pulumiName;
    const display = `${kind.kind} "${name}"`;
    const template = () => {
        let t = props;
        for (const step of kind.template) {
            t = (0, values_1.record)(t?.[step]);
        }
        return t;
    };
    return {
        kind: kind.kind,
        longRunning: kind.longRunning,
        display,
        props,
        get metadata() {
            return (0, values_1.record)(props.metadata);
        },
        get podSpec() {
            return (0, values_1.record)(template()?.spec);
        },
        get podMetadata() {
            return (0, values_1.record)(template()?.metadata);
        },
    };
}
/** The workload's containers, then its init containers. */
function containersOf(w) {
    const out = [];
    const add = (items, init) => {
        let i = 0;
        for (const item of (0, values_1.list)(items)) {
            const props = (0, values_1.record)(item) ?? {};
            const name = (0, values_1.orWhenUnknown)(() => (0, values_1.text)(props.name), undefined) ?? `#${i}`;
            const what = init ? "init container" : "container";
            out.push({ label: `${what} "${name}" in ${w.display}`, name, props, init });
            i++;
        }
    };
    add(w.podSpec?.containers, false);
    add(w.podSpec?.initContainers, true);
    return out;
}
/** A label of the workload itself (metadata.labels). */
function labelOf(w, key) {
    return (0, values_1.text)((0, values_1.record)(w.metadata?.labels)?.[key]);
}
/** Parses an image reference by the Docker rules, or returns undefined for an empty or malformed one. */
function parseImage(ref) {
    if (ref.trim() !== ref || ref === "" || /\s/.test(ref)) {
        return undefined;
    }
    const at = ref.indexOf("@");
    const named = at >= 0 ? ref.slice(0, at) : ref;
    const digest = at >= 0 ? ref.slice(at + 1) : undefined;
    const slash = named.lastIndexOf("/");
    const colon = named.lastIndexOf(":");
    const tag = colon > slash ? named.slice(colon + 1) : undefined;
    const repository = colon > slash ? named.slice(0, colon) : named;
    const segments = repository.split("/");
    if (segments.some((s) => s === "") || tag === "" || digest === "") {
        return undefined;
    }
    const first = segments[0];
    const registry = segments.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")
        ? first
        : undefined;
    return { repository, registry, name: segments[segments.length - 1], tag, digest };
}
/**
 * The model version an image runs (policy/contract/version.ts): the version its tag stands
 * for (`1.4.2_b7` → `1.4.2+b7`, else the tag as it is), also when a digest pins it
 * (`:1.4.2@sha256:…`, how production runs a semver); without a tag, its digest.
 */
function imageVersion(ref) {
    if (ref.tag !== undefined)
        return (0, contract_1.versionOfTag)(ref.tag) ?? ref.tag;
    return ref.digest;
}
/**
 * Whether the workload is the churn-model service: named churn-model, labelled
 * app.kubernetes.io/name=churn-model, or running a churn-model image. A rename cannot hide
 * it while it runs the image. Throws UnknownValueError when no known signal says yes and
 * some signal is unknown during preview.
 */
function isChurnModelWorkload(w) {
    let unknown;
    const holds = (signal) => {
        try {
            return signal();
        }
        catch (err) {
            if (!(0, values_1.isUnknownValueError)(err)) {
                throw err;
            }
            unknown ??= err;
            return false;
        }
    };
    const runsModelImage = (c) => {
        const image = (0, values_1.text)(c.props.image);
        return image !== undefined && parseImage(image)?.name === contract_1.MODEL_NAME;
    };
    if (holds(() => (0, values_1.text)(w.metadata?.name) === contract_1.MODEL_NAME) ||
        holds(() => labelOf(w, contract_1.APP_NAME_LABEL) === contract_1.MODEL_NAME) ||
        holds(() => (0, values_1.text)((0, values_1.record)(w.podMetadata?.labels)?.[contract_1.APP_NAME_LABEL]) === contract_1.MODEL_NAME) ||
        holds(() => containersOf(w).some((c) => holds(() => runsModelImage(c))))) {
        return true;
    }
    if (unknown !== undefined) {
        throw unknown;
    }
    return false;
}
/**
 * Whether the workload is held to production rules: everything in production's namespace, and
 * everything else not labelled churn-model/environment=staging (a missing label counts as
 * production). Throws UnknownValueError when the namespace or label is unknown during preview.
 */
function isProduction(w) {
    return namespaceOf(w.props) === contract_1.PRODUCTION_NAMESPACE || labelOf(w, contract_1.ENVIRONMENT_LABEL) !== "staging";
}
/**
 * Whether a workload is a canary track: its pods are labelled `churn-model/track: canary` and
 * its selector selects on that label (so it can never own the stable's pods).
 */
function isCanaryTrack(w) {
    const podLabel = (0, values_1.text)((0, values_1.record)(w.podMetadata?.labels)?.[contract_1.TRACK_LABEL]);
    const selector = (0, values_1.text)((0, values_1.record)((0, values_1.record)((0, values_1.record)(w.props.spec)?.selector)?.matchLabels)?.[contract_1.TRACK_LABEL]);
    return podLabel === contract_1.CANARY_TRACK && selector === contract_1.CANARY_TRACK;
}
/** The workload's namespace ("" when unset, i.e. the provider's default). */
function namespaceOf(props) {
    return (0, values_1.text)((0, values_1.record)(props.metadata)?.namespace) ?? "";
}
