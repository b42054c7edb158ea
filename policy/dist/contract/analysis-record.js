"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.INTERVAL_CHECKS = void 0;
exports.analysisProblems = analysisProblems;
exports.analysisShapeProblem = analysisShapeProblem;
const stats_1 = require("./stats");
/** The metrics judged in intervals. */
exports.INTERVAL_CHECKS = ["accuracy", "latency_p99", "error_rate", "uptime"];
const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
/**
 * Every reason an analysis record does not show a pass under `settings` (the policy
 * config's) and `thresholds`, as sentences; [] means it does. Rules, in order:
 * - the method must be the gate's (clopper-pearson) and no weaker than the policy config's:
 *   confidence at least, intervals no longer, failed intervals and staleness no more, the
 *   interval confidence the Bonferroni one of its intervals;
 * - a check the record calls a dry run must be a dry run in the policy config too;
 * - every enforced bound is re-derived from the recorded counts and must match the recorded
 *   one and meet its threshold (accuracy, error rate, the share of requests above the latency
 *   bound, uptime, freshness, the soak measured from the data, the sample floors);
 * - the intervals: as many as the method names, accuracy and error-rate outcomes re-derived
 *   from their counts, no metric with more confidently bad intervals than allowed, none in error.
 */
function analysisProblems(label, record, settings, thresholds, windowEnd) {
    const problems = [];
    const m = record.method;
    const say = (s) => problems.push(`${label}: ${s}`);
    if (m.method !== "clopper-pearson")
        say(`names the method ${JSON.stringify(m.method)}, not clopper-pearson`);
    if (!(m.confidence >= settings.confidence)) {
        say(`was judged at confidence ${m.confidence}, weaker than the policy's ${settings.confidence}`);
    }
    if (!(m.analysisIntervalMinutes <= settings.analysisIntervalMinutes)) {
        say(`used intervals of ${m.analysisIntervalMinutes} min, longer than the policy's ${settings.analysisIntervalMinutes}`);
    }
    if (!(m.maxFailedIntervals <= settings.maxFailedIntervals)) {
        say(`tolerated ${m.maxFailedIntervals} failed intervals, more than the policy's ${settings.maxFailedIntervals}`);
    }
    if (!(m.maxStalenessSeconds <= settings.maxStalenessSeconds)) {
        say(`tolerated ${m.maxStalenessSeconds} s of staleness, more than the policy's ${settings.maxStalenessSeconds}`);
    }
    const expectedIc = m.intervals <= 1 ? m.confidence : 1 - (1 - m.confidence) / m.intervals;
    if (!close(m.intervalConfidence, expectedIc)) {
        say(`judged intervals at ${m.intervalConfidence}, not the Bonferroni ${expectedIc} over ${m.intervals}`);
    }
    if (problems.length > 0)
        return problems;
    const enforced = (name) => !record.dryRun.includes(name);
    for (const name of record.dryRun) {
        if ((settings.checkModes[name] ?? "enforce") !== "dryRun")
            say(`treats ${name} as a dry run; the policy enforces it`);
    }
    const c = record.counts;
    const t = thresholds;
    const derive = (x, n) => n > 0 && x >= 0 && x <= n ? (0, stats_1.clopperPearson)(x, n, m.confidence) : undefined;
    if (enforced("accuracy")) {
        const b = derive(c.correct, c.labeled);
        if (b === undefined)
            say(`records ${c.correct} correct of ${c.labeled} labeled predictions`);
        else if (!close(b.lower, record.bounds.accuracy[0]) || !close(b.upper, record.bounds.accuracy[1])) {
            say(`records accuracy bounds [${record.bounds.accuracy.join(", ")}] that its counts do not give ([${b.lower}, ${b.upper}])`);
        }
        else if (b.lower < t.minAccuracy)
            say(`accuracy's lower bound ${b.lower} is below the minimum ${t.minAccuracy}`);
    }
    if (enforced("error_rate")) {
        const b = derive(c.serverErrors, c.requests);
        if (b === undefined)
            say(`records ${c.serverErrors} 5xx responses of ${c.requests} requests`);
        else if (!close(b.lower, record.bounds.errorRate[0]) || !close(b.upper, record.bounds.errorRate[1])) {
            say(`records error-rate bounds [${record.bounds.errorRate.join(", ")}] that its counts do not give ([${b.lower}, ${b.upper}])`);
        }
        else if (b.upper > t.maxErrorRate)
            say(`error rate's upper bound ${b.upper} is above the maximum ${t.maxErrorRate}`);
    }
    if (enforced("latency_p99")) {
        const ok = c.latencyBoundMs <= t.maxLatencyP99Ms &&
            c.latencyRequests > 0 &&
            c.latencyAboveBound >= 0 &&
            c.latencyAboveBound <= c.latencyRequests &&
            (0, stats_1.upperAtMost)(c.latencyAboveBound, c.latencyRequests, 0.01, m.confidence);
        if (!ok) {
            say(`${c.latencyAboveBound} of ${c.latencyRequests} requests above ${c.latencyBoundMs} ms do not show a p99 ≤ ${t.maxLatencyP99Ms} ms`);
        }
    }
    if (enforced("uptime") && !(c.uptime >= t.minUptime))
        say(`uptime ${c.uptime} is below the minimum ${t.minUptime}`);
    const end = Date.parse(windowEnd) / 1000;
    if (enforced("freshness") && !(end - c.lastSample <= m.maxStalenessSeconds)) {
        say(`its newest scrape sample is ${end - c.lastSample} s older than the window's end`);
    }
    if (enforced("soak_time") && !((end - c.firstSample) / 3600 >= t.minSoakHours)) {
        say(`its data cover only ${(end - c.firstSample) / 3600} h; ${t.minSoakHours} h are required`);
    }
    if (enforced("samples") && !(c.requests >= t.minRequests && c.labeled >= t.minLabeledPredictions)) {
        say(`${c.requests} requests and ${c.labeled} labeled predictions are below the floors`);
    }
    if (record.intervals.length !== m.intervals) {
        say(`records ${record.intervals.length} intervals where its method names ${m.intervals}`);
    }
    if (m.intervals === 0)
        say("has no analysis intervals: the window was shorter than one");
    for (const name of exports.INTERVAL_CHECKS) {
        if (!enforced(name))
            continue;
        const failed = record.intervals.filter((i) => i.outcomes[name] === "fail").length;
        if (failed > m.maxFailedIntervals)
            say(`${failed} intervals of ${name} failed; at most ${m.maxFailedIntervals} may`);
        if (record.intervals.some((i) => i.outcomes[name] === "error"))
            say(`an interval of ${name} could not be measured`);
    }
    // Re-derive the proportion outcomes of the intervals from their counts.
    const rederive = (x, n, threshold, dir) => {
        if (x === null || n === null || !(n > 0) || x < 0 || x > n * (1 + 1e-9))
            return undefined;
        const b = (0, stats_1.clopperPearson)(Math.min(x, n), n, m.intervalConfidence);
        return dir === "min"
            ? b.upper < threshold
                ? "fail"
                : undefined
            : b.lower > threshold
                ? "fail"
                : undefined;
    };
    record.intervals.forEach((i) => {
        if (enforced("accuracy") &&
            rederive(i.correct, i.labeled, t.minAccuracy, "min") === "fail" &&
            i.outcomes.accuracy !== "fail") {
            say(`interval ${i.start} → ${i.end}: its counts give a failed accuracy, recorded as ${i.outcomes.accuracy}`);
        }
        if (enforced("error_rate") &&
            rederive(i.serverErrors, i.requests, t.maxErrorRate, "max") === "fail" &&
            i.outcomes.error_rate !== "fail") {
            say(`interval ${i.start} → ${i.end}: its counts give a failed error rate, recorded as ${i.outcomes.error_rate}`);
        }
    });
    return problems;
}
/** Why a value is not an analysis record's shape (the numbers are checked by analysisProblems), or undefined. */
function analysisShapeProblem(value) {
    const obj = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
    if (!obj(value))
        return "must be an object";
    const { method, counts, bounds, dryRun, intervals } = value;
    if (!obj(method) || typeof method.method !== "string")
        return "must name its method";
    for (const k of [
        "confidence",
        "intervalConfidence",
        "analysisIntervalMinutes",
        "intervals",
        "maxFailedIntervals",
        "maxStalenessSeconds",
    ]) {
        if (typeof method[k] !== "number" || !Number.isFinite(method[k]))
            return `.method.${k} must be a finite number`;
    }
    if (!obj(counts))
        return "must hold its counts";
    for (const k of [
        "labeled",
        "correct",
        "requests",
        "serverErrors",
        "latencyRequests",
        "latencyAboveBound",
        "latencyBoundMs",
        "uptime",
        "firstSample",
        "lastSample",
    ]) {
        if (typeof counts[k] !== "number" || !Number.isFinite(counts[k]))
            return `.counts.${k} must be a finite number`;
    }
    const pairOk = (v) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number" && Number.isFinite(x));
    if (!obj(bounds) || !pairOk(bounds.accuracy) || !pairOk(bounds.errorRate))
        return "must hold its accuracy and errorRate bounds";
    if (!Array.isArray(dryRun) || dryRun.some((d) => typeof d !== "string"))
        return ".dryRun must be a list of check names";
    if (!Array.isArray(intervals))
        return ".intervals must be a list";
    for (const i of intervals) {
        if (!obj(i) || typeof i.start !== "string" || typeof i.end !== "string" || !obj(i.outcomes)) {
            return ".intervals must hold start, end and outcomes";
        }
        for (const k of ["labeled", "correct", "requests", "serverErrors"]) {
            if (i[k] !== null && (typeof i[k] !== "number" || !Number.isFinite(i[k])))
                return `.intervals[].${k} must be a number or null`;
        }
    }
    return undefined;
}
