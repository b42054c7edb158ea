/**
 * The persistent outbox: one JSON file per pending delivery (one event to one target) in the
 * stack's directory under the state directory, written atomically (temporary file, fsync,
 * rename, fsync of the directory), so a crash at any point leaves either the whole entry or
 * none. A delivery leaves `pending/` only when the receiver acknowledged it (the file is
 * removed) or when it is given up (moved to `dead/`, kept for a person to read).
 *
 *   <dir>/pending/<created ms>-<event id>-<target>.json   waiting for (another) attempt
 *   <dir>/sending/<same name>.<pid>                        claimed by the process with that pid
 *   <dir>/dead/<same name>                                 given up: permanent refusal or too many attempts
 *
 * A claim is a rename, so two processes never send the same entry at once; a claim whose
 * process died is returned to pending/ by the next `Outbox` (see `recover`).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { backoffMs, BackoffPolicy, DEFAULT_BACKOFF } from "./backoff";
import type { TargetKind } from "./config";
import type { EventType } from "./events";

export const OUTBOX_FORMAT = 1;

export interface OutboxEntry {
  readonly format: typeof OUTBOX_FORMAT;
  readonly eventId: string;
  readonly eventType: EventType;
  /** The target's name in the stack's notification config (URL and secret are looked up there). */
  readonly target: string;
  readonly kind: TargetKind;
  /** RFC3339. */
  readonly createdAt: string;
  /** Attempts made so far, over all runs. */
  readonly attempts: number;
  /** RFC3339: not before this time (within one run; a new run tries at once). */
  readonly nextAttemptAt: string;
  readonly lastError: string | null;
  /** The exact request body; every attempt sends these bytes, signed afresh. */
  readonly body: string;
}

/** The outcome of one attempt. */
export type AttemptResult =
  | { readonly kind: "delivered"; readonly status: number }
  /** Worth trying again: the receiver is down, slow, overloaded or failed (5xx, 408, 429). */
  | { readonly kind: "retryable"; readonly error: string }
  /** Trying again cannot help: the receiver refused the request itself (other 4xx, 3xx). */
  | { readonly kind: "permanent"; readonly error: string };

export type NextState =
  | { readonly state: "delivered" }
  | { readonly state: "pending"; readonly entry: OutboxEntry }
  | { readonly state: "dead"; readonly entry: OutboxEntry };

/**
 * The state after an attempt, in this order:
 * - the receiver acknowledged (2xx) → delivered: the entry leaves the outbox;
 * - the receiver refused it for good → dead, attempts counted;
 * - a retryable failure that used the last of maxAttempts → dead;
 * - another retryable failure → pending, next attempt after the backoff for that many failures.
 */
export function afterAttempt(
  entry: OutboxEntry,
  result: AttemptResult,
  now: Date,
  maxAttempts: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): NextState {
  if (result.kind === "delivered") return { state: "delivered" };
  const attempts = entry.attempts + 1;
  const tried = { ...entry, attempts, lastError: result.error };
  if (result.kind === "permanent" || attempts >= maxAttempts) {
    return { state: "dead", entry: { ...tried, nextAttemptAt: now.toISOString() } };
  }
  return {
    state: "pending",
    entry: { ...tried, nextAttemptAt: new Date(now.getTime() + backoffMs(attempts, policy)).toISOString() },
  };
}

/** A new entry for one event and one target. */
export function newEntry(
  event: { id: string; type: EventType; time: string },
  target: { name: string; kind: TargetKind },
  body: string,
): OutboxEntry {
  return {
    format: OUTBOX_FORMAT,
    eventId: event.id,
    eventType: event.type,
    target: target.name,
    kind: target.kind,
    createdAt: event.time,
    attempts: 0,
    nextAttemptAt: event.time,
    lastError: null,
    body,
  };
}

/** The file name an entry keeps in every directory: creation order first, so listing is FIFO. */
export function entryFileName(entry: OutboxEntry): string {
  const ms = String(Date.parse(entry.createdAt)).padStart(15, "0");
  return `${ms}-${entry.eventId}-${entry.target}.json`;
}

function isEntry(v: unknown): v is OutboxEntry {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    e.format === OUTBOX_FORMAT &&
    typeof e.eventId === "string" &&
    typeof e.eventType === "string" &&
    typeof e.target === "string" &&
    (e.kind === "webhook" || e.kind === "slack") &&
    typeof e.createdAt === "string" &&
    typeof e.attempts === "number" &&
    typeof e.nextAttemptAt === "string" &&
    typeof e.body === "string"
  );
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A claimed entry: sent by this process, then settled with `settle`. */
export interface Claim {
  readonly entry: OutboxEntry;
  readonly file: string;
}

