/**
 * The promotion journal in the backend: a copy of the lock's journal (lock.ts) in two tags of
 * the target stack, so a runner that never saw the killed one's files (a fresh CI runner
 * against a cloud backend, where the lock directory lives in the checkout and dies with it)
 * still finds what it left and recovers it first. See docs/design.md, "Crash safety".
 *
 * - `churn-model:promotion` — who holds the lock: `{v, g, s, h, b, pid, st, n, at, a?}`
 *   (generation, held/released, host, boot ID, PID, its start time, nonce, started at,
 *   abandoned). Written when the lock is taken and when it ends.
 * - `churn-model:promotion-phase` — where the holder is: `{v, n, p, t?, f?, o?}` (the holder's
 *   nonce, phase, the version the phase applies, the version production ran before, and when
 *   the promotion whose work a taken-over journal carries took the lock). Written before every
 *   phase change reaches the engine.
 *
 * A tag value holds at most 256 characters (the cloud backend's limit), which is why the
 * journal is split in two and the config to return to is not copied: recovery takes it from
 * the engine's update log (the last succeeded update that ran the version before, with the
 * evidence that promoted it). Engine sessions are not copied either: they are processes of
 * the runner that started them.
 *
 * Tags are not compare-and-swap: two runners starting at the same moment against a cloud
 * backend can both find the journal free. The engine's own stack lock still serialises their
 * updates; the local lock (lock.ts) excludes processes of one runner.
 */
import type { Stack, UpdateSummary } from "@pulumi/pulumi/automation";
import { BadInput, ConcurrentUpdate, DependencyUnavailable } from "./errors";
import { acquirePromotionLock, AcquireOptions, HeldLock, Journal, Phase } from "./lock";

export const HOLDER_TAG = "churn-model:promotion";
export const PHASE_TAG = "churn-model:promotion-phase";
/** The longest tag value a backend keeps (the cloud backend's limit). */
export const MAX_TAG_VALUE = 256;

const VERSION_KEY = "churn-model:modelVersion";
const EVIDENCE_KEY = "churn-model:promotionEvidence";
const PHASES: readonly Phase[] = ["locked", "updating", "verifying", "rolling-back"];

/** What the tags need of a stack (unit tests pass a fake). */
export type TaggedStack = Pick<Stack, "listTags" | "setTag">;

export interface TagValues {
  readonly holder: string;
  readonly phase: string;
}

function fit(tag: string, value: string): string {
  if (value.length > MAX_TAG_VALUE) {
    throw new DependencyUnavailable(
      `the promotion journal's tag ${tag} would hold ${value.length} characters, more than a backend keeps (${MAX_TAG_VALUE}); nothing was changed`,
    );
  }
  return value;
}

/** The two tag values for a journal. Host names are cut to 64 characters (a DNS label's limit is 63). */
export function encodeJournalTags(j: Journal): TagValues {
  const h = j.holder;
  const holder = JSON.stringify({
    v: 1,
    g: j.generation,
    s: j.state,
    h: h.host.slice(0, 64),
    b: h.bootId,
    pid: h.pid,
    st: h.startTime,
    n: h.nonce,
    at: h.startedAt,
    ...(j.abandoned === true ? { a: 1 } : {}),
  });
  const from = j.previousConfig?.[VERSION_KEY];
  const phase = JSON.stringify({
    v: 1,
    n: h.nonce,
    p: j.phase,
    ...(j.target !== undefined ? { t: j.target } : {}),
    ...(typeof from === "string" && from !== "" ? { f: from } : {}),
    ...(j.promotionStartedAt !== undefined ? { o: j.promotionStartedAt } : {}),
  });
  return { holder: fit(HOLDER_TAG, holder), phase: fit(PHASE_TAG, phase) };
}

/** A journal as the backend holds it: the config to return to is named by version only. */
export interface BackendJournal extends Omit<Journal, "previousConfig" | "sessions" | "updatedAt"> {
  /** The version production ran before the promotion changed it (absent for a first promotion). */
  readonly from?: string;
}

function bad(tag: string, value: string, why: string): ConcurrentUpdate {
  return new ConcurrentUpdate(
    `the promotion journal in the backend cannot be read: tag ${tag} ${why} (${JSON.stringify(value.slice(0, 80))}); ` +
      "nothing was changed. Look at it with `pulumi stack tag ls` before removing it",
  );
}

