/**
 * The signature on every notification request, and how a receiver checks it (docs/notifications.md).
 *
 * Header `Churn-Model-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * The timestamp is signed with the body, so a captured request cannot be replayed later than
 * the receiver's tolerance window; within the window, the event ID (`Churn-Model-Event-Id`,
 * also in the body) lets the receiver drop a second copy. Each attempt is signed afresh: a
 * delivery retried an hour later carries a current `t`, the same event ID and the same body.
 * No I/O here.
 */
import * as crypto from "crypto";

export const SIGNATURE_HEADER = "Churn-Model-Signature";
export const EVENT_ID_HEADER = "Churn-Model-Event-Id";
export const EVENT_TYPE_HEADER = "Churn-Model-Event";

/** The tolerance a receiver should use unless it has a reason to differ: five minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The hex HMAC-SHA256 of `<t>.<body>` under `secret`. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return crypto.createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");
}

/** The header value for a body sent at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`the signature timestamp must be whole unix seconds (got ${timestamp})`);
  }
  return `t=${timestamp},v1=${signatureOf(secret, timestamp, body)}`;
}

export type VerifyOutcome =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly reason: string };

export interface ReceiverCheck {
  /** The raw request body, exactly as received (before any JSON parsing). */
  readonly body: string;
  /** The value of the signature header; undefined when absent. */
  readonly header: string | undefined;
  /** The receiver's copy of the target's secret. */
  readonly secret: string;
  /** The receiver's clock, unix seconds. */
  readonly nowSeconds: number;
  /** Largest accepted |now − t|, seconds. Default DEFAULT_TOLERANCE_SECONDS. */
  readonly toleranceSeconds?: number;
}

const HEADER = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/;

/**
 * What a receiver does with a request, in this order:
 * - no header, or one not of the form `t=<digits>,v1=<64 hex>` → refuse (malformed);
 * - `t` further than the tolerance from the receiver's clock, either way → refuse (stale or
 *   from the future: a replay outside the window, or a wrong clock);
 * - the HMAC of `<t>.<body>` differs from `v1` (compared in constant time) → refuse (forged,
 *   wrong secret, or a body changed in transit);
 * - else accept. Replays inside the window are the event-ID check's job (see `ReplayGuard`).
 */
export function verifySignature(check: ReceiverCheck): VerifyOutcome {
  const tolerance = check.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (check.header === undefined) return { ok: false, reason: `no ${SIGNATURE_HEADER} header` };
  const m = HEADER.exec(check.header.trim());
  if (m === null) {
    return { ok: false, reason: `${SIGNATURE_HEADER} is not of the form t=<unix seconds>,v1=<64 hex>` };
  }
  const timestamp = Number(m[1]);
  const skew = check.nowSeconds - timestamp;
  if (Math.abs(skew) > tolerance) {
    return {
      ok: false,
      reason: `the signature's timestamp is ${Math.abs(skew)} s ${skew > 0 ? "old" : "in the future"} (tolerance ${tolerance} s)`,
    };
  }
  const expected = Buffer.from(signatureOf(check.secret, timestamp, check.body), "hex");
  const given = Buffer.from(m[2], "hex");
  if (!crypto.timingSafeEqual(expected, given)) {
    return { ok: false, reason: "the signature does not match the body under this secret" };
  }
  return { ok: true, timestamp };
}

/**
 * The receiver's idempotency memory: event IDs already acted on. A real receiver keeps it in
 * its database for at least as long as the sender may retry (docs/notifications.md); this
 * in-memory one serves tests and the documentation's example.
 */
export class ReplayGuard {
  private readonly seen = new Set<string>();

  /** True the first time an ID is seen, false for every later copy. */
  firstTime(eventId: string): boolean {
    if (this.seen.has(eventId)) return false;
    this.seen.add(eventId);
    return true;
  }
}
