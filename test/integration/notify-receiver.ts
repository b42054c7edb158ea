/**
 * A webhook receiver on 127.0.0.1 that does what docs/notifications.md tells receivers to do:
 * verify the signature over `t.body` within a tolerance window, then act on each event ID
 * once. Tests script its answers (status codes, answers that come too late, no answer).
 */
import * as http from "http";
import type { AddressInfo } from "net";
import {
  EVENT_ID_HEADER,
  ReplayGuard,
  SIGNATURE_HEADER,
  verifySignature,
} from "../../scripts/promotion/notify/signature";

/** What the receiver does with the next request. */
export type Behaviour =
  /** Verify, act, answer 200. */
  | { readonly kind: "ok" }
  /** Answer with this status without acting. */
  | { readonly kind: "status"; readonly status: number }
  /** Verify and act, but answer only after `ms` (the sender has given up by then). */
  | { readonly kind: "late"; readonly ms: number }
  /** Read the request and never answer, without acting (a receiver that hangs). */
  | { readonly kind: "hang" };

export interface Received {
  readonly eventId: string | undefined;
  readonly signature: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** What the receiver answered (or "none"), and why it refused. */
  readonly outcome: "acted" | "duplicate" | "refused" | "scripted" | "none";
  readonly reason?: string;
}

export class Receiver {
  /** Every request, in order. */
  readonly requests: Received[] = [];
  /** Event bodies acted on: each event ID at most once. */
  readonly acted: Record<string, unknown>[] = [];
  /** Scripted answers, used up in order; afterwards "ok". */
  readonly script: Behaviour[] = [];
  /** Added to the receiver's clock (seconds), to test the tolerance window. */
  clockOffsetSeconds = 0;
  private readonly guard = new ReplayGuard();
  private server: http.Server | undefined;
  private readonly hung: http.ServerResponse[] = [];

  constructor(readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/churn`;
  }

  port = 0;

  /** Listens on `port` (0: a free one). */
  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const res of this.hung.splice(0)) res.destroy();
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Sends a recorded request again, as an attacker replaying it would. */
  async replay(r: Received, change: { body?: string; signature?: string } = {}): Promise<number> {
    const res = await fetch(this.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [SIGNATURE_HEADER]: change.signature ?? r.signature ?? "",
        [EVENT_ID_HEADER]: r.eventId ?? "",
      },
      body: change.body ?? r.body,
    });
    await res.arrayBuffer();
    return res.status;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const signature = req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined;
      const eventId = req.headers[EVENT_ID_HEADER.toLowerCase()] as string | undefined;
      const base = { eventId, signature, headers: req.headers, body };
      const behaviour = this.script.shift() ?? { kind: "ok" };
      if (behaviour.kind === "status") {
        this.requests.push({ ...base, outcome: "scripted" });
        res.writeHead(behaviour.status).end();
        return;
      }
      if (behaviour.kind === "hang") {
        this.requests.push({ ...base, outcome: "none" });
        this.hung.push(res);
        return;
      }
      const check = verifySignature({
        body,
        header: signature,
        secret: this.secret,
        nowSeconds: Math.floor(Date.now() / 1000) + this.clockOffsetSeconds,
      });
      if (!check.ok) {
        this.requests.push({ ...base, outcome: "refused", reason: check.reason });
        res.writeHead(401, { "content-type": "text/plain" }).end(check.reason);
        return;
      }
      // The event ID in the body is the one that was signed; the header is a convenience.
      const event = JSON.parse(body) as Record<string, unknown>;
      const id = typeof event.id === "string" ? event.id : `slack:${eventId}`;
      const first = this.guard.firstTime(id);
      if (first) this.acted.push(event);
      this.requests.push({ ...base, outcome: first ? "acted" : "duplicate" });
      const answer = (): void => {
        if (!res.destroyed) res.writeHead(200).end(first ? "ok" : "duplicate");
      };
      if (behaviour.kind === "late") setTimeout(answer, behaviour.ms).unref();
      else answer();
    });
  }
}