function object(tag: string, value: string, keys: readonly string[]): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw bad(tag, value, "is not JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw bad(tag, value, "is not an object");
  const o = raw as Record<string, unknown>;
  const unknownKey = Object.keys(o).find((k) => !keys.includes(k));
  if (unknownKey !== undefined) throw bad(tag, value, `has an unknown field "${unknownKey}"`);
  if (o.v !== 1) throw bad(tag, value, `has format ${JSON.stringify(o.v)}, not 1`);
  return o;
}

function str(tag: string, value: string, o: Record<string, unknown>, k: string): string {
  if (typeof o[k] !== "string" || o[k] === "") throw bad(tag, value, `has no string "${k}"`);
  return o[k] as string;
}

function int(tag: string, value: string, o: Record<string, unknown>, k: string): number {
  if (!Number.isSafeInteger(o[k]) || (o[k] as number) < 0)
    throw bad(tag, value, `has no whole number "${k}"`);
  return o[k] as number;
}

/**
 * The journal the tags hold, or undefined when there is none. A phase tag of another holder
 * than the holder tag's (a holder that died between the two writes of taking the lock, when
 * nothing had changed yet) reads as phase `locked`.
 */
export function decodeJournalTags(
  tags: Readonly<Record<string, string>>,
  stack: string,
): BackendJournal | undefined {
  const holderValue = tags[HOLDER_TAG];
  if (holderValue === undefined) return undefined;
  const h = object(HOLDER_TAG, holderValue, ["v", "g", "s", "h", "b", "pid", "st", "n", "at", "a"]);
  const state = str(HOLDER_TAG, holderValue, h, "s");
  if (state !== "held" && state !== "released") throw bad(HOLDER_TAG, holderValue, `has state "${state}"`);
  if (h.a !== undefined && h.a !== 1) throw bad(HOLDER_TAG, holderValue, 'has "a" other than 1');
  const nonce = str(HOLDER_TAG, holderValue, h, "n");
  const journal: BackendJournal = {
    generation: int(HOLDER_TAG, holderValue, h, "g"),
    stack,
    state,
    phase: "locked",
    holder: {
      host: str(HOLDER_TAG, holderValue, h, "h"),
      bootId: str(HOLDER_TAG, holderValue, h, "b"),
      pid: int(HOLDER_TAG, holderValue, h, "pid"),
      startTime: int(HOLDER_TAG, holderValue, h, "st"),
      startedAt: str(HOLDER_TAG, holderValue, h, "at"),
      nonce,
    },
    ...(h.a === 1 ? { abandoned: true } : {}),
  };
  const phaseValue = tags[PHASE_TAG];
  if (phaseValue === undefined) return journal;
  const p = object(PHASE_TAG, phaseValue, ["v", "n", "p", "t", "f", "o"]);
  if (str(PHASE_TAG, phaseValue, p, "n") !== nonce) return journal;
  const phase = str(PHASE_TAG, phaseValue, p, "p") as Phase;
  if (!PHASES.includes(phase)) throw bad(PHASE_TAG, phaseValue, `has phase "${phase}"`);
  const target = p.t === undefined ? undefined : str(PHASE_TAG, phaseValue, p, "t");
  const from = p.f === undefined ? undefined : str(PHASE_TAG, phaseValue, p, "f");
  const origin = p.o === undefined ? undefined : str(PHASE_TAG, phaseValue, p, "o");
  return {
    ...journal,
    ...(origin !== undefined ? { promotionStartedAt: origin } : {}),
    phase,
    ...(target !== undefined ? { target } : {}),
    ...(from !== undefined ? { from } : {}),
  };
}

/**
 * The config recovery returns to for a journal from the backend: the version and evidence
 * of the newest succeeded update that ran `from` with promotion evidence, from the engine's
 * update log (`stack.history()`, newest first). Empty when there is no `from` (a first
 * promotion) or no such update.
 */
export function configFromUpdateLog(
  from: string | undefined,
  updateLog: readonly Pick<UpdateSummary, "kind" | "result" | "config">[],
): Record<string, string | null> {
  if (from === undefined) return {};
  for (const u of updateLog) {
    if (u.kind !== "update" || u.result !== "succeeded") continue;
    const version = u.config?.[VERSION_KEY]?.value;
    const evidence = u.config?.[EVIDENCE_KEY]?.value;
    if (version === from && typeof evidence === "string" && evidence !== "") {
      return { [VERSION_KEY]: version, [EVIDENCE_KEY]: evidence };
    }
  }
  return {};
}

/** A backend journal as a lock journal (lock.ts), with the config to return to filled in. */
export function asLockJournal(j: BackendJournal, previousConfig: Record<string, string | null>): Journal {
  const { from: _from, ...rest } = j;
  void _from;
  return {
    ...rest,
    ...(Object.keys(previousConfig).length > 0 ? { previousConfig } : {}),
    sessions: [],
    updatedAt: j.holder.startedAt,
  };
}

