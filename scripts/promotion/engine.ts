/**
 * The Automation API bound to the project's own engine: every stack operation of the
 * delivery tools goes through here, with the toolchain's CLI and environment.
 */
import { ConcurrentUpdateError, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import * as path from "path";
import { processEnv, REPO_ROOT, toolPath } from "../toolchain/env";
import { CdError, ConcurrentUpdate, DependencyUnavailable } from "./errors";

export interface EngineOptions {
  /** Project directory (Pulumi.yaml and the stack files). Default $CHURN_PROJECT_DIR or the checkout. */
  readonly projectDir?: string;
  /** Extra environment for the engine and the program (e.g. KUBECONFIG). */
  readonly env?: Record<string, string>;
}

export function projectDir(opts: EngineOptions = {}): string {
  return opts.projectDir ?? process.env.CHURN_PROJECT_DIR ?? REPO_ROOT;
}

function engineEnv(opts: EngineOptions): Record<string, string> {
  const env = processEnv({ ...process.env, ...(opts.env ?? {}) });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

let command: Promise<PulumiCommand> | undefined;

/** The project's pulumi CLI (built by the toolchain, or the one on PATH). */
export function pulumiCommand(): Promise<PulumiCommand> {
  command ??= (async () => {
    const bin = toolPath("pulumi");
    return PulumiCommand.get({ root: path.dirname(path.dirname(bin)), skipVersionCheck: true });
  })();
  return command;
}

/** Selects an existing stack of the project; a missing stack is a DependencyUnavailable. */
export async function selectStack(stackName: string, opts: EngineOptions = {}): Promise<Stack> {
  const workDir = projectDir(opts);
  try {
    return await LocalWorkspace.selectStack(
      { stackName, workDir },
      { pulumiCommand: await pulumiCommand(), envVars: engineEnv(opts) },
    );
  } catch (err) {
    throw new DependencyUnavailable(
      `cannot select stack "${stackName}" in ${workDir}: ${firstLine(err)} (is PULUMI_BACKEND_URL right, and has the stack been deployed?)`,
    );
  }
}

/** Creates the stack when it does not exist yet, else selects it. */
export async function upsertStack(stackName: string, opts: EngineOptions = {}): Promise<Stack> {
  return LocalWorkspace.createOrSelectStack(
    { stackName, workDir: projectDir(opts) },
    { pulumiCommand: await pulumiCommand(), envVars: engineEnv(opts) },
  );
}

/** Whether an engine failure says another update of the stack holds its lock. */
export function isConcurrentUpdate(err: unknown): boolean {
  return (
    err instanceof ConcurrentUpdateError ||
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
  const history = await stack.history();
  if (history.length === 0) return null;
  return history[0].version > 0 ? history[0].version : history.length;
}
