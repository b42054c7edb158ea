"use strict";
/**
 * The canary settings of a policy-config file: which promotion strategies the target accepts,
 * the steps (weight, duration, maximum duration) and the comparison criteria. They live in the
 * `promotion-evidence` section beside the thresholds, so the promotion and the policy pack read
 * one source (parsePolicyConfig). Pure: returns problems. docs/canary.md explains every key.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_STRATEGIES = exports.STRATEGIES = void 0;
exports.promotionStrategiesOf = promotionStrategiesOf;
exports.STRATEGIES = ["canary", "all-at-once"];
/** The strategies of a section that names none: today's path only. */
exports.DEFAULT_STRATEGIES = ["all-at-once"];
function numberAt(obj, key, where, problems, range) {
    const v = obj[key];
    const shape = `${range.integer ? "an integer" : "a number"} ${range.exclusiveMin ? ">" : "≥"} ${range.min}` +
        (range.max !== undefined ? ` and ≤ ${range.max}` : "");
    if (v === undefined) {
        problems.push(`${where}${key} is missing (${shape})`);
        return NaN;
    }
    const ok = typeof v === "number" &&
        Number.isFinite(v) &&
        (range.exclusiveMin ? v > range.min : v >= range.min) &&
        (range.max === undefined || v <= range.max) &&
        (!range.integer || Number.isInteger(v));
    if (!ok) {
        problems.push(`${where}${key} must be ${shape} (got ${JSON.stringify(v)})`);
        return NaN;
    }
    return v;
}
function isObject(v) {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}
function parseSteps(raw, problems) {
    if (!Array.isArray(raw) || raw.length === 0) {
        problems.push(`canary.steps must be a non-empty list of {weight, durationSeconds, maxDurationSeconds}`);
        return [];
    }
    const steps = [];
    raw.forEach((s, i) => {
        const where = `canary.steps[${i}].`;
        if (!isObject(s)) {
            problems.push(`canary.steps[${i}] must be an object {weight, durationSeconds, maxDurationSeconds}`);
            return;
        }
        const weight = numberAt(s, "weight", where, problems, { min: 1, max: 99, integer: true });
        const durationSeconds = numberAt(s, "durationSeconds", where, problems, { min: 1, integer: true });
        const maxDurationSeconds = numberAt(s, "maxDurationSeconds", where, problems, { min: 1, integer: true });
        if (durationSeconds > maxDurationSeconds) {
            problems.push(`${where}maxDurationSeconds (${maxDurationSeconds}) must not be below durationSeconds (${durationSeconds})`);
        }
        const previous = steps[steps.length - 1];
        if (previous !== undefined && weight <= previous.weight) {
            problems.push(`${where}weight (${weight}) must be above the previous step's weight (${previous.weight})`);
        }
        steps.push({ weight, durationSeconds, maxDurationSeconds });
    });
    return steps;
}
function parseCanary(raw, problems) {
    if (!isObject(raw)) {
        problems.push("canary must be an object holding steps, analysisIntervalSeconds and the comparison criteria");
        return undefined;
    }
    const steps = parseSteps(raw.steps, problems);
    const analysisIntervalSeconds = numberAt(raw, "analysisIntervalSeconds", "canary.", problems, {
        min: 1,
        integer: true,
    });
    const shortest = Math.min(...steps.map((s) => s.durationSeconds));
    if (analysisIntervalSeconds > shortest) {
        problems.push(`canary.analysisIntervalSeconds (${analysisIntervalSeconds}) must not exceed the shortest step duration (${shortest} s)`);
    }
    const criteria = {
        confidence: numberAt(raw, "confidence", "canary.", problems, { min: 0.5, max: 0.9999 }),
        minRequestsPerArm: numberAt(raw, "minRequestsPerArm", "canary.", problems, { min: 1 }),
        minLabeledPredictionsPerArm: numberAt(raw, "minLabeledPredictionsPerArm", "canary.", problems, {
            min: 0,
        }),
        maxErrorRateIncrease: numberAt(raw, "maxErrorRateIncrease", "canary.", problems, { min: 0, max: 1 }),
        maxLatencyP99IncreaseMs: numberAt(raw, "maxLatencyP99IncreaseMs", "canary.", problems, { min: 0 }),
        maxAccuracyDrop: numberAt(raw, "maxAccuracyDrop", "canary.", problems, { min: 0, max: 1 }),
    };
    return { steps, analysisIntervalSeconds, criteria };
}
/**
 * Reads `strategies` and `canary` from a parsed `promotion-evidence` section. Without
 * `strategies` the target accepts all-at-once only; naming "canary" requires the `canary`
 * settings. Every problem is returned at once, each naming its key; with problems the
 * settings must not be used.
 */
function promotionStrategiesOf(section) {
    const problems = [];
    let strategies = [...exports.DEFAULT_STRATEGIES];
    if (section.strategies !== undefined) {
        const raw = section.strategies;
        if (!Array.isArray(raw) || raw.length === 0) {
            problems.push(`strategies must be a non-empty list of ${exports.STRATEGIES.map((s) => `"${s}"`).join(", ")}`);
        }
        else {
            strategies = [];
            for (const s of raw) {
                if (typeof s !== "string" || !exports.STRATEGIES.includes(s)) {
                    problems.push(`strategies: ${JSON.stringify(s)} is not one of ${exports.STRATEGIES.map((x) => `"${x}"`).join(", ")}`);
                }
                else if (strategies.includes(s)) {
                    problems.push(`strategies: "${s}" is named twice`);
                }
                else {
                    strategies.push(s);
                }
            }
        }
    }
    let canary;
    if (section.canary !== undefined) {
        canary = parseCanary(section.canary, problems);
    }
    else if (strategies.includes("canary")) {
        problems.push('strategies names "canary" but there is no canary section with its steps and criteria');
    }
    return { settings: canary === undefined ? { strategies } : { strategies, canary }, problems };
}
