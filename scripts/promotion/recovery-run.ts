/**
 * Carrying out a recovery plan (recovery.ts) on the production stack: stop what the
 * interrupted promotion left running, clear the engine's lock when it was ours, refresh the
 * state from the cluster, then return production to the version it ran before and verify it.
 *
 * Every failure leaves with a typed error (errors.ts), never an untyped one:
 * - an engine step that did not start (the engine's lock held by someone else, the backend
 *   unreadable): ConcurrentUpdate or DependencyUnavailable, exit 2, nothing was changed;
 * - a refresh or cancel that started and failed (the provider could not reach the cluster,
 *   say): HumanNeeded, exit 6, production's state is unknown and a person must look;
 * - a rollback that failed or left production unhealthy: HumanNeeded, exit 6.
 * In each case the journal stays `rolling-back`, so the next promotion tries again.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { PrepareOptions, Progress, UpdateResult, VerifyResult } from "./deployer";
import { POSITION_OUTPUT } from "../../policy/contract";
import { firstLine, isConcurrentUpdate } from "./engine";
import { CdError, ConcurrentUpdate, DependencyUnavailable, HumanNeeded, RecoveryPending } from "./errors";
import { parseSignedEvidence, PromotionTarget, SignedEvidence } from "./evidence";
import type { HeldLock, Journal } from "./lock";
import { commandLine, sessionMembers, stopSessions } from "./processes";
import { EngineLock, judgeEngineLocks, RecoveryPlan } from "./recovery";
import type { ProductionStack } from "./production-stack";

const VERSION_KEY = "churn-model:modelVersion";
const EVIDENCE_KEY = "churn-model:promotionEvidence";

/** What a recovery needs of the rollout it runs in. */
export interface RecoveryContext {
  readonly name: string;
  readonly stack: () => Promise<ProductionStack>;
  readonly engineLocks: () => EngineLock[];
  readonly apply: (evidence: SignedEvidence, progress: Progress, what: string) => Promise<UpdateResult>;
  readonly verify: (version: string, progress: Progress) => Promise<VerifyResult>;
  /** What the recovery's rollback evidence binds: production's stack, namespace and position now. */
  readonly target: () => Promise<PromotionTarget>;
  readonly say: Progress;
}

/** What a dry run says when `pending`, a dead holder's unfinished promotion, waits for recovery. */
export function recoveryPending(stack: string, pending: Journal, plan: RecoveryPlan): RecoveryPending {
  const left = sessionMembers(pending.sessions).map((p) => `${p.pid} ${commandLine(p.pid)}`);
  return new RecoveryPending(
    `the promotion of ${pending.target ?? "a version"} to ${stack} started ${pending.holder.startedAt} ` +
      `(host ${pending.holder.host}, pid ${pending.holder.pid}) ended during "${pending.phase}" without finishing` +
      (left.length > 0 ? `; its engine processes still run: ${left.join(", ")}` : "") +
      `. Recovery (${plan.kind}) is pending: the next promotion does it first. Nothing was decided or changed`,
  );
}

/** The engine steps of a recovery that can fail on their own. */
export type RecoveryStep = "refresh" | "cancel";

/**
 * The typed error for a recovery step that failed. Rules, in order:
 * - the engine says another update holds the stack → ConcurrentUpdate (exit 2);
 * - the step never started (nothing in the stack's history since it was run) →
 *   DependencyUnavailable (exit 2): nothing was changed;
 * - otherwise it started and failed → HumanNeeded (exit 6): what production runs cannot be
 *   read back after a promotion interrupted mid-change.
 * The message names the stack, the step, the engine's first line and the interrupted phase.
 */
export function recoveryStepError(opts: {
  readonly stack: string;
  readonly step: RecoveryStep;
  readonly interrupted: Pick<Journal, "phase" | "target"> & Partial<Pick<Journal, "holder">>;
  readonly started: boolean;
  readonly err: unknown;
}): CdError {
  const { stack, step, interrupted } = opts;
  const what = step === "refresh" ? "the refresh of its state" : "clearing the engine's lock";
  const pending =
    `the recovery of the promotion of ${interrupted.target ?? "a version"} interrupted during ` +
    `"${interrupted.phase}" stays pending and the next promotion tries it again`;
  if (isConcurrentUpdate(opts.err)) {
    return new ConcurrentUpdate(
      `recovering ${stack}: ${what} did not start: another update of ${stack} is in progress. ` +
        `Nothing was changed; ${pending}. ${killedUpdateHint(stack, interrupted)}`,
    );
  }
  if (!opts.started) {
    return new DependencyUnavailable(
      `recovering ${stack}: ${what} did not start: ${sentence(engineFailure(opts.err))} Nothing was changed; ${pending}`,
    );
  }
  return new HumanNeeded(
    `recovering ${stack}: ${what} failed: ${sentence(engineFailure(opts.err))} What ${stack} runs is unknown ` +
      `(the promotion of ${interrupted.target ?? "a version"} was interrupted during "${interrupted.phase}"): ` +
      `a person must look at it now; ${pending}`,
  );
}

