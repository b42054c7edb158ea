"use strict";
/**
 * How the gate analyses a window (docs/analysis.md): the keys beside the thresholds in the
 * `promotion-evidence` section of the policy config, with their defaults. The gate, the
 * evidence record and the policy pack read them from here.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.ANALYSIS_CONFIG_SCHEMA = exports.ANALYSIS_KEYS = exports.DEFAULT_ANALYSIS = exports.CHECK_NAMES = void 0;
exports.parseAnalysisSettings = parseAnalysisSettings;
exports.intervalConfidence = intervalConfidence;
/** Every check the gate can run, in the order it reports them. */
exports.CHECK_NAMES = [
    "accuracy",
    "latency_p99",
    "error_rate",
    "uptime",
    "soak_time",
    "samples",
    "freshness",
    "baseline_accuracy",
    "baseline_latency_p99",
    "baseline_error_rate",
];
exports.DEFAULT_ANALYSIS = Object.freeze({
    confidence: 0.95,
    analysisIntervalMinutes: 60,
    maxFailedIntervals: 0,
    maxStalenessSeconds: 120,
    checkModes: Object.freeze({}),
});
exports.ANALYSIS_KEYS = [
    "confidence",
    "analysisIntervalMinutes",
    "maxFailedIntervals",
    "maxStalenessSeconds",
    "checkModes",
];
/** The pack's configSchema entries (JSON schema) for the analysis keys, with their defaults. */
exports.ANALYSIS_CONFIG_SCHEMA = {
    confidence: {
        type: "number",
        minimum: 0.5,
        exclusiveMaximum: 1,
        default: exports.DEFAULT_ANALYSIS.confidence,
        description: "Confidence of the exact (Clopper-Pearson) and Newcombe intervals the gate judges on.",
    },
    analysisIntervalMinutes: {
        type: "number",
        exclusiveMinimum: 0,
        default: exports.DEFAULT_ANALYSIS.analysisIntervalMinutes,
        description: "Length of the consecutive intervals the window is judged in, minutes.",
    },
    maxFailedIntervals: {
        type: "integer",
        minimum: 0,
        default: exports.DEFAULT_ANALYSIS.maxFailedIntervals,
        description: "Confidently bad intervals a metric tolerates (0: none).",
    },
    maxStalenessSeconds: {
        type: "number",
        exclusiveMinimum: 0,
        default: exports.DEFAULT_ANALYSIS.maxStalenessSeconds,
        description: "Longest gap in the version's scrape samples that still counts as up; oldest newest sample.",
    },
    checkModes: {
        type: "object",
        default: {},
        propertyNames: { enum: [...exports.CHECK_NAMES] },
        additionalProperties: { enum: ["enforce", "dryRun"] },
        description: "Checks that are measured and reported but never decide (dryRun).",
    },
};
/**
 * The analysis settings of a `promotion-evidence` section; absent keys take their defaults.
 * Returns the problems (each naming the key) instead of throwing, so a caller can report them
 * together with its own.
 */
function parseAnalysisSettings(section) {
    const problems = [];
    const num = (key, fallback, ok, rule) => {
        const v = section[key];
        if (v === undefined)
            return fallback;
        if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) {
            problems.push(`${key} must be ${rule} (got ${JSON.stringify(v)})`);
            return fallback;
        }
        return v;
    };
    const confidence = num("confidence", exports.DEFAULT_ANALYSIS.confidence, (v) => v >= 0.5 && v < 1, "a number from 0.5 up to, not including, 1");
    const analysisIntervalMinutes = num("analysisIntervalMinutes", exports.DEFAULT_ANALYSIS.analysisIntervalMinutes, (v) => Math.abs(v * 60 - Math.round(v * 60)) < 1e-9 && Math.round(v * 60) >= 1, "a positive number of minutes that is a whole number of seconds");
    const maxFailedIntervals = num("maxFailedIntervals", exports.DEFAULT_ANALYSIS.maxFailedIntervals, (v) => Number.isInteger(v) && v >= 0, "a whole number ≥ 0");
    const maxStalenessSeconds = num("maxStalenessSeconds", exports.DEFAULT_ANALYSIS.maxStalenessSeconds, (v) => Number.isInteger(v) && v >= 1, "a whole number of seconds ≥ 1");
    if (problems.length === 0 && analysisIntervalMinutes * 60 < maxStalenessSeconds) {
        problems.push(`analysisIntervalMinutes (${analysisIntervalMinutes} min) must be at least maxStalenessSeconds (${maxStalenessSeconds} s)`);
    }
    const checkModes = {};
    const modes = section.checkModes;
    if (modes !== undefined) {
        if (typeof modes !== "object" || modes === null || Array.isArray(modes)) {
            problems.push(`checkModes must be an object of check name → "enforce" | "dryRun"`);
        }
        else {
            for (const [name, mode] of Object.entries(modes)) {
                if (!exports.CHECK_NAMES.includes(name)) {
                    problems.push(`checkModes.${name}: no such check (known: ${exports.CHECK_NAMES.join(", ")})`);
                }
                else if (mode !== "enforce" && mode !== "dryRun") {
                    problems.push(`checkModes.${name} must be "enforce" or "dryRun" (got ${JSON.stringify(mode)})`);
                }
                else {
                    checkModes[name] = mode;
                }
            }
        }
    }
    return {
        settings: { confidence, analysisIntervalMinutes, maxFailedIntervals, maxStalenessSeconds, checkModes },
        problems,
    };
}
/** The confidence each interval is judged at: Bonferroni over `count` intervals. */
function intervalConfidence(confidence, count) {
    return count <= 1 ? confidence : 1 - (1 - confidence) / count;
}
