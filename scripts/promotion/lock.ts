/**
 * One promotion per target stack at a time, and a journal of what it is doing so that the
 * next one can finish what a killed one left (see README, "One promotion at a time, and a
 * killed one").
 *
 * The lock is a directory of generation files `<n>.json`; the highest generation is the
 * lock's state. A generation file is created atomically with its content (written to a
 * temporary file, then hard-linked into place, which fails if the name exists), so of
 * several processes that read generation n and found it free or stale, exactly one creates
 * n+1 and holds the lock; the others see it exists and read the new holder. The holder
 * rewrites its own file (temporary file + rename) as its journal moves on, and marks it
 * released at the end.
 *
 * A holder is identified by host, boot ID (/proc/sys/kernel/random/boot_id), PID and the
 * PID's start time (/proc/<pid>/stat), so a recycled PID is not mistaken for a live holder
 * and a holder on another host is never taken for dead. The directory lives beside the
 * state of a file backend (`<backend>/.churn-model/promotions/<stack>`), so every runner
 * that sees the state sees the lock; with another backend it lives in the project.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BadInput, ConcurrentUpdate } from "./errors";
import { bootId, processStartTime, SessionRecord } from "./processes";

/** Who holds (or held) the lock. */
export interface Holder {
  readonly host: string;
  readonly bootId: string;
  readonly pid: number;
  /** The PID's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly startTime: number;
  readonly startedAt: string;
  /** Random, so two holders are never confused. */
  readonly nonce: string;
}

/**
 * Where the holder is. Recovery reads it:
 * - `locked`: nothing of production was changed (or all of it is settled): nothing to do;
 * - `updating`: the candidate's config is written and its update may be running;
 * - `verifying`: the candidate is deployed and being watched;
 * - `rolling-back`: production is being returned to `previousConfig` (also during recovery).
 */
export type Phase = "locked" | "updating" | "verifying" | "rolling-back";

export interface Journal {
  readonly generation: number;
  readonly stack: string;
  readonly holder: Holder;
  /** `released` ends the generation; `held` with a dead holder is a stale lock. */
  readonly state: "held" | "released";
  readonly phase: Phase;
  /** Config values (key → value, or null when unset) before the promotion changed them. */
  readonly previousConfig?: Readonly<Record<string, string | null>>;
  /** The version the current phase applies. */
  readonly target?: string;
  /** Who approved the promotion; the approver of its rollback evidence. */
  readonly approver?: string;
  /** Engine process sessions started while holding the lock (to be stopped if left over). */
  readonly sessions: readonly SessionRecord[];
  /** Set when the holder ended with its work unfinished (production unsettled): treated as dead. */
  readonly abandoned?: boolean;
  /** The generation this one took over from, when its holder had died. */
  readonly tookOverFrom?: number;
  /**
   * When the promotion whose unfinished work this journal carries took the lock: kept across
   * takeovers (a recovery killed in turn), so the next recovery still knows which of the
   * engine's updates came before that promotion. Absent on a holder's own promotion (then its
   * holder's `startedAt`).
   */
  readonly promotionStartedAt?: string;
  readonly updatedAt: string;
}

/** What can be written to the journal by its holder. */
export type JournalUpdate = Partial<
  Pick<Journal, "phase" | "previousConfig" | "target" | "approver" | "sessions">
>;

export interface HeldLock {
  readonly dir: string;
  /** The journal of a holder that died, when this one took over (its work is now ours). */
  readonly stale?: Journal;
  /** The current journal. */
  journal(): Journal;
  update(change: JournalUpdate): void;
  /** Ends the generation: the lock is free (the journal's state says `released`). */
  unlock(): void;
  /** Leaves the journal for the next run to recover (the holder ends with production unsettled). */
  abandon(): void;
}

const GENERATION_FILE = /^(\d{10})\.json$/;
/** Generation files kept after an unlock (older ones are pruned). */
const KEEP_GENERATIONS = 20;

export function generationFile(dir: string, generation: number): string {
  return path.join(dir, `${String(generation).padStart(10, "0")}.json`);
}

/** The newest journal in `dir`, or undefined when there is none. */
export function readLatest(dir: string): Journal | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const generations = names
    .map((n) => GENERATION_FILE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  if (generations.length === 0) return undefined;
  const file = generationFile(dir, generations[0]);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Journal;
  } catch (err) {
    throw new ConcurrentUpdate(
      `the promotion lock ${file} cannot be read (${(err as Error).message}); nothing was changed. ` +
        "If no promotion is running, move that file away and run again",
    );
  }
}

