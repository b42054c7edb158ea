/**
 * One delivery attempt: POST the entry's body to the target, signed now, within a deadline,
 * and classify the answer (outbox.ts decides what happens next).
 */
import type { Target } from "./config";
import type { AttemptResult, OutboxEntry } from "./outbox";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from "./signature";

export type Fetch = typeof fetch;

/** The headers of an attempt at `nowSeconds`. */
export function requestHeaders(
  entry: OutboxEntry,
  target: Target,
  nowSeconds: number,
): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "churn-model-cd-notifier/1",
    [SIGNATURE_HEADER]: signatureHeader(target.secret, nowSeconds, entry.body),
    [EVENT_ID_HEADER]: entry.eventId,
    [EVENT_TYPE_HEADER]: entry.eventType,
  };
}

/**
 * Sends once. The answer, in this order:
 * - no answer within the deadline, or the connection failed → retryable;
 * - 2xx → delivered;
 * - 408, 425, 429 and 5xx → retryable (the receiver is slow, busy or broken for now);
 * - anything else (3xx is not followed: the URL is a credential; 4xx) → permanent.
 */
export async function attempt(
  entry: OutboxEntry,
  target: Target,
  opts: { timeoutMs: number; now: () => Date; fetch?: Fetch; signal?: AbortSignal },
): Promise<AttemptResult> {
  const doFetch = opts.fetch ?? fetch;
  const signals = [AbortSignal.timeout(opts.timeoutMs)];
  if (opts.signal !== undefined) signals.push(opts.signal);
  let res: Response;
  try {
    res = await doFetch(target.url, {
      method: "POST",
      headers: requestHeaders(entry, target, Math.floor(opts.now().getTime() / 1000)),
      body: entry.body,
      redirect: "manual",
      signal: AbortSignal.any(signals),
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === "TimeoutError")
      return { kind: "retryable", error: `no answer within ${opts.timeoutMs} ms` };
    if (e.name === "AbortError") return { kind: "retryable", error: "stopped before an answer came" };
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { kind: "retryable", error: `request failed: ${cause?.code ?? cause?.message ?? e.message}` };
  }
  // Read (and discard) the answer so the connection is released; its text is not trusted.
  await res.arrayBuffer().catch(() => undefined);
  const s = res.status;
  if (s >= 200 && s < 300) return { kind: "delivered", status: s };
  if (s === 408 || s === 425 || s === 429 || s >= 500) {
    return { kind: "retryable", error: `the receiver answered ${s}` };
  }
  return { kind: "permanent", error: `the receiver answered ${s}` };
}
