/**
 * Confidence intervals for the judgements: proportions (Wilson score), the difference of two
 * proportions (Newcombe's hybrid score interval) and a quantile read from a Prometheus
 * histogram (distribution-free, by order-statistic ranks). Pure arithmetic, no I/O; counts may
 * be fractional because Prometheus' `increase()` extrapolates. Invalid input throws a
 * RangeError naming the argument, so a caller can turn it into an `error` outcome.
 * The methods and their limits are described in docs/canary.md.
 */

/** An estimate with the bounds of its two-sided interval at the requested confidence. */
export interface Interval {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
}

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
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p (${p}) must lie strictly between 0 and 1`);
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
      ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
    (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1)
  );
}

/** The two-sided z value of a confidence level, e.g. 0.95 → 1.95996. */
export function zFor(confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence (${confidence}) must lie strictly between 0 and 1`);
  }
  return normalQuantile(1 - (1 - confidence) / 2);
}

function checkCounts(what: string, successes: number, n: number): void {
  if (!Number.isFinite(n) || n <= 0)
    throw new RangeError(`${what}: the count of trials (${n}) must be a finite number > 0`);
  if (!Number.isFinite(successes) || successes < 0) {
    throw new RangeError(`${what}: the count of events (${successes}) must be a finite number ≥ 0`);
  }
  if (successes > n)
    throw new RangeError(`${what}: ${successes} events out of ${n} trials is more than all of them`);
}

/**
 * The Wilson score interval of a proportion `successes / n`. Unlike the normal ("Wald")
 * interval it never leaves [0, 1] and stays honest at 0 and at n events.
 */
export function wilson(successes: number, n: number, confidence: number): Interval {
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
export function newcombeDifference(
  successes1: number,
  n1: number,
  successes2: number,
  n2: number,
  confidence: number,
): Interval {
  const a = wilson(successes1, n1, confidence);
  const b = wilson(successes2, n2, confidence);
  const d = a.estimate - b.estimate;
  return {
    estimate: d,
    lower: d - Math.sqrt((a.estimate - a.lower) ** 2 + (b.upper - b.estimate) ** 2),
    upper: d + Math.sqrt((a.upper - a.estimate) ** 2 + (b.estimate - b.lower) ** 2),
  };
}

/** One cumulative histogram bucket: `count` observations were ≤ `le` (the last `le` is +Inf). */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

/**
 * A quantile `q` of a cumulative histogram with its distribution-free interval: the ranks
 * nq ∓ z·√(nq(1−q)) of the order statistics, mapped to the bounds of the buckets that hold
 * them. The lower bound is the lower edge of the bucket holding the lower rank, the upper bound
 * the upper edge of the bucket holding the upper rank; when the upper rank lies beyond the
 * observations, or in the +Inf bucket, the upper bound is +Infinity (the data cannot bound it).
 * The estimate interpolates linearly inside its bucket, as Prometheus' histogram_quantile does.
 */
export function histogramQuantile(buckets: readonly Bucket[], q: number, confidence: number): Interval {
  if (!(q > 0 && q < 1))
    throw new RangeError(`histogramQuantile: q (${q}) must lie strictly between 0 and 1`);
  if (buckets.length === 0) throw new RangeError("histogramQuantile: no buckets");
  const sorted = [...buckets].sort((x, y) => x.le - y.le);
  if (sorted[sorted.length - 1].le !== Infinity) {
    throw new RangeError("histogramQuantile: the buckets must end with le=+Inf");
  }
  for (let i = 0; i < sorted.length; i += 1) {
    const b = sorted[i];
    if (!Number.isFinite(b.count) || b.count < 0) {
      throw new RangeError(`histogramQuantile: bucket le=${b.le} has count ${b.count}`);
    }
    if (i > 0 && b.count < sorted[i - 1].count - 1e-9) {
      throw new RangeError(`histogramQuantile: bucket le=${b.le} counts fewer than the bucket below it`);
    }
  }
  const n = sorted[sorted.length - 1].count;
  if (!(n > 0)) throw new RangeError("histogramQuantile: the histogram holds no observations");

  /** Index of the first bucket whose cumulative count reaches rank r. */
  const bucketOf = (r: number): number => {
    const i = sorted.findIndex((b) => b.count >= r - 1e-9);
    return i === -1 ? sorted.length - 1 : i;
  };
  const lowerEdge = (i: number): number => (i === 0 ? 0 : sorted[i - 1].le);

  const rank = n * q;
  const i = bucketOf(rank);
  let estimate: number;
  if (sorted[i].le === Infinity) {
    estimate = i === 0 ? Infinity : sorted[i - 1].le;
  } else {
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
