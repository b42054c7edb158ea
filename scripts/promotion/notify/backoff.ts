/**
 * When a failed delivery is tried again. Exponential, capped, without jitter: one promotion at
 * a time sends to a target (the promotion lock), so there is no crowd of senders to spread out,
 * and a fixed schedule is one a receiver's operator can read off the docs.
 */

export interface BackoffPolicy {
  /** Delay after the first failure, milliseconds. */
  readonly firstMs: number;
  /** Longest delay, milliseconds. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { firstMs: 1000, maxMs: 60_000 };

/**
 * The delay before attempt `failures + 1`, after `failures` failed attempts (≥ 1):
 * - firstMs · 2^(failures − 1): 1 s, 2 s, 4 s, 8 s, … with the default;
 * - never more than maxMs.
 */
export function backoffMs(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (!Number.isInteger(failures) || failures < 1) {
    throw new RangeError(`backoff is for one or more failed attempts (got ${failures})`);
  }
  // 2^31 already exceeds any sensible cap; stop doubling before floating point does odd things.
  const exponent = Math.min(failures - 1, 30);
  return Math.min(policy.firstMs * 2 ** exponent, policy.maxMs);
}
