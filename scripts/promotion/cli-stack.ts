/**
 * A stack of this project driven by the project's pulumi CLI directly: the part of the
 * Automation API's `Stack` a production rollout uses (rollout.ts `ProductionStack`), one engine
 * process per call and nothing more.
 *
 * The Automation API's `Stack` costs a promotion engine processes it does not need: selecting
 * the stack is a `pulumi stack select` of its own, and after every update it reads the outputs
 * twice (masked, then plain) and the history once, before `up()` returns. Loading the SDK
 * itself takes about a second. Here each call is the one command it names, with the same
 * environment and supervision as every engine process (engine.ts `engineEnv`, processes.ts).
 *
 * A failed command throws `EngineCommandError`, whose message is the Automation API's (`code:
 * N`, then stdout and stderr), so `isConcurrentUpdate`, `firstLine` and the recovery's reading
 * of engine failures see what they saw before.
 */
import type { ConfigMap, ConfigValue, EngineEvent, TagMap, UpdateSummary } from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StringDecoder } from "string_decoder";
import { ensureBuilt } from "../toolchain/build";
import { EngineOptions, projectDir } from "./engine";
import { historyArgs, parseHistory, pulumiRun } from "./engine-cli";

/** A failed engine command: its exit code and output, in the Automation API's message format. */
export class EngineCommandError extends Error {
  constructor(
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
    cause?: Error,
  ) {
    super(`code: ${code}\n stdout: ${stdout}\n stderr: ${stderr}\n err?: ${cause ? String(cause) : ""}\n`);
    this.name = "EngineCommandError";
  }
}

/** What an update of the rollout asks for (a subset of the Automation API's `UpOptions`). */
export interface UpdateRunOptions {
  readonly color?: "always" | "never" | "raw" | "auto";
  readonly policyPacks?: readonly string[];
  readonly policyPackConfigs?: readonly string[];
  readonly onOutput?: (out: string) => void;
  /** Each engine event as it is written to the engine's event log. */
  readonly onEvent?: (event: EngineEvent) => void;
}

/** What a refresh of the recovery asks for (a subset of the Automation API's `RefreshOptions`). */
export interface RefreshRunOptions {
  readonly color?: "always" | "never" | "raw" | "auto";
  readonly clearPendingCreates?: boolean;
  readonly onOutput?: (out: string) => void;
}

/** How often the event log of a running update is read for new events. */
const EVENT_POLL_MS = 50;

/**
 * Reads the engine's event log (one JSON event per line) while it is written: `poll()` hands
 * each complete new line to `onEvent`, and a final `poll()` after the engine exits drains it.
 */
class EventLogTail {
  private offset = 0;
  private partial = "";
  // A character split across two reads is decoded whole.
  private readonly decoder = new StringDecoder("utf8");
  constructor(
    private readonly file: string,
    private readonly onEvent: (event: EngineEvent) => void,
  ) {}

  poll(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.file, "r");
    } catch {
      return; // not written yet
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const lines = (this.partial + this.decoder.write(buf.subarray(0, n))).split("\n");
        this.partial = lines.pop() ?? "";
        for (const line of lines) this.emit(line);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** After the engine exited: a last line without its newline is an event too. */
  finish(): void {
    this.poll();
    const last = this.partial + this.decoder.end();
    this.partial = "";
    this.emit(last);
  }

  private emit(line: string): void {
    if (line.trim() === "") return;
    let event: EngineEvent;
    try {
      event = JSON.parse(line) as EngineEvent;
    } catch {
      return; // only complete lines are read, so this is not an event: it is left out
    }
    this.onEvent(event);
  }
}

export class CliStack {
  constructor(
    readonly name: string,
    private readonly opts: EngineOptions = {},
  ) {}

  /** Runs `pulumi <args> --stack <name>`; resolves with stdout, throws EngineCommandError. */
  private async run(
    args: readonly string[],
    onOutput?: (out: string) => void,
    env: Record<string, string> = {},
  ): Promise<string> {
    const opts = { ...this.opts, env: { ...(this.opts.env ?? {}), ...env } };
    // An update or refresh keeps the engine's whole output: the recovery reads its error lines.
    const missingStack = args[0] !== "up" && args[0] !== "refresh";
    const out = await pulumiRun(this.name, args, opts, onOutput, missingStack);
    if (out.code !== 0) throw new EngineCommandError(out.code, out.stdout, out.stderr, out.error);
    return out.stdout;
  }

