"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.normalQuantile = normalQuantile;
exports.zFor = zFor;
exports.wilson = wilson;
exports.newcombeDifference = newcombeDifference;
exports.histogramQuantile = histogramQuantile;
exports.trialsToDecide = trialsToDecide;
exports.normaliseBuckets = normaliseBuckets;
exports.quantileBounds = quantileBounds;
exports.betaRegularized = betaRegularized;
exports.clopperPearson = clopperPearson;
exports.upperAtMost = upperAtMost;
exports.lowerAbove = lowerAbove;
/**
 * Confidence intervals for the judgements: proportions (Wilson score), the difference of two
 * proportions (Newcombe's hybrid score interval) and a quantile read from a Prometheus
 * histogram (distribution-free, by order-statistic ranks). Pure arithmetic, no I/O; counts may
 * be fractional because Prometheus' `increase()` extrapolates. Invalid input throws a
 * ContractError naming the argument, so a caller can turn it into an `error` outcome.
 * The methods and their limits are described in docs/canary.md; the promotion gate's exact
 * (Clopper–Pearson) bounds and its bucket-resolution p99 bounds below are in docs/analysis.md.
 */
const errors_1 = require("./errors");
// Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
const A = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
/** The standard normal quantile Φ⁻¹(p) for 0 < p < 1. */
function normalQuantile(p) {
    if (!(p > 0 && p < 1))
        throw new errors_1.ContractError(`normalQuantile: p (${p}) must lie strictly between 0 and 1`);
    const low = 0.02425;
    if (p < low) {
        const q = Math.sqrt(-2 * Math.log(p));
        return ((((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
            ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1));
    }
    if (p > 1 - low)
        return -normalQuantile(1 - p);
    const q = p - 0.5;
    const r = q * q;
    return (((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
        (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1));
}
/** The two-sided z value of a confidence level, e.g. 0.95 → 1.95996. */
function zFor(confidence) {
    if (!(confidence > 0 && confidence < 1)) {
        throw new errors_1.ContractError(`confidence (${confidence}) must lie strictly between 0 and 1`);
    }
    return normalQuantile(1 - (1 - confidence) / 2);
}
function checkCounts(what, successes, n) {
    if (!Number.isFinite(n) || n <= 0)
        throw new errors_1.ContractError(`${what}: the count of trials (${n}) must be a finite number > 0`);
    if (!Number.isFinite(successes) || successes < 0) {
        throw new errors_1.ContractError(`${what}: the count of events (${successes}) must be a finite number ≥ 0`);
    }
    if (successes > n)
        throw new errors_1.ContractError(`${what}: ${successes} events out of ${n} trials is more than all of them`);
}
/**
 * The Wilson score interval of a proportion `successes / n`. Unlike the normal ("Wald")
 * interval it never leaves [0, 1] and stays honest at 0 and at n events.
 */
function wilson(successes, n, confidence) {
    checkCounts("wilson", successes, n);
    const z = zFor(confidence);
    const p = successes / n;
    const z2 = z * z;
    const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
    return { estimate: p, lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}
/**
 * Newcombe's hybrid score interval (his method 10) for the difference p₁ − p₂ of two
 * independent proportions, built from the two Wilson intervals.
 */
function newcombeDifference(successes1, n1, successes2, n2, confidence) {
    const a = wilson(successes1, n1, confidence);
    const b = wilson(successes2, n2, confidence);
    const d = a.estimate - b.estimate;
    return {
        estimate: d,
        lower: d - Math.sqrt((a.estimate - a.lower) ** 2 + (b.upper - b.estimate) ** 2),
        upper: d + Math.sqrt((a.upper - a.estimate) ** 2 + (b.estimate - b.lower) ** 2),
    };
}
/**
 * A quantile `q` of a cumulative histogram with its distribution-free interval: the ranks
 * nq ∓ z·√(nq(1−q)) of the order statistics, mapped to the bounds of the buckets that hold
 * them. The lower bound is the lower edge of the bucket holding the lower rank, the upper bound
 * the upper edge of the bucket holding the upper rank; when the upper rank lies beyond the
 * observations, or in the +Inf bucket, the upper bound is +Infinity (the data cannot bound it).
 * The estimate interpolates linearly inside its bucket, as Prometheus' histogram_quantile does.
 */
function histogramQuantile(buckets, q, confidence) {
    if (!(q > 0 && q < 1))
        throw new errors_1.ContractError(`histogramQuantile: q (${q}) must lie strictly between 0 and 1`);
    if (buckets.length === 0)
        throw new errors_1.ContractError("histogramQuantile: no buckets");
    const sorted = [...buckets].sort((x, y) => x.le - y.le);
    if (sorted[sorted.length - 1].le !== Infinity) {
        throw new errors_1.ContractError("histogramQuantile: the buckets must end with le=+Inf");
    }
    for (let i = 0; i < sorted.length; i += 1) {
        const b = sorted[i];
        if (!Number.isFinite(b.count) || b.count < 0) {
            throw new errors_1.ContractError(`histogramQuantile: bucket le=${b.le} has count ${b.count}`);
        }
        if (i > 0 && b.count < sorted[i - 1].count - 1e-9) {
            throw new errors_1.ContractError(`histogramQuantile: bucket le=${b.le} counts fewer than the bucket below it`);
        }
    }
    const n = sorted[sorted.length - 1].count;
    if (!(n > 0))
        throw new errors_1.ContractError("histogramQuantile: the histogram holds no observations");
    /** Index of the first bucket whose cumulative count reaches rank r. */
    const bucketOf = (r) => {
        const i = sorted.findIndex((b) => b.count >= r - 1e-9);
        return i === -1 ? sorted.length - 1 : i;
    };
    const lowerEdge = (i) => (i === 0 ? 0 : sorted[i - 1].le);
    const rank = n * q;
    const i = bucketOf(rank);
    let estimate;
    if (sorted[i].le === Infinity) {
        estimate = i === 0 ? Infinity : sorted[i - 1].le;
    }
    else {
        const below = i === 0 ? 0 : sorted[i - 1].count;
        const inBucket = sorted[i].count - below;
        const lo = lowerEdge(i);
        estimate = inBucket > 0 ? lo + ((sorted[i].le - lo) * (rank - below)) / inBucket : sorted[i].le;
    }
    const spread = zFor(confidence) * Math.sqrt(n * q * (1 - q));
    const lowRank = Math.floor(rank - spread);
    const highRank = Math.ceil(rank + spread);
    const lower = lowRank < 1 ? 0 : lowerEdge(bucketOf(lowRank));
    const upper = highRank > n ? Infinity : sorted[bucketOf(highRank)].le;
    return { estimate, lower, upper };
}
// ------------------------------------------------------------------------------------------
// The promotion gate's bounds (docs/analysis.md)
/**
 * The trials needed, at the same observed proportion, for the exact interval to clear
 * `threshold` on the side that decides (lower ≥ threshold when the proportion is above it,
 * upper < threshold when below); undefined when the proportion equals the threshold or no
 * number of trials up to 1e9 would do.
 */
function trialsToDecide(proportion, threshold, confidence) {
    if (proportion === threshold || !Number.isFinite(proportion))
        return undefined;
    const clears = (n) => {
        const w = clopperPearson(proportion * n, n, confidence);
        return proportion > threshold ? w.lower >= threshold : w.upper < threshold;
    };
    let hi = 1;
    while (!clears(hi)) {
        hi *= 2;
        if (hi > 1e9)
            return undefined;
    }
    let lo = hi / 2;
    while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (clears(mid))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}
/**
 * Buckets sorted by bound with counts made monotonic (as Prometheus does), or a reason they
 * cannot be used: no +Inf bucket, a non-finite or negative count.
 */
function normaliseBuckets(buckets) {
    if (buckets.length === 0)
        return "the histogram has no buckets";
    const sorted = [...buckets].sort((a, b) => a.le - b.le);
    if (sorted.at(-1).le !== Infinity)
        return 'the histogram has no le="+Inf" bucket';
    for (const b of sorted) {
        if (Number.isNaN(b.le))
            return "a bucket bound is NaN";
        if (!Number.isFinite(b.count) || b.count < 0)
            return `bucket le=${b.le} has count ${b.count}`;
    }
    let running = 0;
    return sorted.map((b) => {
        running = Math.max(running, b.count);
        return { le: b.le, count: running };
    });
}
/**
 * Where a quantile confidently lies, at bucket resolution, on exact (Clopper–Pearson) bounds
 * of the share of requests above each bound: `upper` is the smallest bound b whose share above
 * is at most 1 − q by its upper bound (so the quantile is ≤ b), Infinity when no finite bound
 * qualifies (unmeasurable with these buckets); `lower` is the largest bound whose share above
 * exceeds 1 − q by its lower bound (so the quantile is > lower), 0 when none does.
 */
function quantileBounds(q, buckets, confidence) {
    const total = buckets.at(-1)?.count ?? 0;
    if (!(total > 0))
        return { lower: 0, upper: Infinity };
    const tail = 1 - q;
    const finite = buckets.filter((b) => b.le !== Infinity);
    const above = (b) => Math.min(total, Math.max(0, total - b.count));
    // Shares above fall as bounds rise: scan from each end and stop at the first that qualifies.
    const upper = finite.find((b) => upperAtMost(above(b), total, tail, confidence))?.le ?? Infinity;
    const lower = [...finite].reverse().find((b) => lowerAbove(above(b), total, tail, confidence))?.le ?? 0;
    return { lower, upper };
}
// ------------------------------------------------------------------------------------------
// Exact (Clopper–Pearson) intervals
/** ln Γ(x), x > 0 (Lanczos, g = 7, n = 9: relative error below 1e-15). */
function logGamma(x) {
    const g = [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];
    if (x < 0.5)
        return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
    const y = x - 1;
    let a = g[0];
    const t = y + 7.5;
    for (let i = 1; i < 9; i++)
        a += g[i] / (y + i);
    return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}
/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(x, a, b) {
    const tiny = 1e-300;
    let c = 1;
    let d = 1 - ((a + b) * x) / (a + 1);
    if (Math.abs(d) < tiny)
        d = tiny;
    d = 1 / d;
    let h = d;
    for (let m = 1; m <= 100_000; m++) {
        const m2 = 2 * m;
        let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
        d = 1 + aa * d;
        if (Math.abs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (Math.abs(c) < tiny)
            c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
        d = 1 + aa * d;
        if (Math.abs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (Math.abs(c) < tiny)
            c = tiny;
        d = 1 / d;
        const del = d * c;
        h *= del;
        if (Math.abs(del - 1) < 1e-15)
            break;
    }
    return h;
}
/** The regularized incomplete beta function I_x(a, b), 0 ≤ x ≤ 1, a, b > 0. */
function betaRegularized(x, a, b) {
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
    const front = Math.exp(lnFront);
    return x < (a + 1) / (a + b + 2)
        ? (front * betaFraction(x, a, b)) / a
        : 1 - (front * betaFraction(1 - x, b, a)) / b;
}
/** ln of the beta density's normalising constant B(a, b). */
function logBeta(a, b) {
    return logGamma(a) + logGamma(b) - logGamma(a + b);
}
/**
 * The x with I_x(a, b) = p: Newton steps on the beta density from `seed`, kept inside a
 * shrinking bracket (bisection when a step leaves it), to 1e-14.
 */
function betaQuantile(p, a, b, seed) {
    let lo = 0;
    let hi = 1;
    let x = Math.min(1 - 1e-12, Math.max(1e-12, seed));
    const lnB = logBeta(a, b);
    for (let i = 0; i < 200; i++) {
        const f = betaRegularized(x, a, b) - p;
        if (f < 0)
            lo = x;
        else
            hi = x;
        const density = Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log(1 - x) - lnB);
        let next = density > 0 && Number.isFinite(density) ? x - f / density : NaN;
        if (!(next > lo && next < hi))
            next = (lo + hi) / 2;
        if (Math.abs(next - x) < 1e-14 || hi - lo < 1e-14)
            return next;
        x = next;
    }
    return x;
}
/**
 * The exact (Clopper–Pearson) interval of `successes` out of `trials` at `confidence`
 * (two-sided), from beta quantiles, so fractional counts work too. Its coverage is never below
 * the confidence, also for few trials, where the Wilson interval can be too narrow (one slow
 * request out of one would otherwise count as confidently more than 1 % slow).
 */
function clopperPearson(successes, trials, confidence) {
    if (!(trials > 0) || !Number.isFinite(trials))
        throw new errors_1.ContractError(`clopperPearson needs trials > 0 (got ${trials})`);
    if (!(successes >= 0 && successes <= trials)) {
        throw new errors_1.ContractError(`clopperPearson needs 0 ≤ successes ≤ trials (got ${successes} of ${trials})`);
    }
    if (!(confidence > 0 && confidence < 1)) {
        throw new errors_1.ContractError(`confidence must lie strictly between 0 and 1 (got ${confidence})`);
    }
    const alpha = 1 - confidence;
    const seed = wilson(successes, trials, confidence);
    return {
        lower: successes === 0 ? 0 : betaQuantile(alpha / 2, successes, trials - successes + 1, seed.lower),
        upper: successes === trials ? 1 : betaQuantile(1 - alpha / 2, successes + 1, trials - successes, seed.upper),
    };
}
/** Whether the exact upper bound of successes/trials is at most `threshold` (one beta evaluation). */
function upperAtMost(successes, trials, threshold, confidence) {
    if (successes >= trials)
        return threshold >= 1;
    if (threshold >= 1)
        return true;
    if (threshold <= 0)
        return false;
    return betaRegularized(threshold, successes + 1, trials - successes) >= 1 - (1 - confidence) / 2;
}
/** Whether the exact lower bound of successes/trials is above `threshold` (one beta evaluation). */
function lowerAbove(successes, trials, threshold, confidence) {
    if (successes <= 0)
        return false;
    if (threshold >= 1)
        return false;
    if (threshold < 0)
        return true;
    return betaRegularized(threshold, successes, trials - successes + 1) < (1 - confidence) / 2;
}
