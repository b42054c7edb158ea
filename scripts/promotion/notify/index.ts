/**
 * Notifications of promotion events (docs/notifications.md): the stack's
 * `churn-model:notifications` config, a persistent outbox in the state directory and signed
 * webhook deliveries. `openStackNotifier` is what the promote CLI uses.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { REPO_ROOT } from "../../toolchain/env";
import { BadInput } from "../errors";
import { ConfigEntry, NOTIFICATIONS_KEY, parseNotifyConfig } from "./config";
import { EventSink, Notifier, SILENT } from "./notifier";
import { Outbox } from "./outbox";

export { NOTIFICATIONS_KEY } from "./config";
export { EventSink, Notifier, SILENT } from "./notifier";
export { PromotionEvents } from "./promotion-events";

/** Environment variable overriding where outboxes live (default `.state/notify` of the checkout). */
export const NOTIFY_DIR_ENV = "CHURN_NOTIFY_DIR";

/** The outbox directory of a stack. */
export function outboxDir(stack: string, env: NodeJS.ProcessEnv = process.env): string {
  const root = env[NOTIFY_DIR_ENV] ?? path.join(REPO_ROOT, ".state", "notify");
  return path.join(root, stack.replace(/\//g, "+"));
}

export interface OpenOptions {
  /** Reads the stack's config as the Automation API returns it. */
  readonly readConfig: (stack: string) => Promise<Record<string, ConfigEntry>>;
  readonly warn: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => Date;
}

/**
 * The notifier of a stack, started (earlier runs' pending deliveries go out at once).
 * A config that cannot be read gives a silent notifier and a warning: pending deliveries stay
 * for a later run. A config that is read and invalid is a BadInput naming the key, before the
 * promotion changes anything.
 */
export async function openNotifier(stack: string, opts: OpenOptions): Promise<EventSink> {
  let entry: ConfigEntry | undefined;
  try {
    entry = (await opts.readConfig(stack))[NOTIFICATIONS_KEY];
  } catch (err) {
    if (err instanceof BadInput) throw err;
    opts.warn(
      `notify: cannot read ${NOTIFICATIONS_KEY} of stack ${stack} (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); ` +
        "this run sends no notifications, and earlier pending ones wait for a later run",
    );
    return SILENT;
  }
  const config = parseNotifyConfig(entry, stack);
  if (config.targets.length === 0) return SILENT;
  const notifier = new Notifier({
    stack,
    config,
    outbox: new Outbox(outboxDir(stack, opts.env)),
    warn: opts.warn,
    now: opts.now,
  });
  notifier.start();
  return notifier;
}

function isSecure(v: unknown): boolean {
  return typeof v === "object" && v !== null && typeof (v as { secure?: unknown }).secure === "string";
}

/**
 * The notifications value as the stack's settings file (`Pulumi.<stack>.yaml` of the project)
 * holds it (encrypted leaves as `{secure: …}`), or undefined when the file does not set it.
 */
export function notificationsInStackFile(stack: string, env: NodeJS.ProcessEnv = process.env): unknown {
  const dir = env.CHURN_PROJECT_DIR ?? REPO_ROOT;
  const file = path.join(dir, `Pulumi.${stack.split("/").pop() ?? stack}.yaml`);
  let doc: unknown;
  try {
    doc = yaml.load(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  const config = (doc as { config?: unknown } | null)?.config;
  return typeof config === "object" && config !== null
    ? (config as Record<string, unknown>)[NOTIFICATIONS_KEY]
    : undefined;
}

/**
 * The URLs and secrets that sit in clear text in the stack file: set per field with
 * `pulumi config set --path --secret`, every `url` and `secret` must be encrypted (a value
 * set whole with `--secret` is encrypted as one).
 */
export function clearTextFields(raw: unknown): string[] {
  if (raw === undefined || isSecure(raw)) return [];
  const targets = (raw as { targets?: unknown } | null)?.targets;
  if (!Array.isArray(targets)) return [];
  const out: string[] = [];
  targets.forEach((t: unknown, i: number) => {
    for (const field of ["url", "secret"]) {
      const v = (t as Record<string, unknown> | null)?.[field];
      if (v !== undefined && !isSecure(v)) out.push(`${NOTIFICATIONS_KEY}.targets[${i}].${field}`);
    }
  });
  return out;
}

/**
 * Reads a stack's config through the project's engine, decrypted, as the promotion reads it.
 * The engine is asked only when the stack's settings file sets the notifications key, so a
 * stack without notifications costs nothing.
 */
export async function readStackConfig(stack: string): Promise<Record<string, ConfigEntry>> {
  const raw = notificationsInStackFile(stack);
  if (raw === undefined) return {};
  const clear = clearTextFields(raw);
  if (clear.length > 0) {
    throw new BadInput(
      `stack ${stack}: ${clear.join(", ")} ${clear.length > 1 ? "are" : "is"} in clear text in Pulumi.${stack.split("/").pop()}.yaml; ` +
        `set ${clear.length > 1 ? "them as secrets" : "it as a secret"} (pulumi config set --path --secret '<key>' <value> -s ${stack})`,
    );
  }
  // Read through the engine's CLI (engine-cli.ts): the Automation API takes seconds to load.
  const { stackConfig } = await import("../engine-cli");
  return stackConfig(stack);
}
