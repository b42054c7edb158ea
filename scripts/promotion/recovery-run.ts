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
import { configFromUpdateLog } from "./backend-journal";
import { firstLine, isConcurrentUpdate } from "./engine";
import { CdError, ConcurrentUpdate, DependencyUnavailable, HumanNeeded, RecoveryPending } from "./errors";
import { parseSignedEvidence, PromotionTarget, SignedEvidence } from "./evidence";
import type { HeldLock, Journal } from "./lock";
import { commandLine, sessionMembers, stopSessions } from "./processes";
import { EngineLock, judgeEngineLocks, RecoveryPlan } from "./recovery";
import type { ProductionStack } from "./rollout";

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

/**
 * The promotion evidence a recovery's rollback embeds, from the engine's update history rather
 * than from the journal (which the interrupted run wrote, so whoever controls the runner could
 * have put in it any evidence that still verifies, e.g. a year-old promotion). Rules, in order:
 * - the history cannot be read → DependencyUnavailable (exit 2), nothing was changed;
 * - the newest succeeded update that ran the journal's version with evidence gives it;
 * - there is none: production never ran that version successfully with evidence, so there is
 *   nothing trustworthy to return to → HumanNeeded (exit 6), nothing was changed.
 * A journal copy that differs from the engine's is reported and not used.
 */
export async function rollbackProvenance(
  plan: Extract<RecoveryPlan, { kind: "roll-back" }>,
  stack: Pick<ProductionStack, "history">,
  name: string,
  say: Progress,
): Promise<string> {
  let log: Awaited<ReturnType<ProductionStack["history"]>>;
  try {
    log = await stack.history();
  } catch (err) {
    throw new DependencyUnavailable(
      `recovering ${name}: the engine's update history cannot be read (${firstLine(err)}); nothing was changed`,
    );
  }
  const ran = configFromUpdateLog(plan.version, log)[EVIDENCE_KEY];
  if (typeof ran !== "string") {
    throw new HumanNeeded(
      `recovering ${name}: the interrupted promotion's journal says ${name} ran ${plan.version} before it, ` +
        `but the engine's update history has no succeeded update of ${plan.version} with promotion evidence. ` +
        `Nothing was changed; ${name} may run an unverified version, and a person must choose what it returns to`,
    );
  }
  if (ran !== plan.evidenceJson) {
    say(
      `recovering ${name}: the journal's evidence for ${plan.version} is not the one the engine recorded ` +
        "when production last ran it; the engine's is used",
    );
  }
  return ran;
}

/** Carries out `plan` for the journal `held` took over (held.stale); returns when production is settled. */
export async function carryOutRecovery(
  plan: RecoveryPlan,
  held: HeldLock,
  opts: PrepareOptions,
  ctx: RecoveryContext,
): Promise<void> {
  if (plan.kind === "none") return;
  const stale = held.stale!;
  const name = ctx.name;
  // Signed first: a run that cannot sign (no key) stops here, before anything is touched. What
  // is signed is the evidence the engine recorded, not the journal's copy (rollbackProvenance).
  const evidence =
    plan.kind === "roll-back"
      ? opts.signRollback(
          parseSignedEvidence(await rollbackProvenance(plan, await ctx.stack(), name, ctx.say)),
          plan.approver,
          await ctx.target(),
        )
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
