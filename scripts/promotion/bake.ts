/**
 * The bake verdict: whether production, watched after an update, is still being watched,
 * good, or bad enough to roll back. A pure judgement (no I/O), like the gate's `decide()`;
 * the rollout polls production and hands each observation here.
 *
 * The triggers are derived from the policy config (`policy/config/<env>.json`, the file the
 * gate and the policy pack read): production is held to the same error-rate, p99 and
 * traffic numbers staging had to meet. Only the watch's mechanics are constants here.
 */
import type { Thresholds } from "./thresholds";
import { formatDuration } from "./parsers";

/** Seconds between two looks at production. */
export const POLL_SECONDS = 10;
/** Failed health checks in a row that are tolerated; one more fires the readiness trigger. */
export const TOLERATED_FAILED_HEALTH_CHECKS_IN_A_ROW = 2;

/** When production counts as bad after an update. */
export interface RollbackTriggers {
  /** Bake window: how long production is watched, seconds (`--bake`). */
  readonly bakeSeconds: number;
  /** Seconds between two looks. */
  readonly pollSeconds: number;
  /** Highest accepted share of 5xx responses since the watch began (the policy's maxErrorRate). */
  readonly maxErrorRate: number;
  /** Highest accepted p99 latency since the watch began, ms (the policy's maxLatencyP99Ms). */
  readonly maxLatencyP99Ms: number;
  /**
   * Requests needed before the error-rate and latency triggers are judged (the policy's
   * minRequests); fewer by the end of the bake fails verification: no traffic is no proof.
   */
  readonly minRequests: number;
  /** Failed health checks in a row tolerated; 0 means the first failure fires. */
  readonly toleratedFailedHealthChecksInARow: number;
}

/** The triggers for a bake window, from the thresholds of the target's policy config. */
export function rollbackTriggers(
  thresholds: Pick<Thresholds, "maxErrorRate" | "maxLatencyP99Ms" | "minRequests">,
  bakeSeconds: number,
  overrides: Partial<RollbackTriggers> = {},
): RollbackTriggers {
  return {
    bakeSeconds,
    pollSeconds: POLL_SECONDS,
    maxErrorRate: thresholds.maxErrorRate,
    maxLatencyP99Ms: thresholds.maxLatencyP99Ms,
    minRequests: thresholds.minRequests,
    toleratedFailedHealthChecksInARow: TOLERATED_FAILED_HEALTH_CHECKS_IN_A_ROW,
    ...overrides,
  };
}

/** Production's numbers since the watch began, as Prometheus answered (null: no value). */
export interface BakeTraffic {
  readonly requests: number | null;
  readonly errorRate: number | null;
  readonly latencyP99Ms: number | null;
  /**
   * Set when more than 1 % of the requests lie in the histogram's +Inf bucket: the p99 is above
   * this largest finite bound (ms), and Prometheus' `histogram_quantile` reports the bound
   * itself, a number from outside the instrument that must not pass.
   */
  readonly p99AboveBucketsMs?: number;
}

/** One look at production. */
export interface BakeObservation {
  /** Seconds since the watch began. */
  readonly elapsedSeconds: number;
  /** Health checks of the readiness path that failed in a row, up to and including this look. */
  readonly failedHealthChecksInARow: number;
  /** Why the last health check failed, when it did. */
  readonly lastHealthFailure?: string;
  /** The numbers, or why they could not be read (undefined: not measured yet). */
  readonly traffic?: BakeTraffic | { readonly unreadable: string };
}

export type BakeVerdict =
  | { readonly status: "watching" }
  | { readonly status: "healthy" }
  | { readonly status: "unhealthy"; readonly reasons: readonly string[] };

function fmt(v: number | null): string {
  if (v === null) return "none";
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

function finiteAtMost(v: number | null, max: number): boolean {
  return v !== null && Number.isFinite(v) && v <= max;
}

/**
 * Judges one look at production. Rules, in the order they are applied:
 * - more failed health checks in a row than tolerated → unhealthy (readiness), at any time;
 * - once at least `minRequests` requests were measured: an error rate or p99 that is absent,
 *   not finite or above its limit, or a p99 in the histogram's +Inf bucket (unmeasurable with
 *   these buckets) → unhealthy, at any time (each firing trigger is a reason);
 * - before the bake window ends → watching;
 * - at the end, numbers that could not be read → unhealthy (fail closed);
 * - at the end, fewer than `minRequests` requests (or none measured) → unhealthy;
 * - otherwise → healthy.
 */
export function judgeBake(o: BakeObservation, t: RollbackTriggers): BakeVerdict {
  const elapsed = formatDuration(Math.round(o.elapsedSeconds));
  if (o.failedHealthChecksInARow > t.toleratedFailedHealthChecksInARow) {
    return {
      status: "unhealthy",
      reasons: [
        `readiness: ${o.failedHealthChecksInARow} health checks in a row failed` +
          (o.lastHealthFailure !== undefined ? ` (${o.lastHealthFailure})` : ""),
      ],
    };
  }
  const traffic = o.traffic !== undefined && !("unreadable" in o.traffic) ? o.traffic : undefined;
  const requests = traffic?.requests ?? null;
  if (traffic !== undefined && requests !== null && requests >= t.minRequests) {
    const reasons: string[] = [];
    if (!finiteAtMost(traffic.errorRate, t.maxErrorRate)) {
      reasons.push(`error rate ${fmt(traffic.errorRate)} over ${elapsed} exceeds ${t.maxErrorRate}`);
    }
    if (traffic.p99AboveBucketsMs !== undefined) {
      reasons.push(
        `p99 latency over ${elapsed} lies above the histogram's largest finite bound ` +
          `${fmt(traffic.p99AboveBucketsMs)} ms (the +Inf bucket): it cannot be shown to meet ${t.maxLatencyP99Ms} ms`,
      );
    } else if (!finiteAtMost(traffic.latencyP99Ms, t.maxLatencyP99Ms)) {
      reasons.push(
        `p99 latency ${fmt(traffic.latencyP99Ms)} ms over ${elapsed} exceeds ${t.maxLatencyP99Ms} ms`,
      );
    }
    if (reasons.length > 0) return { status: "unhealthy", reasons };
  }
  if (o.elapsedSeconds < t.bakeSeconds) return { status: "watching" };
  if (o.traffic !== undefined && "unreadable" in o.traffic) {
    return {
      status: "unhealthy",
      reasons: [`production's metrics could not be read at the end of the bake: ${o.traffic.unreadable}`],
    };
  }
  if (requests === null || requests < t.minRequests) {
    return {
      status: "unhealthy",
      reasons: [
        `only ${requests === null ? 0 : Math.round(requests)} production requests in ${elapsed} ` +
          `(need ${t.minRequests} to verify)`,
      ],
    };
  }
  return { status: "healthy" };
}
