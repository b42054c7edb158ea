/**
 * The production update's timeline from the engine's events (scripts/promotion/engine-timeline.ts):
 * the phases, the changed steps longest first, planning events ignored, and the log line the
 * bench reads back.
 */
import { expect } from "chai";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import {
  describeTimeline,
  engineTimeline,
  parseTimelineLine,
  TimedEvent,
} from "../../scripts/promotion/engine-timeline";

const STACK = "urn:pulumi:production::churn-model::pulumi:pulumi:Stack::churn-model-production";
const DEPLOYMENT = "urn:pulumi:production::churn-model::kubernetes:apps/v1:Deployment::churn-model";
const CONFIGMAP = "urn:pulumi:production::churn-model::kubernetes:core/v1:ConfigMap::release";

function step(kind: "pre" | "out", urn: string, op: string, atMs: number, planning = false): TimedEvent {
  const type = urn.split("::")[2];
  const metadata = { op, urn, type, provider: "" };
  const event = (kind === "pre"
    ? { resourcePreEvent: { metadata, planning } }
    : { resOutputsEvent: { metadata, planning } }) as unknown as Partial<EngineEvent>;
  return { atMs, event: { sequence: 0, timestamp: 0, ...event } as EngineEvent };
}

const other = (atMs: number, e: Partial<EngineEvent>): TimedEvent => ({
  atMs,
  event: { sequence: 0, timestamp: 0, ...e } as EngineEvent,
});

const EVENTS: TimedEvent[] = [
  other(900, { preludeEvent: { config: {} } }),
  step("pre", STACK, "same", 4200),
  step("pre", DEPLOYMENT, "update", 4400, true),
  step("out", DEPLOYMENT, "update", 4401, true),
  step("pre", DEPLOYMENT, "update", 4500),
  step("pre", CONFIGMAP, "create", 4600),
  step("out", CONFIGMAP, "create", 4700),
  other(4800, { policyEvent: {} as EngineEvent["policyEvent"] }),
  step("out", DEPLOYMENT, "update", 10_600),
  step("out", STACK, "same", 10_700),
  other(11_900, { summaryEvent: {} as EngineEvent["summaryEvent"] }),
];

describe("the engine's timeline of one update", function () {
  it("splits the update into its phases and lists the changed steps, longest first", function () {
    const t = engineTimeline(EVENTS, 12_400);
    expect(t).to.deep.include({
      preludeMs: 900,
      firstStepMs: 4200,
      lastStepMs: 10_700,
      summaryMs: 11_900,
      exitMs: 12_400,
      policyEvents: 1,
      unchanged: 1,
    });
    expect(t.steps.map((x) => [x.op, x.resource, x.endMs - x.startMs])).to.deep.equal([
      ["update", "kubernetes:apps/v1:Deployment churn-model", 6100],
      ["create", "kubernetes:core/v1:ConfigMap release", 100],
    ]);
  });

  it("prints one line the bench reads back to the millisecond it printed", function () {
    const line = describeTimeline(engineTimeline(EVENTS, 12_400));
    expect(line).to.equal(
      "engine timeline: prelude at 0.90 s · first step at 4.20 s · last step done at 10.70 s · summary at 11.90 s · " +
        "exit at 12.40 s · 2 changed (update kubernetes:apps/v1:Deployment churn-model 6.10 s, " +
        "create kubernetes:core/v1:ConfigMap release 0.10 s), 1 unchanged, 1 policy events",
    );
    expect(parseTimelineLine(`promotion: ${line}\nmore`)).to.deep.equal({
      preludeMs: 900,
      firstStepMs: 4200,
      lastStepMs: 10_700,
      summaryMs: 11_900,
      exitMs: 12_400,
      longest: { step: "update kubernetes:apps/v1:Deployment churn-model", ms: 6100 },
    });
    expect(parseTimelineLine("promotion: update 4 succeeded in 12.4s")).to.equal(undefined);
  });

  it("says what it did not see rather than inventing it", function () {
    const t = engineTimeline([], 3000);
    expect(describeTimeline(t)).to.equal(
      "engine timeline: prelude at ? · first step at ? · last step done at ? · summary at ? · exit at 3.00 s · " +
        "0 changed (none), 0 unchanged, 0 policy events",
    );
    expect(parseTimelineLine(describeTimeline(t))).to.equal(undefined);
  });
});
