/**
 * The Automation API bound to the project's own engine: every stack operation of the
 * delivery tools goes through here, with the toolchain's CLI and environment. The SDK is
 * loaded on first use, not when this module is: `--help`, `history` and the dry run never
 * pay for it (engine-cli.ts reads a stack's outputs and history without it).
 */
import type { PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as path from "path";
import { ensureBuilt } from "../toolchain/build";
import { processEnv, REPO_ROOT, toolPath } from "../toolchain/env";
import { BadInput, CdError, ConcurrentUpdate, DependencyUnavailable } from "./errors";
import { childEnv, runSession } from "./processes";

export interface EngineOptions {
  /** Project directory (Pulumi.yaml and the stack files). Default $CHURN_PROJECT_DIR or the checkout. */
  readonly projectDir?: string;
  /** Extra environment for the engine and the program (e.g. KUBECONFIG). */
  readonly env?: Record<string, string>;
}

export function projectDir(opts: EngineOptions = {}): string {
  return opts.projectDir ?? process.env.CHURN_PROJECT_DIR ?? REPO_ROOT;
}

/** The environment of every engine process: the toolchain's settings over the allow-listed part of ours. */
export function engineEnv(opts: EngineOptions = {}): Record<string, string> {
  return childEnv(processEnv({ ...process.env, ...(opts.env ?? {}) }));
}

type RunFn = (
  args: string[],
  cwd: string,
  additionalEnv: Record<string, string>,
  onOutput?: (data: string) => void,
  onError?: (data: string) => void,
  signal?: AbortSignal,
) => Promise<unknown>;

type Automation = typeof import("@pulumi/pulumi/automation");
let loadedSdk: Automation | undefined;

/** The Automation API, loaded on first use (it takes seconds to load). */
export function automation(): Automation {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loadedSdk ??= require("@pulumi/pulumi/automation") as Automation;
  return loadedSdk;
}

// The Automation API's own command runner merges the whole process environment into every
// engine process; ours gives each exactly the allow-listed environment (processes.ts).
function sdkInternals(): {
  CommandResult: new (stdout: string, stderr: string, code: number, err?: Error) => unknown;
  createCommandError: (result: unknown) => Error;
} {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    ...(require("@pulumi/pulumi/automation/cmd") as {
      CommandResult: new (stdout: string, stderr: string, code: number, err?: Error) => unknown;
    }),
    ...(require("@pulumi/pulumi/automation/errors") as { createCommandError: (result: unknown) => Error }),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

function engineRunner(command: string): RunFn {
  return async (args, cwd, additionalEnv, onOutput, onError, signal) => {
    if (!args.includes("--non-interactive")) args.push("--non-interactive");
    const env = childEnv({
      ...additionalEnv,
      PATH: `${path.dirname(command)}${path.delimiter}${additionalEnv.PATH ?? ""}`,
      PULUMI_AUTOMATION_API: "true",
    });
    const sdk = sdkInternals();
    let out;
    try {
      out = await runSession(command, args, { cwd, env, onStdout: onOutput, onStderr: onError, signal });
    } catch (err) {
      throw sdk.createCommandError(new sdk.CommandResult("", (err as Error).message, -2, err as Error));
    }
    const result = new sdk.CommandResult(out.stdout, out.stderr, out.code);
    if (out.code !== 0) throw sdk.createCommandError(result);
    return result;
  };
}

let command: Promise<PulumiCommand> | undefined;

/** The project's pulumi CLI (built by the toolchain, or the one on PATH), run through processes.ts. */
export function pulumiCommand(): Promise<PulumiCommand> {
  command ??= (async () => {
    // The engine runs the program from dist/ (Pulumi.yaml `main`): never a stale one.
    ensureBuilt();
    const bin = toolPath("pulumi");
    const cmd = await automation().PulumiCommand.get({
      root: path.dirname(path.dirname(bin)),
      skipVersionCheck: true,
    });
    (cmd as unknown as { run: RunFn }).run = engineRunner(cmd.command);
    return cmd;
  })();
  return command;
}

/** Selects an existing stack of the project; a missing stack is a DependencyUnavailable. */
export async function selectStack(stackName: string, opts: EngineOptions = {}): Promise<Stack> {
  const workDir = projectDir(opts);
  try {
    return await automation().LocalWorkspace.selectStack(
      { stackName, workDir },
      { pulumiCommand: await pulumiCommand(), envVars: engineEnv(opts) },
    );
  } catch (err) {
    throw new DependencyUnavailable(
      `cannot select stack "${stackName}" in ${workDir}: ${firstLine(err)} (is PULUMI_BACKEND_URL right, and has the stack been deployed?)`,
    );
  }
}

export interface UpsertOptions extends EngineOptions {
  /** Allows creating a missing production stack (sandbox set-up, tests); default false. */
  readonly createProduction?: boolean;
}

/**
 * Whether a stack is production: named `production` (or `…/production`), or its
 * `Pulumi.<stack>.yaml` says `churn-model:environment: production`.
 */
export function isProductionStack(stackName: string, workDir: string): boolean {
  const short = stackName.split("/").pop() ?? stackName;
  if (short === "production") return true;
  try {
    const text = fs.readFileSync(path.join(workDir, `Pulumi.${short}.yaml`), "utf8");
    return /^\s*churn-model:environment:\s*["']?production["']?\s*$/m.test(text);
  } catch {
    return false;
  }
}

/**
 * Selects the stack, or creates it when it does not exist yet. A missing production stack
 * is created only with `createProduction: true`: a production that vanished (a wrong
 * backend URL, a typo) must not silently become a new, empty one.
 */
export async function upsertStack(stackName: string, opts: UpsertOptions = {}): Promise<Stack> {
  const workDir = projectDir(opts);
  const ws = { pulumiCommand: await pulumiCommand(), envVars: engineEnv(opts) };
  try {
    return await automation().LocalWorkspace.selectStack({ stackName, workDir }, ws);
  } catch (err) {
    if (!(err instanceof automation().StackNotFoundError) && !/no stack named/i.test(String(err))) {
      throw engineError(stackName, `cannot select stack "${stackName}" in ${workDir}`, err);
    }
  }
  if (opts.createProduction !== true && isProductionStack(stackName, workDir)) {
    throw new BadInput(
      `stack "${stackName}" does not exist in ${process.env.PULUMI_BACKEND_URL ?? "the backend"} and is a ` +
        "production stack: it is never created implicitly (check PULUMI_BACKEND_URL; create it on purpose " +
        "with `pulumi stack init`)",
    );
  }
  return automation().LocalWorkspace.createStack({ stackName, workDir }, ws);
}

/** Whether an engine failure says another update of the stack holds its lock. */
export function isConcurrentUpdate(err: unknown): boolean {
  return (
    // Only an SDK that is loaded can have thrown its own error type.
    (loadedSdk !== undefined && err instanceof loadedSdk.ConcurrentUpdateError) ||
    /conflict: Another update is currently in progress|the stack is currently locked/i.test(String(err))
  );
}

/**
 * The typed error for an engine operation that did not start (so nothing was changed):
 * ConcurrentUpdate when another update holds the stack, else DependencyUnavailable naming
 * `what` and the engine's first line. Returned, not thrown, so callers `throw` it and the
 * compiler sees the flow end there.
 */
export function engineError(stackName: string, what: string, err: unknown): CdError {
  if (isConcurrentUpdate(err)) {
    return new ConcurrentUpdate(
      `another update of stack "${stackName}" is in progress; nothing was changed and nothing is retried. ` +
        "Wait for it; a promotion that was killed is recovered by the next one (see README, " +
        '"One promotion at a time, and a killed one").',
    );
  }
  return new DependencyUnavailable(`${what}: ${firstLine(err)}`);
}

export function firstLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return (
    s
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? s
  );
}

/**
 * The number of the stack's latest update, or null before the first. A service backend
 * numbers updates; a local file backend reports 0 for every one, so they are counted.
 */
export async function latestUpdateNumber(stack: Pick<Stack, "history">): Promise<number | null> {
  // A count needs no config values: without --show-secrets the engine does not derive the
  // secrets key (a passphrase's is a million rounds of PBKDF2, most of such a command's time).
  const history = await stack.history(undefined, undefined, false);
  if (history.length === 0) return null;
  return history[0].version > 0 ? history[0].version : history.length;
}
