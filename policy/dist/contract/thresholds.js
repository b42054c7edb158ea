"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_THRESHOLDS = exports.THRESHOLD_KEYS = exports.THRESHOLD_SPECS = void 0;
exports.thresholdProblems = thresholdProblems;
exports.parseThresholds = parseThresholds;
exports.thresholdSchemaProperties = thresholdSchemaProperties;
/**
 * The promotion thresholds: one table that gives each key its meaning, its accepted values
 * and its default, from which come the validator, the policy's config schema and the
 * defaults. See docs/design.md ("Thresholds").
 *
 * To add a key: add it to `Thresholds` (with a doc comment and its unit in the name) and to
 * `THRESHOLD_SPECS`; the compiler refuses one without the other. A key with `optional: true`
 * takes its default when a config file leaves it out, so older config files stay valid.
 */
const errors_1 = require("./errors");
const names_1 = require("./names");
exports.THRESHOLD_SPECS = {
    minAccuracy: { kind: "fraction", default: 0.85, description: "Lowest accepted staging accuracy, 0..1." },
    maxLatencyP99Ms: {
        kind: "nonNegative",
        default: 250,
        description: "Highest accepted staging p99 latency, milliseconds.",
    },
    maxErrorRate: {
        kind: "fraction",
        default: 0.01,
        description: "Highest accepted share of 5xx responses, 0..1.",
    },
    minUptime: { kind: "fraction", default: 0.999, description: "Lowest accepted mean of `up`, 0..1." },
    minSoakHours: {
        kind: "nonNegative",
        default: 24,
        description: "Hours the version must have run in staging, and the shortest window evidence may cover.",
    },
    minRequests: { kind: "nonNegative", default: 1000, description: "Fewest requests in the window." },
    minLabeledPredictions: {
        kind: "nonNegative",
        default: 200,
        description: "Fewest labeled predictions in the window.",
    },
    maxEvidenceAgeHours: {
        kind: "nonNegative",
        default: 72,
        description: "Oldest evidence accepted at update time, hours.",
    },
};
/** Every threshold key, in the table's order. */
exports.THRESHOLD_KEYS = Object.keys(exports.THRESHOLD_SPECS);
/** The production thresholds of docs/design.md: every key at its default. */
exports.DEFAULT_THRESHOLDS = Object.freeze(Object.fromEntries(exports.THRESHOLD_KEYS.map((k) => [k, exports.THRESHOLD_SPECS[k].default])));
function kindProblem(spec, v) {
    const kind = spec.kind;
    if (typeof kind === "object") {
        return kind.oneOf.includes(v)
            ? undefined
            : `must be one of ${kind.oneOf.map((o) => JSON.stringify(o)).join(", ")}`;
    }
    if (typeof v !== "number" || !Number.isFinite(v)) {
        return kind === "positive" ? "must be a finite number > 0" : "must be a finite number ≥ 0";
    }
    switch (kind) {
        case "fraction":
            return v < 0 ? "must be a finite number ≥ 0" : v > 1 ? "must be a fraction between 0 and 1" : undefined;
        case "nonNegative":
            return v >= 0 ? undefined : "must be a finite number ≥ 0";
        case "positive":
            return v > 0 ? undefined : "must be a finite number > 0";
        case "count":
            return Number.isInteger(v) && v >= 0 ? undefined : "must be an integer ≥ 0";
    }
}
/**
 * Every problem of a `promotion-evidence` config section as a sentence naming the key;
 * [] means valid. Keys outside the table (publicKey, the trust settings) are not its concern.
 */
function thresholdProblems(section) {
    if (typeof section !== "object" || section === null || Array.isArray(section)) {
        return [`"${names_1.EVIDENCE_POLICY}" must be an object holding ${exports.THRESHOLD_KEYS.join(", ")}`];
    }
    const obj = section;
    const problems = [];
    for (const key of exports.THRESHOLD_KEYS) {
        const spec = exports.THRESHOLD_SPECS[key];
        const v = obj[key];
        if (v === undefined) {
            if (spec.optional !== true)
                problems.push(`${key} is missing`);
            continue;
        }
        const problem = kindProblem(spec, v);
        if (problem !== undefined)
            problems.push(`${key} ${problem} (got ${JSON.stringify(v)})`);
    }
    return problems;
}
/**
 * The thresholds of a `promotion-evidence` config section; throws ContractError listing every
 * problem, prefixed by `source` (the file or object it came from).
 */
function parseThresholds(section, source) {
    const problems = thresholdProblems(section);
    if (problems.length > 0) {
        throw new errors_1.ContractError(`${source}: "${names_1.EVIDENCE_POLICY}": ${problems.join("; ")}`, problems);
    }
    const obj = section;
    const out = {};
    for (const key of exports.THRESHOLD_KEYS) {
        out[key] = obj[key] ?? exports.THRESHOLD_SPECS[key].default;
    }
    return out;
}
/** The policy's JSON-schema properties for the threshold keys, defaults included. */
function thresholdSchemaProperties() {
    const out = {};
    for (const key of exports.THRESHOLD_KEYS) {
        const spec = exports.THRESHOLD_SPECS[key];
        const base = typeof spec.kind === "object"
            ? { enum: [...spec.kind.oneOf] }
            : spec.kind === "fraction"
                ? { type: "number", minimum: 0, maximum: 1 }
                : spec.kind === "positive"
                    ? { type: "number", exclusiveMinimum: 0 }
                    : spec.kind === "count"
                        ? { type: "integer", minimum: 0 }
                        : { type: "number", minimum: 0 };
        out[key] = { ...base, default: spec.default, description: spec.description };
    }
    return out;
}
