/**
 * Where one `pulumi up` spends its time, from the engine's own events as this process receives
 * them (the Automation API's `onEvent`, timed on arrival with millisecond resolution; the
 * events' own timestamps are whole seconds). With CHURN_ENGINE_TIMELINE=1 the rollout prints
 * the timeline after each update (rollout.ts); `npm run bench` asks for it to profile the
 * production update (README, "Benchmarks"). Off by default: the event stream is a file the
 * Automation API tails, which an update does not otherwise need.
 *
 * Phases, each measured from the call of `stack.up()`:
 * - `prelude`: the CLI started, read the backend and the config, and the engine began;
 * - `program`: the first resource step began (the language host started the program, which
 *   registered the stack);
 * - `policy`: the policy pack's events (its analyzer ran over the resources);
 * - the steps: each resource's step from its pre-event to its outputs (diff, the provider's
 *   apply and, for a Deployment, its readiness await);
 * - `summary`: the engine's summary (the program exited, the checkpoint written);
 * - `exit`: `stack.up()` returned (the CLI exited).
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";

/** An engine event and when it arrived, in ms since `stack.up()` was called. */
export interface TimedEvent {
  readonly atMs: number;
  readonly event: EngineEvent;
}

export interface StepTime {
  /** `<type> <name>` of the resource. */
  readonly resource: string;
  readonly op: string;
  readonly startMs: number;
  readonly endMs: number;
}

export interface EngineTimeline {
  readonly preludeMs: number | null;
  readonly firstStepMs: number | null;
  readonly lastStepMs: number | null;
  readonly policyEvents: number;
  readonly summaryMs: number | null;
  readonly exitMs: number;
  /** Steps that changed something (not `same`), longest first. */
  readonly steps: readonly StepTime[];
  /** Steps with op `same`. */
  readonly unchanged: number;
}

function resourceName(urn: string, type: string): string {
  const name = urn.slice(urn.lastIndexOf("::") + 2);
  return `${type} ${name}`;
}

/** The timeline of one update from its events (in arrival order) and when `up()` returned. */
export function engineTimeline(events: readonly TimedEvent[], exitMs: number): EngineTimeline {
  let preludeMs: number | null = null;
  let summaryMs: number | null = null;
  let firstStepMs: number | null = null;
  let lastStepMs: number | null = null;
  let policyEvents = 0;
  let unchanged = 0;
  const open = new Map<string, { startMs: number; op: string; type: string }>();
  const steps: StepTime[] = [];
  for (const { atMs, event } of events) {
    if (event.preludeEvent && preludeMs === null) preludeMs = atMs;
    if (event.summaryEvent) summaryMs = atMs;
    if (event.policyEvent) policyEvents++;
    const pre = event.resourcePreEvent;
    if (pre && !pre.planning) {
      firstStepMs ??= atMs;
      open.set(pre.metadata.urn, { startMs: atMs, op: pre.metadata.op, type: pre.metadata.type });
    }
    const done = event.resOutputsEvent;
    if (done && !done.planning) {
      lastStepMs = atMs;
      const began = open.get(done.metadata.urn);
      open.delete(done.metadata.urn);
      if (done.metadata.op === "same") {
        unchanged++;
      } else {
        steps.push({
          resource: resourceName(done.metadata.urn, done.metadata.type),
          op: done.metadata.op,
          startMs: began?.startMs ?? atMs,
          endMs: atMs,
        });
      }
    }
  }
  steps.sort((a, b) => b.endMs - b.startMs - (a.endMs - a.startMs));
  return { preludeMs, firstStepMs, lastStepMs, policyEvents, summaryMs, exitMs, steps, unchanged };
}

function s(ms: number | null): string {
  return ms === null ? "?" : `${(ms / 1000).toFixed(2)} s`;
}

/** One line for the promotion's log; the bench reads it back (`parseTimelineLine`). */
export function describeTimeline(t: EngineTimeline): string {
  const steps = t.steps
    .slice(0, 4)
    .map((x) => `${x.op} ${x.resource} ${s(x.endMs - x.startMs)}`)
    .join(", ");
  return (
    `engine timeline: prelude at ${s(t.preludeMs)} · first step at ${s(t.firstStepMs)} · ` +
    `last step done at ${s(t.lastStepMs)} · summary at ${s(t.summaryMs)} · exit at ${s(t.exitMs)} · ` +
    `${t.steps.length} changed (${steps || "none"}), ${t.unchanged} unchanged, ${t.policyEvents} policy events`
  );
}

export interface TimelineFigures {
  readonly preludeMs: number;
  readonly firstStepMs: number;
  readonly lastStepMs: number;
  readonly summaryMs: number;
  readonly exitMs: number;
  /** The longest changed step, e.g. "update kubernetes:apps/v1:Deployment churn-model", and its ms. */
  readonly longest?: { readonly step: string; readonly ms: number };
}

/** The figures of a `describeTimeline` line in a log, or undefined when there is none. */
export function parseTimelineLine(text: string): TimelineFigures | undefined {
  const m =
    /engine timeline: prelude at ([\d.]+) s · first step at ([\d.]+) s · last step done at ([\d.]+) s · summary at ([\d.]+) s · exit at ([\d.]+) s · \d+ changed \(([^)]*)\)/.exec(
      text,
    );
  if (!m) return undefined;
  const ms = (x: string) => Math.round(Number(x) * 1000);
  const first = /^(\S+ \S+ \S+) ([\d.]+) s/.exec(m[6].split(", ")[0] ?? "");
  return {
    preludeMs: ms(m[1]),
    firstStepMs: ms(m[2]),
    lastStepMs: ms(m[3]),
    summaryMs: ms(m[4]),
    exitMs: ms(m[5]),
    ...(first ? { longest: { step: first[1], ms: ms(first[2]) } } : {}),
  };
}