/**
 * What a person does when recovery finds the stack locked. A backend other than a local
 * file backend keeps the update of a killed promotion "in progress" (its lock cannot be
 * read, so recovery never cancels it): only a person can clear it, after making sure it is
 * the interrupted promotion's update and not a live one.
 */
export function killedUpdateHint(
  stack: string,
  interrupted: Pick<Journal, "phase"> & Partial<Pick<Journal, "holder">>,
): string {
  const who =
    interrupted.holder === undefined
      ? "the interrupted promotion"
      : `the interrupted promotion (host ${interrupted.holder.host}, pid ${interrupted.holder.pid}, ` +
        `started ${interrupted.holder.startedAt})`;
  return (
    `If the update in progress is the one ${who} left behind when it was killed during ` +
    `"${interrupted.phase}" — a cloud or object-store backend keeps a killed update in progress, and ` +
    "this tool cancels only engine locks it can prove are its own — a person must first confirm " +
    `that it is that promotion's update (the backend's update list: who started it, when, from where) ` +
    `and that nothing runs it any more, then run \`pulumi cancel --stack ${stack}\` and run the promotion ` +
    "again. Never cancel an update that could be live"
  );
}

/**
 * What an engine failure says went wrong: its distinct `error:` lines but the engine's summary
 * (`update failed`; the message starts with its exit code and the whole output), at most two,
 * else its first line.
 */
export function engineFailure(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const errors = [
    ...new Set(
      text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /^error: /.test(l))
        .map((l) => l.slice("error: ".length))
        // The engine's own summary says nothing of the cause.
        .filter((l) => !/^(update|preview|refresh|destroy) failed$/i.test(l)),
    ),
  ];
  return errors.length > 0 ? errors.slice(0, 2).join("; ") : firstLine(err);
}

/** `text` ending in exactly one full stop. */
function sentence(text: string): string {
  return `${text.replace(/[.\s]+$/, "")}.`;
}

/** Whether the engine recorded an operation of `kind` that began after t0 (so something may have changed). */
export async function operationStarted(
  stack: Pick<ProductionStack, "history">,
  kind: string,
  t0: number,
): Promise<boolean> {
  try {
    const history = await stack.history(1);
    return history.length > 0 && history[0].startTime.getTime() >= t0 - 1000 && history[0].kind === kind;
  } catch {
    return false;
  }
}

async function step(
  ctx: RecoveryContext,
  stack: ProductionStack,
  which: RecoveryStep,
  interrupted: Journal,
  run: () => Promise<unknown>,
): Promise<void> {
  const t0 = Date.now();
  try {
    await run();
  } catch (err) {
    // A cancel only deletes the engine's lock: it changed nothing unless it succeeded.
    const started = which === "refresh" && (await operationStarted(stack, "refresh", t0));
    throw recoveryStepError({ stack: ctx.name, step: which, interrupted, started, err });
  }
}

/** A plan that does something. */
export type ActivePlan = Exclude<RecoveryPlan, { kind: "none" }>;

/** A version production ran successfully, with the promotion evidence that update carried. */
export interface RanBefore {
  readonly version: string;
  readonly evidenceJson: string;
}

/**
 * What production last ran successfully before `before` (when the interrupted promotion took
 * the lock), from the engine's update history and production's position, never from the
 * journal (which the interrupted run wrote: whoever controls the runner could put any version
 * or evidence that still verifies there, e.g. a year-old promotion). Rules, in order:
 * - the history or the outputs cannot be read → DependencyUnavailable (exit 2), nothing changed;
 * - updates are taken newest first; one is a candidate when it is an `update` that succeeded,
 *   started before `before` (so not one of the interrupted run's own), and recorded a version
 *   and its promotion evidence in its config;
 * - a version production's position has revoked is skipped (the pack would refuse it);
 * - the first candidate is the answer; none → undefined.
 * `before` is compared with the backend's start times: the lock is taken seconds before the
 * first update, more than the clocks of a runner and its backend differ.
 */
