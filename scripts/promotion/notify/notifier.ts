/**
 * The notifier of one run: queues each event in the outbox (one entry per target that wants
 * it) and delivers in the background, one worker per target, oldest first, with retries and
 * backoff. Nothing here throws into the promotion: every failure becomes a `notify:` line on
 * stderr and the entry stays in the outbox for the next run.
 */
import { BackoffPolicy, DEFAULT_BACKOFF } from "./backoff";
import type { NotifyConfig, Target } from "./config";
import { attempt, Fetch } from "./deliver";
import { EventInput, eventPayload, newEventId, requestBody } from "./events";
import { afterAttempt, newEntry, Outbox, OutboxEntry } from "./outbox";

export interface NotifierOptions {
  readonly stack: string;
  readonly config: NotifyConfig;
  readonly outbox: Outbox;
  /** Where problems are said: stderr. */
  readonly warn: (line: string) => void;
  readonly now?: () => Date;
  readonly fetch?: Fetch;
  readonly backoff?: BackoffPolicy;
  readonly newId?: () => string;
}

/** What the promotion uses. */
export interface EventSink {
  /** Queues an event for delivery; returns its ID (undefined when it could not be queued). */
  notify(input: EventInput): string | undefined;
  /** Waits (at most the configured drain time) for deliveries under way, then stops them. */
  drain(): Promise<void>;
}

/** Sends nothing: dry runs, and runs whose notification config could not be read. */
export const SILENT: EventSink = {
  notify: () => undefined,
  drain: () => Promise.resolve(),
};

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0].trim();
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

export class Notifier implements EventSink {
  private readonly workers = new Map<string, Promise<void>>();
  private readonly stop = new AbortController();
  /** Per entry, not before this time (ms) in this run; a new run starts every entry at once. */
  private readonly notBefore = new Map<string, number>();
  private readonly now: () => Date;
  private readonly targets: ReadonlyMap<string, Target>;

  constructor(private readonly opts: NotifierOptions) {
    this.now = opts.now ?? (() => new Date());
    this.targets = new Map(opts.config.targets.map((t) => [t.name, t]));
  }

  private warn(line: string): void {
    try {
      this.opts.warn(`notify: ${line}`);
    } catch {
      // stderr itself failing must not end a promotion either.
    }
  }

  /**
   * Picks up what earlier runs left: claims of dead processes return to pending, entries for
   * targets no longer configured are set aside, and a worker starts for every target with work.
   */
  start(): void {
    try {
      const back = this.opts.outbox.recover();
      if (back > 0) this.warn(`${back} delivery(ies) interrupted by an earlier run are pending again`);
      const pending = this.opts.outbox.pending((file, problem) => this.warn(`set aside ${file}: ${problem}`));
      for (const entry of pending) {
        if (!this.targets.has(entry.target))
          this.bury(entry, `target ${entry.target} is no longer configured`);
      }
      const waiting = pending.filter((e) => this.targets.has(e.target));
      if (waiting.length > 0) {
        this.warn(
          `delivering ${waiting.length} notification(s) left pending by earlier runs of ${this.opts.stack}`,
        );
      }
      for (const name of new Set(waiting.map((e) => e.target))) this.kick(name);
    } catch (err) {
      this.warn(`cannot read the outbox ${this.opts.outbox.dir}: ${firstLine(err)}`);
    }
  }

  private bury(entry: OutboxEntry, why: string): void {
    const claim = this.opts.outbox.claim(entry);
    if (claim === undefined) return;
    this.opts.outbox.settle(claim, {
      state: "dead",
      entry: { ...entry, lastError: why, nextAttemptAt: this.now().toISOString() },
    });
    this.warn(
      `gave up the ${entry.eventType} notification ${entry.eventId}: ${why}; kept in ${this.opts.outbox.deadDir}`,
    );
  }

  notify(input: EventInput): string | undefined {
    const wanted = this.opts.config.targets.filter((t) => t.events.has(input.type));
    if (wanted.length === 0) return undefined;
    try {
      const id = (this.opts.newId ?? newEventId)();
      const payload = eventPayload(input, id, this.now());
      for (const target of wanted) {
        this.opts.outbox.add(newEntry(payload, target, requestBody(target.kind, payload)));
      }
      if (!this.stop.signal.aborted) for (const target of wanted) this.kick(target.name);
      return id;
    } catch (err) {
      this.warn(
        `could not queue the ${input.type} notification (${firstLine(err)}); the promotion goes on without it`,
      );
      return undefined;
    }
  }

  private kick(name: string): void {
    if (this.workers.has(name) || this.stop.signal.aborted) return;
    const target = this.targets.get(name);
    if (target === undefined) return;
    const worker = this.work(target).catch((err: unknown) => {
      this.workers.delete(name);
      this.warn(`delivery to ${name} stopped: ${firstLine(err)}; what is pending stays in the outbox`);
    });
    this.workers.set(name, worker);
  }

  private async work(target: Target): Promise<void> {
    const { outbox, config } = this.opts;
    for (;;) {
      if (this.stop.signal.aborted) {
        this.workers.delete(target.name);
        return;
      }
      const entry = outbox.pending().find((e) => e.target === target.name);
      if (entry === undefined) {
        // Synchronously, before any await: a notify() after this point starts a new worker.
        this.workers.delete(target.name);
        return;
      }
      const key = `${entry.eventId}/${entry.target}`;
      await abortableSleep((this.notBefore.get(key) ?? 0) - this.now().getTime(), this.stop.signal);
      if (this.stop.signal.aborted) continue;
      const claim = outbox.claim(entry);
      if (claim === undefined) continue;
      const result = await attempt(entry, target, {
        timeoutMs: config.timeoutMs,
        now: this.now,
        fetch: this.opts.fetch,
        signal: this.stop.signal,
      });
      const next = afterAttempt(
        entry,
        result,
        this.now(),
        config.maxAttempts,
        this.opts.backoff ?? DEFAULT_BACKOFF,
      );
      outbox.settle(claim, next);
      const what = `the ${entry.eventType} notification to ${target.name}`;
      if (next.state === "pending") {
        this.notBefore.set(key, Date.parse(next.entry.nextAttemptAt));
        const wait = Date.parse(next.entry.nextAttemptAt) - this.now().getTime();
        this.warn(
          `${what} failed (${next.entry.lastError}), attempt ${next.entry.attempts} of ${config.maxAttempts}; ` +
            `trying again in ${Math.max(0, Math.round(wait / 100) / 10)} s`,
        );
      } else if (next.state === "dead") {
        this.warn(
          `gave up ${what} after ${next.entry.attempts} attempt(s): ${next.entry.lastError}; kept in ${outbox.deadDir}`,
        );
      }
    }
  }

  /** Deliveries still queued for configured targets. */
  pendingCount(): number {
    try {
      return this.opts.outbox.pending().filter((e) => this.targets.has(e.target)).length;
    } catch {
      return 0;
    }
  }

  async drain(): Promise<void> {
    const running = [...this.workers.values()];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.opts.config.drainMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.stop.abort();
    await Promise.all([...this.workers.values()]);
    const left = this.pendingCount();
    if (left > 0) {
      this.warn(
        `${left} notification(s) for ${this.opts.stack} not delivered yet; they stay in ${this.opts.outbox.pendingDir} ` +
          "and the next promotion of this stack delivers them",
      );
    }
  }
}