export class Outbox {
  readonly pendingDir: string;
  readonly sendingDir: string;
  readonly deadDir: string;
  private readonly tmpDir: string;

  constructor(readonly dir: string) {
    this.pendingDir = path.join(dir, "pending");
    this.sendingDir = path.join(dir, "sending");
    this.deadDir = path.join(dir, "dead");
    this.tmpDir = path.join(dir, "tmp");
  }

  private ensure(): void {
    for (const d of [this.pendingDir, this.sendingDir, this.deadDir, this.tmpDir]) {
      fs.mkdirSync(d, { recursive: true });
    }
  }

  /** Writes `text` to `file` so that a reader sees the old content or the new, never a part. */
  private writeAtomic(file: string, text: string): void {
    this.ensure();
    const tmp = path.join(
      this.tmpDir,
      `${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`,
    );
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    syncDir(path.dirname(file));
  }

  /** Persists a new entry; when this returns, the delivery survives a crash. */
  add(entry: OutboxEntry): void {
    this.writeAtomic(path.join(this.pendingDir, entryFileName(entry)), `${JSON.stringify(entry, null, 2)}\n`);
  }

  private list(dir: string): string[] {
    try {
      return fs.readdirSync(dir).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }

  /**
   * Returns to pending/ what processes that are gone had claimed, and drops temporary files
   * they left (those entries were never committed). Returns how many claims came back.
   */
  recover(): number {
    if (!fs.existsSync(this.dir)) return 0;
    this.ensure();
    let returned = 0;
    for (const name of this.list(this.sendingDir)) {
      const m = /^(.*\.json)\.(\d+)$/.exec(name);
      if (m === null) continue;
      const pid = Number(m[2]);
      if (pid !== process.pid && processAlive(pid)) continue;
      fs.renameSync(path.join(this.sendingDir, name), path.join(this.pendingDir, m[1]));
      returned++;
    }
    for (const name of this.list(this.tmpDir)) {
      const pid = Number(/\.(\d+)\.[0-9a-f]{8}$/.exec(name)?.[1]);
      if (!Number.isInteger(pid) || pid === process.pid || !processAlive(pid)) {
        fs.rmSync(path.join(this.tmpDir, name), { force: true });
      }
    }
    if (returned > 0) syncDir(this.pendingDir);
    return returned;
  }

  /**
   * The pending entries, oldest first. A file that cannot be read as an entry is moved to
   * dead/ (reported through `onCorrupt`) rather than blocking the ones behind it.
   */
  pending(onCorrupt: (file: string, problem: string) => void = () => undefined): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const name of this.list(this.pendingDir)) {
      if (!name.endsWith(".json")) continue;
      const file = path.join(this.pendingDir, name);
      let parsed: unknown;
      try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // claimed meanwhile
        parsed = undefined;
      }
      if (!isEntry(parsed)) {
        this.ensure();
        fs.renameSync(file, path.join(this.deadDir, name));
        onCorrupt(file, "not an outbox entry");
        continue;
      }
      out.push(parsed);
    }
    return out;
  }

  /** Takes an entry for sending; undefined when another process has it (or it is gone). */
  claim(entry: OutboxEntry): Claim | undefined {
    this.ensure();
    const name = entryFileName(entry);
    const file = path.join(this.sendingDir, `${name}.${process.pid}`);
    try {
      fs.renameSync(path.join(this.pendingDir, name), file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    return { entry, file };
  }

  /** Records the state after an attempt on a claimed entry and releases the claim. */
  settle(claim: Claim, next: NextState): void {
    const name = entryFileName(claim.entry);
    switch (next.state) {
      case "delivered":
        fs.rmSync(claim.file, { force: true });
        syncDir(this.sendingDir);
        return;
      case "pending":
        this.writeAtomic(path.join(this.pendingDir, name), `${JSON.stringify(next.entry, null, 2)}\n`);
        fs.rmSync(claim.file, { force: true });
        return;
      case "dead":
        this.writeAtomic(path.join(this.deadDir, name), `${JSON.stringify(next.entry, null, 2)}\n`);
        fs.rmSync(claim.file, { force: true });
        return;
    }
  }

  /** Given-up entries (for people and tests). */
  dead(): OutboxEntry[] {
    return this.list(this.deadDir)
      .filter((n) => n.endsWith(".json"))
      .map((n) => JSON.parse(fs.readFileSync(path.join(this.deadDir, n), "utf8")) as OutboxEntry);
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
