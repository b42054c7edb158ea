/**
 * The notification events of a promotion and the bodies sent for them: a JSON document for
 * generic webhooks and a Slack-compatible message (`text` + `blocks`) for incoming webhooks.
 * Pure: the caller passes the time and the event ID.
 */
import * as crypto from "crypto";
import { canonicalJson, SignedEvidence } from "../evidence";
import { Decision, formatNumber } from "../gate";

export const EVENT_TYPES = [
  "gate-rejected",
  "approval-requested",
  "promoted",
  "canary-step",
  "aborted",
  "rolled-back",
  "failed",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The `schema` field of every generic webhook body; a receiver refuses schemas it does not know. */
export const EVENT_SCHEMA = "churn-model.notification/v1";

/** What the promotion knows when something worth telling happens. */
export interface EventInput {
  readonly type: EventType;
  /** The stack promoted to. */
  readonly stack: string;
  /** The stack promoted from. */
  readonly from: string;
  /** The candidate, when known. */
  readonly modelVersion: string | null;
  /** The latest gate decision, when there was one. */
  readonly decision?: Decision;
  /** The digest of the decision an approval binds to, when there is one. */
  readonly decisionDigest?: string;
  /** The evidence the event is about (the promotion's, or a rollback's). */
  readonly evidence?: SignedEvidence;
  /** Why: the refusal, the trigger, the failure. One or more sentences. */
  readonly reason?: string;
  /** Extra facts of the event (canary weight, the version rolled back to, …). */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

export interface CheckPayload {
  readonly name: string;
  readonly value: number | null;
  readonly threshold: number;
  readonly passed: boolean;
  readonly reason: string;
}

/** The generic webhook body (and what the outbox keeps). */
export interface EventPayload {
  readonly schema: typeof EVENT_SCHEMA;
  readonly id: string;
  readonly type: EventType;
  /** RFC3339, when the event happened. */
  readonly time: string;
  readonly stack: string;
  readonly from: string;
  readonly modelVersion: string | null;
  readonly summary: string;
  readonly reason: string | null;
  readonly decision: {
    readonly decision: "promote" | "reject";
    readonly window: { readonly start: string; readonly end: string };
    readonly checks: readonly CheckPayload[];
  } | null;
  readonly decisionDigest: string | null;
  readonly evidenceDigest: string | null;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
}

/** A fresh event ID: `evt_` and 32 random hex digits. */
export function newEventId(): string {
  return `evt_${crypto.randomBytes(16).toString("hex")}`;
}

/** `sha256:<hex>` of the evidence's canonical encoding (record and signature). */
export function evidenceDigest(evidence: SignedEvidence): string {
  return `sha256:${crypto.createHash("sha256").update(canonicalJson(evidence)).digest("hex")}`;
}

function failedChecks(decision: Decision | undefined): string {
  const failed = (decision?.checks ?? []).filter((c) => !c.passed);
  return failed.map((c) => `${c.name} ${c.value === null ? "none" : formatNumber(c.value)}`).join(", ");
}

/** One sentence saying what happened. */
export function summaryOf(input: EventInput): string {
  const v = `churn-model ${input.modelVersion ?? "(unknown version)"}`;
  const to = input.stack;
  const why = input.reason !== undefined ? `: ${firstLine(input.reason)}` : "";
  switch (input.type) {
    case "gate-rejected": {
      const failed = failedChecks(input.decision);
      return `${v} was refused by the gate for ${to}${failed !== "" ? ` (failed: ${failed})` : why}; nothing was changed`;
    }
    case "approval-requested":
      return `${v} passed the gate for ${to} and waits for an approval`;
    case "promoted":
      return `${v} was promoted to ${to} and verified healthy`;
    case "canary-step":
      return `${v} canary step in ${to}${why}`;
    case "aborted":
      return `promotion of ${v} to ${to} was stopped${why}`;
    case "rolled-back":
      return `${v} was rolled back in ${to}${why}`;
    case "failed":
      return `promotion of ${v} to ${to} failed${why}`;
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}

/** The event as every target receives it. */
export function eventPayload(input: EventInput, id: string, time: Date): EventPayload {
  const d = input.decision;
  return {
    schema: EVENT_SCHEMA,
    id,
    type: input.type,
    time: time.toISOString(),
    stack: input.stack,
    from: input.from,
    modelVersion: input.modelVersion,
    summary: summaryOf(input),
    reason: input.reason ?? null,
    decision:
      d === undefined
        ? null
        : {
            decision: d.decision,
            window: { start: d.window.start, end: d.window.end },
            checks: d.checks.map((c) => ({
              name: c.name,
              value: c.value,
              threshold: c.threshold,
              passed: c.passed,
              reason: c.reason,
            })),
          },
    decisionDigest: input.decisionDigest ?? null,
    evidenceDigest: input.evidence === undefined ? null : evidenceDigest(input.evidence),
    details: { ...(input.details ?? {}) },
  };
}

const EMOJI: Record<EventType, string> = {
  "gate-rejected": ":no_entry:",
  "approval-requested": ":raised_hand:",
  promoted: ":white_check_mark:",
  "canary-step": ":hatching_chick:",
  aborted: ":warning:",
  "rolled-back": ":rewind:",
  failed: ":rotating_light:",
};

function mrkdwnEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A Slack-compatible incoming-webhook message: `text` (what notifications and clients without
 * blocks show) plus blocks with the checks and the digests. The event ID travels in the
 * context line and in the request header.
 */
export function slackMessage(p: EventPayload): {
  text: string;
  blocks: Record<string, unknown>[];
} {
  const text = `${EMOJI[p.type]} ${mrkdwnEscape(p.summary)}`;
  const blocks: Record<string, unknown>[] = [{ type: "section", text: { type: "mrkdwn", text } }];
  if (p.reason !== null && p.type !== "gate-rejected") {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `\`\`\`${mrkdwnEscape(p.reason).slice(0, 2900)}\`\`\`` },
    });
  }
  if (p.decision !== null) {
    const lines = p.decision.checks.map(
      (c) =>
        `${c.passed ? "✓" : "✗"} ${c.name.padEnd(22)} ${(c.value === null ? "—" : formatNumber(c.value)).padStart(10)}` +
        `  (threshold ${formatNumber(c.threshold)})`,
    );
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: `*Gate: ${p.decision.decision}* over ${p.decision.window.start} → ${p.decision.window.end}\n\`\`\`${lines.join("\n")}\`\`\``,
      },
    });
  }
  const context = [`event \`${p.id}\``, `\`${p.type}\``];
  if (p.decisionDigest !== null) context.push(`decision \`${p.decisionDigest}\``);
  if (p.evidenceDigest !== null) context.push(`evidence \`${p.evidenceDigest}\``);
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: context.join(" · ") }] });
  return { text, blocks };
}

/** The exact body for a target kind. */
export function requestBody(kind: "webhook" | "slack", payload: EventPayload): string {
  return JSON.stringify(kind === "slack" ? slackMessage(payload) : payload);
}