/** This process as a lock holder. */
export function currentHolder(): Holder {
  return {
    host: os.hostname(),
    bootId: bootId(),
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? 0,
    startedAt: new Date().toISOString(),
    nonce: crypto.randomBytes(8).toString("hex"),
  };
}

/**
 * Whether the holder of a journal still runs:
 * - another host: assumed alive (it cannot be checked from here);
 * - this host after a reboot (another boot ID): dead;
 * - this boot: alive while its PID exists with the recorded start time.
 */
export function holderAlive(h: Holder): boolean {
  if (h.host !== os.hostname()) return true;
  if (h.bootId !== bootId()) return false;
  const start = processStartTime(h.pid);
  return start !== undefined && start === h.startTime;
}

/** Whether a held journal's holder is gone: it abandoned its work, or its process is dead. */
export function holderGone(j: Journal): boolean {
  return j.abandoned === true || !holderAlive(j.holder);
}

function busy(j: Journal, file: string): ConcurrentUpdate {
  const where =
    j.holder.host === os.hostname() ? `pid ${j.holder.pid}` : `host ${j.holder.host}, pid ${j.holder.pid}`;
  return new ConcurrentUpdate(
    `another promotion of ${j.stack} is running (${where}, started ${j.holder.startedAt}); ` +
      "nothing was changed and nothing is retried" +
      (j.holder.host === os.hostname()
        ? ""
        : `. If host ${j.holder.host} is gone for good, run again with --take-over-from ${j.holder.host}: ` +
          `its journal (${file}) is kept and what it left is recovered first`),
  );
}

export interface AcquireOptions {
  /**
   * A host whose holder is known to be gone (`--take-over-from`): a lock it holds is taken
   * over like a dead holder's, its unfinished work recovered. Only another host's: a holder
   * on this host is judged by its process. The lock must be held there, or nothing is taken.
   */
  readonly takeOverFrom?: string;
  /**
   * The journal the backend holds (backend-journal.ts), when it is kept there: a holder the
   * backend knows of and this directory does not (another runner's) counts as the lock's.
   */
  readonly remote?: Journal;
}

/**
 * The journal that decides the lock: this directory's, unless it is free or its holder is
 * gone while the backend names another holder that still holds it.
 */
export function newestJournal(local: Journal | undefined, remote: Journal | undefined): Journal | undefined {
  if (remote === undefined || remote.state !== "held") return local;
  if (local !== undefined && local.holder.nonce === remote.holder.nonce) return local;
  if (local !== undefined && local.state === "held" && !holderGone(local)) return local;
  return remote;
}