export async function ranBefore(
  stack: Pick<ProductionStack, "history" | "outputs">,
  before: Date,
  name: string,
): Promise<RanBefore | undefined> {
  let log: Awaited<ReturnType<ProductionStack["history"]>>;
  let revoked: Set<string>;
  try {
    log = await stack.history();
    const position = (await stack.outputs())[POSITION_OUTPUT]?.value as
      | { revoked?: { version?: unknown }[] }
      | undefined;
    revoked = new Set((position?.revoked ?? []).map((r) => String(r.version)));
  } catch (err) {
    throw new DependencyUnavailable(
      `recovering ${name}: the engine's update history cannot be read (${firstLine(err)}); nothing was changed`,
    );
  }
  for (const u of log) {
    if (u.kind !== "update" || u.result !== "succeeded") continue;
    if (!(u.startTime.getTime() < before.getTime())) continue;
    const version = u.config?.[VERSION_KEY]?.value;
    const evidenceJson = u.config?.[EVIDENCE_KEY]?.value;
    if (typeof version !== "string" || version === "") continue;
    if (typeof evidenceJson !== "string" || evidenceJson === "") continue;
    if (revoked.has(version)) continue;
    return { version, evidenceJson };
  }
  return undefined;
}

/**
 * The recovery plan with its rollback target taken from the engine (ranBefore), not from the
 * journal. Rules, in order:
 * - none and stop-leftovers are returned as they are (nothing is rolled back);
 * - when production ran a version before the interrupted promotion → roll back to it with the
 *   evidence its update carried; a journal that named another version or evidence is reported;
 * - otherwise a journal that names a version to return to is refused → HumanNeeded (exit 6),
 *   nothing changed: there is nothing trustworthy to return to;
 * - otherwise (production's first promotion) → restore-config as planned.
 */
export async function resolveRecovery(
  plan: ActivePlan,
  stack: Pick<ProductionStack, "history" | "outputs">,
  startedAt: string,
  name: string,
  say: Progress,
): Promise<ActivePlan> {
  if (plan.kind !== "roll-back" && plan.kind !== "restore-config") return plan;
  const before = new Date(startedAt);
  if (Number.isNaN(before.getTime())) {
    throw new HumanNeeded(
      `recovering ${name}: the interrupted promotion's start (${JSON.stringify(startedAt)}) is not a time, so ` +
        "what production ran before it cannot be told from the engine's history. Nothing was changed; a person must look",
    );
  }
  const ran = await ranBefore(stack, before, name);
  if (ran === undefined) {
    if (plan.kind === "restore-config") return plan;
    throw new HumanNeeded(
      `recovering ${name}: the interrupted promotion's journal says ${name} ran ${plan.version} before it, ` +
        `but the engine's update history has no succeeded update with promotion evidence before ${startedAt} ` +
        `(revoked versions not counted). Nothing was changed; ${name} may run an unverified version, and a ` +
        "person must choose what it returns to",
    );
  }
  const journal = plan.kind === "roll-back" ? plan : undefined;
  if (journal === undefined) {
    say(
      `recovering ${name}: the journal names no version to return to, but the engine's history does: ${ran.version}`,
    );
  } else if (journal.version !== ran.version || journal.evidenceJson !== ran.evidenceJson) {
    say(
      `recovering ${name}: the journal names ${journal.version}` +
        (journal.version === ran.version ? " with other evidence" : "") +
        `, but production last ran ${ran.version} before the interrupted promotion (the engine's history); ` +
        "the engine's version and evidence are used",
    );
  }
  return {
    kind: "roll-back",
    sessions: plan.sessions,
    version: ran.version,
    evidenceJson: ran.evidenceJson,
    approver: journal?.approver ?? "recovery",
    interruptedPhase: plan.interruptedPhase,
  };
}

