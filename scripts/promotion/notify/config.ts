/**
 * Where a stack's notifications go: the stack config key `churn-model:notifications`, a secret
 * object (its URLs and signing secrets must never sit in a stack file in clear text). Every
 * problem is a BadInput naming the key; no message ever repeats a URL or a secret.
 *
 *   pulumi config set --secret churn-model:notifications \
 *     '{"targets":[{"name":"ops","type":"webhook","url":"https://…","secret":"…"}]}'
 *
 * See docs/notifications.md for every field.
 */
import { BadInput } from "../errors";
import { EVENT_TYPES, EventType } from "./events";

export const NOTIFICATIONS_KEY = "churn-model:notifications";

export type TargetKind = "webhook" | "slack";

export interface Target {
  /** Names the target in messages and in outbox file names. */
  readonly name: string;
  readonly kind: TargetKind;
  readonly url: string;
  /** The HMAC-SHA256 key for this target's signatures. */
  readonly secret: string;
  /** The events it receives; every event when the config lists none. */
  readonly events: ReadonlySet<EventType>;
}

export interface NotifyConfig {
  readonly targets: readonly Target[];
  /** Deadline of one delivery attempt, milliseconds. */
  readonly timeoutMs: number;
  /** Attempts per delivery, over all runs, before it is set aside in the outbox's dead/ directory. */
  readonly maxAttempts: number;
  /** How long a promotion waits at its end for deliveries still under way, milliseconds. */
  readonly drainMs: number;
}

/** No targets: nothing is sent. */
export const NO_NOTIFICATIONS: NotifyConfig = {
  targets: [],
  timeoutMs: 5000,
  maxAttempts: 8,
  drainMs: 15_000,
};

/** A config value as the Automation API returns it (`stack.getAllConfig()`). */
export interface ConfigEntry {
  readonly value: string;
  readonly secret?: boolean;
}

const TOP_KEYS = ["targets", "timeoutSeconds", "maxAttempts", "drainSeconds"];
const TARGET_KEYS = ["name", "type", "url", "secret", "events"];
const NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const MIN_SECRET_LENGTH = 16;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function integerIn(
  obj: Record<string, unknown>,
  key: string,
  lo: number,
  hi: number,
  def: number,
  at: string,
): number {
  const v = obj[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    throw new BadInput(`${at}.${key} must be a whole number from ${lo} to ${hi} (got ${JSON.stringify(v)})`);
  }
  return v;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) {
    throw new BadInput(
      `${at} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")} (accepted: ${allowed.join(", ")})`,
    );
  }
}

function parseTarget(raw: unknown, at: string): Target {
  if (!isObject(raw)) throw new BadInput(`${at} must be an object with name, type, url and secret`);
  unknownKeys(raw, TARGET_KEYS, at);
  const name = raw.name;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new BadInput(
      `${at}.name must be lower-case letters, digits and dashes, at most 40 (got ${JSON.stringify(name)})`,
    );
  }
  const kind = raw.type;
  if (kind !== "webhook" && kind !== "slack") {
    throw new BadInput(`${at}.type must be "webhook" or "slack" (got ${JSON.stringify(kind)})`);
  }
  // URLs of incoming webhooks are credentials: the messages below never print them.
  const url = raw.url;
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
    throw new BadInput(`${at}.url must be an http(s) URL (the value is not shown: it is secret)`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new BadInput(`${at}.url must not carry a user or password (the value is not shown: it is secret)`);
  }
  const secret = raw.secret;
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    throw new BadInput(
      `${at}.secret must be a string of at least ${MIN_SECRET_LENGTH} characters, the key requests to this ` +
        "target are signed with (e.g. `openssl rand -hex 32`)",
    );
  }
  let events: ReadonlySet<EventType> = new Set(EVENT_TYPES);
  if (raw.events !== undefined) {
    const list = raw.events;
    if (!Array.isArray(list) || list.length === 0) {
      throw new BadInput(`${at}.events must be a non-empty list of event types (${EVENT_TYPES.join(", ")})`);
    }
    const bad = list.filter((e) => !(EVENT_TYPES as readonly unknown[]).includes(e));
    if (bad.length > 0) {
      throw new BadInput(
        `${at}.events has unknown event type${bad.length > 1 ? "s" : ""} ${bad.map((e) => JSON.stringify(e)).join(", ")} ` +
          `(known: ${EVENT_TYPES.join(", ")})`,
      );
    }
    events = new Set(list as EventType[]);
  }
  return { name, kind, url: parsed.toString(), secret, events };
}

/**
 * Validates the value of `churn-model:notifications` of a stack. Absent: no notifications.
 * A value that is not secret config is refused, whatever it holds.
 */
export function parseNotifyConfig(entry: ConfigEntry | undefined, stack: string): NotifyConfig {
  if (entry === undefined) return NO_NOTIFICATIONS;
  const at = `stack ${stack}: ${NOTIFICATIONS_KEY}`;
  if (entry.secret !== true) {
    throw new BadInput(
      `${at} must be secret config: it holds webhook URLs and signing secrets ` +
        `(pulumi config set --secret ${NOTIFICATIONS_KEY} '<json>' -s ${stack})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(entry.value);
  } catch {
    throw new BadInput(`${at} must be a JSON object with a targets list`);
  }
  if (!isObject(raw)) throw new BadInput(`${at} must be an object with a targets list`);
  unknownKeys(raw, TOP_KEYS, at);
  if (!Array.isArray(raw.targets)) {
    throw new BadInput(`${at}.targets must be a list of {name, type, url, secret[, events]}`);
  }
  const targets = raw.targets.map((t, i) => parseTarget(t, `${at}.targets[${i}]`));
  const names = targets.map((t) => t.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new BadInput(`${at}.targets names ${dup} more than once`);
  return {
    targets,
    timeoutMs: integerIn(raw, "timeoutSeconds", 1, 60, NO_NOTIFICATIONS.timeoutMs / 1000, at) * 1000,
    maxAttempts: integerIn(raw, "maxAttempts", 1, 100, NO_NOTIFICATIONS.maxAttempts, at),
    drainMs: integerIn(raw, "drainSeconds", 0, 300, NO_NOTIFICATIONS.drainMs / 1000, at) * 1000,
  };
}