/** Writes `content` as `file` atomically, failing with EEXIST if `file` exists. */
function createExclusive(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, content, { flag: "wx" });
  try {
    fs.linkSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Replaces `file` atomically with `content` (temporary file + rename). */
function replace(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

/**
 * The state of the lock for a run that must not change anything (a dry run): the journal
 * of a dead holder whose work is unfinished, or undefined when there is nothing to recover.
 */
export function pendingRecovery(dir: string, remote?: Journal): Journal | undefined {
  const latest = newestJournal(readLatest(dir), remote);
  if (latest === undefined || latest.state === "released" || !holderGone(latest)) return undefined;
  return latest.phase === "locked" && latest.sessions.length === 0 ? undefined : latest;
}

/**
 * Takes the lock of `stack` in `dir`, or throws ConcurrentUpdate naming the holder. When the
 * previous holder died while holding it, its journal is returned as `stale` and its
 * unfinished work (phase, config to return to, sessions) is carried into the new journal in
 * the same atomic step, so it survives this holder dying too.
 */
export function acquirePromotionLock(dir: string, stack: string, opts: AcquireOptions = {}): HeldLock {
  fs.mkdirSync(dir, { recursive: true });
  const holder = currentHolder();
  for (let attempt = 0; attempt < 20; attempt++) {
    const local = readLatest(dir);
    const latest = newestJournal(local, opts.remote);
    const latestFile =
      latest === undefined
        ? ""
        : latest === local
          ? generationFile(dir, latest.generation)
          : `the backend's tags of ${stack}`;
    if (opts.takeOverFrom !== undefined) refuseTakeOver(latest, latestFile, stack, opts.takeOverFrom);
    let stale: Journal | undefined;
    if (latest !== undefined && latest.state === "held") {
      if (!holderGone(latest) && latest.holder.host !== opts.takeOverFrom) throw busy(latest, latestFile);
      stale = latest;
    }
    const generation = Math.max(local?.generation ?? 0, opts.remote?.generation ?? 0) + 1;
    const inherits = stale !== undefined && (stale.phase !== "locked" || stale.sessions.length > 0);
    let journal: Journal = {
      generation,
      stack,
      holder,
      state: "held",
      phase: inherits && stale!.phase !== "locked" ? "rolling-back" : "locked",
      ...(inherits && stale!.previousConfig !== undefined ? { previousConfig: stale!.previousConfig } : {}),
      ...(inherits && stale!.approver !== undefined ? { approver: stale!.approver } : {}),
      ...(inherits && stale!.phase !== "locked" && stale!.previousConfig !== undefined
        ? { target: stale!.previousConfig["churn-model:modelVersion"] ?? undefined }
        : {}),
      sessions: inherits ? stale!.sessions : [],
      ...(stale !== undefined ? { tookOverFrom: stale.generation } : {}),
      ...(inherits && stale!.phase !== "locked"
        ? { promotionStartedAt: stale!.promotionStartedAt ?? stale!.holder.startedAt }
        : {}),
      updatedAt: new Date().toISOString(),
    };
    const file = generationFile(dir, generation);
    try {
      createExclusive(file, JSON.stringify(journal, null, 2));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw new ConcurrentUpdate(`cannot take the promotion lock in ${dir}: ${(err as Error).message}`);
    }
    // A process that read an old generation and stalled past the pruning of the next one
    // could create that name again: it is never the newest, so it backs off here.
    if (readLatest(dir)?.generation !== generation) {
      fs.rmSync(file, { force: true });
      continue;
    }
    let ended = false;
    const held: HeldLock = {
      dir,
      stale,
      journal: () => journal,
      update(change) {
        if (ended) throw new Error(`the promotion lock ${file} was already unlocked`);
        journal = { ...journal, ...change, updatedAt: new Date().toISOString() };
        replace(file, JSON.stringify(journal, null, 2));
      },
      unlock() {
        if (ended) return;
        ended = true;
        journal = { ...journal, state: "released", phase: "locked", updatedAt: new Date().toISOString() };
        replace(file, JSON.stringify(journal, null, 2));
        prune(dir, generation);
      },
      abandon() {
        if (ended) return;
        ended = true;
        journal = { ...journal, abandoned: true, updatedAt: new Date().toISOString() };
        replace(file, JSON.stringify(journal, null, 2));
      },
    };
    return held;
  }
  throw new ConcurrentUpdate(
    `the promotion lock in ${dir} kept changing while taking it; nothing was changed`,
  );
}

/** Throws BadInput unless the lock is held by a promotion on `host`, another host than this one. */
function refuseTakeOver(latest: Journal | undefined, file: string, stack: string, host: string): void {
  if (host === os.hostname()) {
    throw new BadInput(
      `--take-over-from ${host} names this host: a promotion here is judged by its process, never taken over; nothing was changed`,
    );
  }
  if (latest === undefined || latest.state !== "held" || latest.holder.host !== host) {
    const now =
      latest === undefined || latest.state !== "held"
        ? "it is free"
        : `it is held by host ${latest.holder.host} (${file})`;
    throw new BadInput(
      `--take-over-from ${host}: the promotion lock of ${stack} is not held by a promotion on ${host} (${now}); nothing was changed`,
    );
  }
}

/** A temporary file of createExclusive or replace: `<generation file>.<pid>.<random>.tmp`. */
const TEMPORARY_FILE = /^\d{10}\.json\.(\d+)\.[0-9a-f]+\.tmp$/;

/**
 * Removes generation files far behind `current` (a claim on them could only come from a
 * process stalled that long), and temporary files a killed process left between writing
 * a journal and linking or renaming it into place (never read as a lock).
 */
function prune(dir: string, current: number): void {
  for (const name of fs.readdirSync(dir)) {
    const m = GENERATION_FILE.exec(name);
    const t = TEMPORARY_FILE.exec(name);
    if (
      (m !== null && Number(m[1]) <= current - KEEP_GENERATIONS) ||
      (t !== null && processStartTime(Number(t[1])) === undefined)
    )
      fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** Whether the lock of `dir` is held right now (by a live or a dead holder). */
export function lockHeld(dir: string): boolean {
  return readLatest(dir)?.state === "held";
}