/** Carries out `plan` for the journal `held` took over (held.stale); returns when production is settled. */
export async function carryOutRecovery(
  planned: RecoveryPlan,
  held: HeldLock,
  opts: PrepareOptions,
  ctx: RecoveryContext,
): Promise<void> {
  if (planned.kind === "none") return;
  const stale = held.stale!;
  const name = ctx.name;
  // What to return to comes from the engine, not the journal (resolveRecovery); then it is
  // signed: a run that cannot sign (no key) stops here, before anything is touched.
  const plan =
    planned.kind === "stop-leftovers"
      ? planned
      : await resolveRecovery(
          planned,
          await ctx.stack(),
          stale.promotionStartedAt ?? stale.holder.startedAt,
          name,
          ctx.say,
        );
  const evidence =
    plan.kind === "roll-back"
      ? opts.signRollback(parseSignedEvidence(plan.evidenceJson), plan.approver, await ctx.target())
      : undefined;
  ctx.say(
    `recovering ${name}: the promotion started ${stale.holder.startedAt} (host ${stale.holder.host}, ` +
      `pid ${stale.holder.pid}) ended during "${stale.phase}" without finishing`,
  );
  const stopped = await stopSessions(plan.sessions);
  for (const p of stopped) ctx.say(`recovering ${name}: stopped left-over engine process ${p}`);
  const inherited = new Set(plan.sessions.map((x) => x.pid));
  held.update({ sessions: held.journal().sessions.filter((x) => !inherited.has(x.pid)) });
  if (plan.kind === "stop-leftovers") {
    ctx.say(`recovered ${name}: nothing of it had been changed`);
    return;
  }
  const stack = await ctx.stack();
  const verdict = judgeEngineLocks(ctx.engineLocks(), plan.sessions, os.hostname());
  if (verdict.action === "refuse") {
    throw new ConcurrentUpdate(
      `${name} is locked by an engine update this tool did not start (` +
        verdict.foreign.map((l) => `pid ${l.pid} on ${l.hostname}`).join(", ") +
        "); it is not cancelled, and recovery waits for it: nothing was changed",
    );
  }
  if (verdict.action === "cancel") {
    await step(ctx, stack, "cancel", stale, () => stack.cancel());
    ctx.say(`recovering ${name}: cleared the engine lock the interrupted update left`);
  }
  await step(ctx, stack, "refresh", stale, () =>
    stack.refresh({ color: "never", clearPendingCreates: true }),
  );
  ctx.say(`recovering ${name}: pending operations cleared, state refreshed from the cluster`);
  if (plan.kind === "restore-config") {
    for (const [key, value] of Object.entries(plan.previousConfig)) {
      if (value === null) await stack.removeConfig(key);
      else await stack.setConfig(key, { value });
    }
    held.update({ phase: "locked", previousConfig: undefined, target: undefined });
    throw new HumanNeeded(
      `the interrupted promotion of ${stale.target ?? "a version"} was ${name}'s first: there is no earlier ` +
        `version to return to. Its config is restored and its state refreshed, but ${name} runs whatever ` +
        "that update left: a person must check it now",
    );
  }
  ctx.say(`recovering ${name}: returning to ${plan.version}, the version it ran before`);
  const back = await ctx.apply(evidence!, ctx.say, "recovery rollback");
  if (!back.ok) {
    throw new HumanNeeded(
      `recovering ${name}: the rollback to ${plan.version} failed: ${back.reason}. ${name} needs a person now ` +
        "(the next promotion tries the recovery again)",
    );
  }
  const health = await ctx.verify(plan.version, ctx.say);
  if (!health.healthy) {
    throw new HumanNeeded(
      `recovering ${name}: ${plan.version} is not healthy after the rollback: ${health.reasons.join("; ")}. ` +
        `${name} needs a person now (the next promotion tries the recovery again)`,
    );
  }
  ctx.say(`recovered ${name}: it runs ${plan.version} again, verified healthy`);
}

/**
 * The engine's own locks on a stack of a file backend (`.pulumi/locks/…/<stack>/*.json`,
 * each naming the pid and host of the pulumi process that took it); none for other backends.
 */
export function fileBackendLocks(backend: string, stack: string): EngineLock[] {
  if (!backend.startsWith("file://")) return [];
  const root = path.join(backend.slice("file://".length), ".pulumi", "locks");
  const short = stack.split("/").pop() ?? stack;
  const out: EngineLock[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 4) walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith(".json") && path.basename(dir) === short) {
        try {
          const raw = JSON.parse(fs.readFileSync(p, "utf8")) as { pid?: unknown; hostname?: unknown };
          out.push({ file: p, pid: Number(raw.pid), hostname: String(raw.hostname ?? "") });
        } catch {
          out.push({ file: p, pid: NaN, hostname: "" });
        }
      }
    }
  };
  walk(root, 0);
  return out;
}