/**
 * Writes the journal's tags when they change, in order: each write waits for the one before,
 * and `flush()` for all of them (the rollout flushes before every engine update, so the
 * backend says what is about to change before it does). A failed write fails the next flush.
 */
export class JournalTagWriter {
  private last: TagValues | undefined;
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly stack: () => Promise<TaggedStack>) {}

  /** Queues the tags of `j` (only those that differ from the last written). */
  write(j: Journal): void {
    const next = encodeJournalTags(j);
    const last = this.last;
    this.last = next;
    // Phase first: a holder tag naming a new holder is only written once its phase is there.
    const writes: [string, string][] = [];
    if (last?.phase !== next.phase) writes.push([PHASE_TAG, next.phase]);
    if (last?.holder !== next.holder) writes.push([HOLDER_TAG, next.holder]);
    if (writes.length === 0) return;
    this.queue = this.queue.then(async () => {
      if (this.failure !== undefined) return;
      try {
        const stack = await this.stack();
        for (const [tag, value] of writes) await stack.setTag(tag, value);
      } catch (err) {
        this.failure = err;
      }
    });
  }

  /** Waits for every queued write; throws DependencyUnavailable if one failed. */
  async flush(): Promise<void> {
    await this.queue;
    if (this.failure !== undefined) {
      const why = this.failure instanceof Error ? this.failure.message.split("\n")[0] : String(this.failure);
      throw new DependencyUnavailable(`the promotion journal could not be written to the backend: ${why}`);
    }
  }
}

/**
 * Whether the journal is kept in the backend too: always with a backend other than a file
 * backend (whose lock directory lives beside the state, where every runner sees it), and
 * with a file backend when CHURN_PROMOTION_JOURNAL=backend (the lock directory then lives in
 * the project, as with a cloud backend).
 */
export function journalInBackend(backendUrl: string, setting: string | undefined): boolean {
  if (setting !== undefined && setting !== "" && setting !== "auto" && setting !== "backend") {
    throw new BadInput(`CHURN_PROMOTION_JOURNAL=${setting} is not "auto" or "backend"; nothing was changed`);
  }
  return !backendUrl.startsWith("file://") || setting === "backend";
}

/** The backend's journal of `stack` as a lock journal, the config to return to taken from the engine's update log. */
export async function readBackendJournal(
  stack: TaggedStack & Pick<Stack, "history">,
  name: string,
): Promise<Journal | undefined> {
  let tags: Record<string, string>;
  try {
    tags = await stack.listTags();
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new DependencyUnavailable(
      `the promotion journal in the backend (the tags of ${name}) cannot be read: ${why}; nothing was changed`,
    );
  }
  const j = decodeJournalTags(tags, name);
  if (j === undefined) return undefined;
  const unsettled = j.state === "held" && j.phase !== "locked";
  return asLockJournal(j, unsettled ? configFromUpdateLog(j.from, await stack.history()) : {});
}

/** `held`, with every change of its journal also queued to `writer` (the backend's copy). */
export function mirrorLock(held: HeldLock, writer: JournalTagWriter): HeldLock {
  writer.write(held.journal());
  return {
    dir: held.dir,
    stale: held.stale,
    journal: () => held.journal(),
    update(change) {
      held.update(change);
      writer.write(held.journal());
    },
    unlock() {
      held.unlock();
      writer.write(held.journal());
    },
    abandon() {
      held.abandon();
      writer.write(held.journal());
    },
  };
}

/**
 * Takes the lock of `stack` in `dir` (lock.ts) and, when the journal is kept in the backend,
 * writes it there before returning; a write the backend refuses unlocks the lock again and
 * throws, nothing changed.
 */
export async function takeLock(
  dir: string,
  stack: string,
  opts: AcquireOptions & { readonly inBackend: boolean; readonly tagged: () => Promise<TaggedStack> },
): Promise<{ held: HeldLock; tags?: JournalTagWriter }> {
  const local = acquirePromotionLock(dir, stack, { takeOverFrom: opts.takeOverFrom, remote: opts.remote });
  if (!opts.inBackend && opts.remote === undefined) return { held: local };
  const tags = new JournalTagWriter(opts.tagged);
  const held = mirrorLock(local, tags);
  try {
    await tags.flush();
  } catch (err) {
    // Work taken over from a dead holder stays for the next run; a plain lock is freed.
    const j = local.journal();
    if (j.phase === "locked" && j.sessions.length === 0) local.unlock();
    else local.abandon();
    throw err;
  }
  return { held, tags };
}