  async getAllConfig(): Promise<ConfigMap> {
    return JSON.parse(await this.run(["config", "--show-secrets", "--json"])) as ConfigMap;
  }

  async setConfig(key: string, value: ConfigValue): Promise<void> {
    await this.run(["config", "set", key, value.secret ? "--secret" : "--plaintext", "--", value.value]);
  }

  async removeConfig(key: string): Promise<void> {
    await this.run(["config", "rm", key]);
  }

  /** Sets every key of `config` in one engine process (`pulumi config set-all`). */
  async setAllConfig(config: ConfigMap): Promise<void> {
    const args = ["config", "set-all"];
    for (const [key, value] of Object.entries(config))
      args.push(value.secret ? "--secret" : "--plaintext", `${key}=${value.value}`);
    await this.run(args);
  }

  /** Removes every key of `keys` in one engine process (`pulumi config rm-all`). */
  async removeAllConfig(keys: readonly string[]): Promise<void> {
    await this.run(["config", "rm-all", ...keys]);
  }

  /** `pulumi up` without a preview; events go to `onEvent` as the engine writes them. */
  async up(opts: UpdateRunOptions = {}): Promise<void> {
    // The engine runs the program from dist/ (Pulumi.yaml `main`): never a stale one.
    ensureBuilt();
    const args = ["up", "--yes", "--skip-preview", "--exec-kind", "auto.local"];
    if (opts.color) args.push("--color", opts.color);
    for (const pack of opts.policyPacks ?? []) args.push("--policy-pack", pack);
    for (const config of opts.policyPackConfigs ?? []) args.push("--policy-pack-config", config);
    if (opts.onEvent === undefined) {
      await this.run(args, opts.onOutput);
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-events-"));
    const file = path.join(dir, "events.json");
    const tail = new EventLogTail(file, opts.onEvent);
    const timer = setInterval(() => tail.poll(), EVENT_POLL_MS);
    try {
      // --event-log is one of the engine's debug flags, as the Automation API enables them.
      await this.run([...args, "--event-log", file], opts.onOutput, { PULUMI_DEBUG_COMMANDS: "true" });
    } finally {
      clearInterval(timer);
      try {
        tail.finish();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }

  async refresh(opts: RefreshRunOptions = {}): Promise<void> {
    ensureBuilt();
    const args = ["refresh", "--yes", "--skip-preview", "--exec-kind", "auto.local"];
    if (opts.color) args.push("--color", opts.color);
    if (opts.clearPendingCreates) args.push("--clear-pending-creates");
    await this.run(args, opts.onOutput);
  }

  async cancel(): Promise<void> {
    await this.run(["cancel", "--yes"]);
  }

  /** The stack's updates, newest first, as the Automation API's `Stack.history` returns them. */
  async history(pageSize?: number, page?: number, showSecrets = true): Promise<UpdateSummary[]> {
    return parseHistory(await this.run(historyArgs(showSecrets, pageSize, page)));
  }

  /** The stack's outputs in plain text (secrets revealed), each as `{ value }`. */
  async outputs(): Promise<Record<string, { value: unknown }>> {
    const values = JSON.parse(await this.run(["stack", "output", "--json", "--show-secrets"])) as Record<
      string,
      unknown
    >;
    return Object.fromEntries(Object.entries(values).map(([k, value]) => [k, { value }]));
  }

  async listTags(): Promise<TagMap> {
    return JSON.parse(await this.run(["stack", "tag", "ls", "--json"])) as TagMap;
  }

  async setTag(key: string, value: string): Promise<void> {
    await this.run(["stack", "tag", "set", key, value]);
  }
}

/**
 * The existing stack `stackName` of the project, driven by the CLI (see above). Nothing runs
 * yet: the first command of a stack that does not exist fails naming it ("no stack named").
 */
export function cliStack(stackName: string, opts: EngineOptions = {}): CliStack {
  return new CliStack(stackName, { ...opts, projectDir: projectDir(opts) });
}
