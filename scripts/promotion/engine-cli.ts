/**
 * Stack reads through the project's pulumi CLI itself, without the Automation API (engine.ts):
 * the SDK takes seconds to load, and `history`, the dry run and a promotion's first reads need
 * only a command's JSON. Same engine, same environment (engine.ts `engineEnv`), same process
 * supervision (processes.ts) as every other engine process.
 */
import type { UpdateSummary } from "@pulumi/pulumi/automation";
import * as path from "path";
import { toolPath } from "../toolchain/env";
import { EngineOptions, engineEnv, firstLine, projectDir } from "./engine";
import { DependencyUnavailable } from "./errors";
import { childEnv, runSession } from "./processes";

/** One update of `pulumi stack history --json`, typed as the Automation API's (a type only: nothing loads). */
export type StackUpdate = UpdateSummary;

/** What `pulumiRun` saw of one engine command. */
export interface EngineRun {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code; -2 when the command could not be started (`error` says why). */
  readonly code: number;
  readonly error?: Error;
}

/** The message of a command that names a stack the backend does not have. */
function missingStack(stackName: string, workDir: string, reason: string): DependencyUnavailable {
  return new DependencyUnavailable(
    `cannot select stack "${stackName}" in ${workDir}: ${reason} (is PULUMI_BACKEND_URL right, and has the stack been deployed?)`,
  );
}

/**
 * Runs `pulumi <args> --stack <stack> --non-interactive` in the project, its stdout streamed to
 * `onOutput`. Resolves with what it printed and its exit code; a stack the backend does not
 * have throws DependencyUnavailable naming it (unless `missingStackIsUnavailable` is false).
 */
export async function pulumiRun(
  stackName: string,
  args: readonly string[],
  opts: EngineOptions = {},
  onOutput?: (chunk: string) => void,
  missingStackIsUnavailable = true,
): Promise<EngineRun> {
  const workDir = projectDir(opts);
  const bin = toolPath("pulumi");
  const env = engineEnv(opts);
  let out: EngineRun;
  try {
    // Before a `--`: what follows it is a value, never a flag.
    const end = args.indexOf("--");
    const flags = ["--stack", stackName, "--non-interactive"];
    const argv = end < 0 ? [...args, ...flags] : [...args.slice(0, end), ...flags, ...args.slice(end)];
    out = await runSession(bin, argv, {
      cwd: workDir,
      env: childEnv({
        ...env,
        PATH: `${path.dirname(bin)}${path.delimiter}${env.PATH ?? ""}`,
        PULUMI_AUTOMATION_API: "true",
      }),
      onStdout: onOutput,
    });
  } catch (err) {
    return { stdout: "", stderr: (err as Error).message, code: -2, error: err as Error };
  }
  if (missingStackIsUnavailable && out.code !== 0 && /no stack named/i.test(out.stderr))
    throw missingStack(stackName, workDir, firstLine(out.stderr));
  return out;
}

/** Runs `pulumi <args> --stack <stack> --non-interactive` in the project and returns its stdout. */
export async function pulumiJson(
  stackName: string,
  args: readonly string[],
  opts: EngineOptions = {},
): Promise<string> {
  const out = await pulumiRun(stackName, args, opts);
  if (out.code !== 0) {
    const reason = firstLine(out.stderr.trim() !== "" ? out.stderr : out.stdout);
    throw new Error(`pulumi ${args.slice(0, 2).join(" ")} exited with code ${out.code}: ${reason}`);
  }
  return out.stdout;
}

/**
 * The arguments of `pulumi stack history --json`: every update without a page size, else page
 * `page` (from 1) of `pageSize` updates; config secrets revealed only with `showSecrets`.
 */
export function historyArgs(showSecrets: boolean, pageSize?: number, page = 1): string[] {
  const args = ["stack", "history", "--json"];
  if (showSecrets) args.push("--show-secrets");
  if (pageSize !== undefined && pageSize >= 1)
    args.push("--page-size", String(Math.floor(pageSize)), "--page", String(Math.max(1, Math.floor(page))));
  return args;
}

/** What `pulumi stack history --json` printed, typed as the Automation API's (times as Dates). */
export function parseHistory(text: string): StackUpdate[] {
  return JSON.parse(text, (key, value: unknown) =>
    (key === "startTime" || key === "endTime") && typeof value === "string" ? new Date(value) : value,
  ) as StackUpdate[];
}

/** The stack's updates, newest first, as the Automation API's `Stack.history` returns them. */
export async function stackHistory(
  stackName: string,
  limit?: number,
  opts: EngineOptions = {},
  showSecrets = true,
): Promise<StackUpdate[]> {
  return parseHistory(await pulumiJson(stackName, historyArgs(showSecrets, limit), opts));
}

/** The stack's outputs in plain text (secrets revealed), as `Stack.outputs()` values. */
export async function stackOutputValues(
  stackName: string,
  opts: EngineOptions = {},
): Promise<Record<string, unknown>> {
  const text = await pulumiJson(stackName, ["stack", "output", "--json", "--show-secrets"], opts);
  return JSON.parse(text) as Record<string, unknown>;
}

/** The stack's configuration with secrets revealed, as `Stack.getAllConfig()` returns it. */
export async function stackConfig(
  stackName: string,
  opts: EngineOptions = {},
): Promise<Record<string, { value: string; secret: boolean }>> {
  const text = await pulumiJson(stackName, ["config", "--show-secrets", "--json"], opts);
  return JSON.parse(text) as Record<string, { value: string; secret: boolean }>;
}

/** The number of the stack's latest update, or null before the first (engine.ts `latestUpdateNumber`). */
export async function latestUpdateNumberOf(
  stackName: string,
  opts: EngineOptions = {},
): Promise<number | null> {
  // Without secrets: a count needs no config values (engine.ts `latestUpdateNumber`).
  const history = await stackHistory(stackName, undefined, opts, false);
  if (history.length === 0) return null;
  return history[0].version > 0 ? history[0].version : history.length;
}
