"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.canaryShapeProblem = canaryShapeProblem;
exports.stableChainProblems = stableChainProblems;
exports.stableChainFor = stableChainFor;
const OUTCOMES = ["pass", "inconclusive", "error", "fail"];
const ABORT_CAUSES = ["fail", "inconclusive", "error"];
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** Why `v` is not an object holding exactly `keys` (those in `optional` may be absent), or undefined. */
function objectProblem(v, at, keys, optional = []) {
    if (typeof v !== "object" || v === null || Array.isArray(v))
        return `${at} must be an object`;
    const extra = Object.keys(v).filter((k) => !keys.includes(k));
    if (extra.length > 0)
        return `${at} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")}`;
    const missing = keys.filter((k) => !optional.includes(k) && !(k in v));
    if (missing.length > 0)
        return `${at} is missing ${missing.join(", ")}`;
    return undefined;
}
const finite = (v) => typeof v === "number" && Number.isFinite(v);
const count = (v) => finite(v) && Number.isInteger(v) && v >= 0;
const finiteOrNull = (v) => v === null || finite(v);
const timestamp = (v) => typeof v === "string" && RFC3339.test(v) && !Number.isNaN(Date.parse(v));
/** Why `v` is not a list whose every item `each` accepts (the first problem), or undefined. */
function listProblem(v, at, each) {
    if (!Array.isArray(v))
        return `${at} must be a list`;
    for (const [i, item] of v.entries()) {
        const problem = each(item, `${at}[${i}]`);
        if (problem !== undefined)
            return problem;
    }
    return undefined;
}
function checkProblem(c, at) {
    const keys = ["name", "status", "canary", "stable", "worseBy", "margin"];
    const shape = objectProblem(c, at, keys);
    if (shape !== undefined)
        return shape;
    const o = c;
    if (typeof o.name !== "string" || o.name === "")
        return `${at}.name must be a non-empty string`;
    if (!OUTCOMES.includes(o.status))
        return `${at}.status must be one of ${OUTCOMES.join(", ")}`;
    if (!finiteOrNull(o.canary))
        return `${at}.canary must be a finite number or null`;
    if (!finiteOrNull(o.stable))
        return `${at}.stable must be a finite number or null`;
    if (o.worseBy !== null) {
        const w = objectProblem(o.worseBy, `${at}.worseBy`, ["lower", "upper"]);
        if (w !== undefined)
            return `${w} {lower, upper} or null`;
        const b = o.worseBy;
        if (!finiteOrNull(b.lower) || !finiteOrNull(b.upper))
            return `${at}.worseBy.lower and .upper must be finite numbers or null`;
    }
    if (!finite(o.margin))
        return `${at}.margin must be a finite number`;
    return undefined;
}
function stepProblem(s, at) {
    const keys = ["weight", "canaryReplicas", "stableReplicas", "window", "verdict", "reason", "checks"];
    const shape = objectProblem(s, at, keys);
    if (shape !== undefined)
        return shape;
    const o = s;
    if (!finite(o.weight))
        return `${at}.weight must be a finite number`;
    for (const k of ["canaryReplicas", "stableReplicas"]) {
        if (!count(o[k]))
            return `${at}.${k} must be a non-negative integer`;
    }
    const w = objectProblem(o.window, `${at}.window`, ["start", "end"]);
    if (w !== undefined)
        return `${w} {start, end}`;
    const window = o.window;
    if (!timestamp(window.start) || !timestamp(window.end))
        return `${at}.window.start and .end must be RFC3339 timestamps`;
    if (!OUTCOMES.includes(o.verdict))
        return `${at}.verdict must be one of ${OUTCOMES.join(", ")}`;
    if (typeof o.reason !== "string")
        return `${at}.reason must be a string`;
    return listProblem(o.checks, `${at}.checks`, checkProblem);
}
/**
 * What is wrong with the shape of an evidence record's canary part, as a sentence starting at
 * `at`, or undefined. No field is unknown or missing at any level (`aborted` is optional); the
 * signature covers the part, and this keeps a malformed one from reaching the chain rule.
 */
function canaryShapeProblem(v, at = "canary") {
    const shape = objectProblem(v, at, ["strategy", "stableVersion", "steps", "aborted"], ["aborted"]);
    if (shape !== undefined)
        return `${shape} {strategy, stableVersion, steps[, aborted]}`;
    const o = v;
    if (o.strategy !== "canary")
        return `${at}.strategy must be "canary" (got ${JSON.stringify(o.strategy)})`;
    if (typeof o.stableVersion !== "string" || o.stableVersion.trim() === "")
        return `${at}.stableVersion must be a non-empty string`;
    const steps = listProblem(o.steps, `${at}.steps`, stepProblem);
    if (steps !== undefined)
        return steps;
    if (o.aborted !== undefined) {
        const a = objectProblem(o.aborted, `${at}.aborted`, ["cause", "reason"]);
        if (a !== undefined)
            return `${a} {cause, reason}`;
        const aborted = o.aborted;
        if (!ABORT_CAUSES.includes(aborted.cause))
            return `${at}.aborted.cause must be one of ${ABORT_CAUSES.join(", ")}`;
        if (typeof aborted.reason !== "string")
            return `${at}.aborted.reason must be a string`;
    }
    return undefined;
}
/**
 * Why production's stable version may not run with this evidence, or [] when it may. Rules,
 * in order:
 * - rollback evidence returns to an earlier promoted version: always allowed (its embedded
 *   promotion evidence is verified as before);
 * - promotion evidence without a canary part is an all-at-once promotion: allowed only when
 *   the target accepts "all-at-once";
 * - promotion evidence with a canary part must show the canary passed: not aborted, compared
 *   with another version, and a passing verdict for every step the target configures, at the
 *   configured weights and in order; "canary" must be accepted.
 */
function stableChainProblems(subject, strategies, configuredWeights) {
    if (subject.kind === "rollback")
        return [];
    const v = subject.modelVersion;
    const c = subject.canary;
    if (c === undefined) {
        return strategies.includes("all-at-once")
            ? []
            : [
                `the evidence of ${v} shows no canary, and this target accepts only ${strategies.join(", ")}: ` +
                    "the stable may move only to a version that passed its canary in production (or back to an earlier promoted one)",
            ];
    }
    const problems = [];
    if (!strategies.includes("canary"))
        problems.push(`this target does not accept canary promotions`);
    if (c.strategy !== "canary")
        problems.push(`the evidence's canary part names the strategy ${JSON.stringify(c.strategy)}`);
    if (c.aborted !== undefined)
        problems.push(`the canary of ${v} was aborted (${c.aborted.cause}): ${c.aborted.reason}`);
    if (c.stableVersion === v)
        problems.push(`the canary of ${v} was compared with ${v} itself`);
    const weights = c.steps.map((s) => s.weight);
    if (weights.join(",") !== configuredWeights.join(",")) {
        problems.push(`the canary of ${v} ran the steps ${weights.join(" → ") || "none"} %, but this target configures ${configuredWeights.join(" → ")} %`);
    }
    for (const s of c.steps) {
        if (s.verdict !== "pass")
            problems.push(`the canary of ${v} did not pass its ${s.weight} % step (${s.verdict})`);
    }
    return problems;
}
/** stableChainProblems with the weights the target configures (none without canary settings). */
function stableChainFor(subject, policy) {
    return stableChainProblems(subject, policy.strategies, (policy.canary?.steps ?? []).map((s) => s.weight));
}
