/**
 * `npm run promote -- …`: promotes the churn-model version staging runs to production
 * (docs/design.md, Promotion CLI contract). The one place where typed errors become exit codes.
 */
import { terminalAsk } from "./promotion/approval";
import { APPROVE_USAGE, parseApproveArgs, runApprove } from "./promotion/approve";
import { parsePromoteArgs, PROMOTE_FLAGS, USAGE } from "./promotion/cli-args";
import { formatHistory, HISTORY_USAGE, parseHistoryArgs, readHistory } from "./promotion/history";
import { EXIT_UNEXPECTED, exitCodeOf, CdError } from "./promotion/errors";
import { privateKeyFromEnv } from "./promotion/evidence";
import { readStagingOutputsFile, readStagingOutputsFromStack } from "./promotion/outputs";
import { createPrometheusClient } from "./promotion/prometheus";
import { PromotionDeps, runPromotion } from "./promotion/promotion";
import { SECRET_NAMES, stopOwnSessions } from "./promotion/processes";
import { parseRevokeArgs, REVOKE_USAGE, runRevoke } from "./promotion/revoke";
import { stackRollout } from "./promotion/rollout";
import { assertProjectDir, targetPolicyConfig } from "./promotion/trust-roots";
import { REPO_ROOT } from "./toolchain/env";
import { openNotifier, readStackConfig } from "./promotion/notify";
import type { KeyObject } from "crypto";

/** Every flag `npm run promote` accepts. */
export const FLAGS: readonly string[] = PROMOTE_FLAGS;

/** The streams and environment the CLI runs with. */
export interface CliIO {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Takes the evidence signing key's variables out of `env` (and out of this process's own
 * environment, which every child would otherwise inherit) and returns a reader that parses
 * the key once, when signing first needs it. No child process ever sees the key.
 */
export function takeSigningKey(env: NodeJS.ProcessEnv): () => KeyObject {
  const held: NodeJS.ProcessEnv = {};
  for (const name of SECRET_NAMES) {
    if (env[name] !== undefined) held[name] = env[name];
    delete env[name];
    delete process.env[name];
  }
  let key: KeyObject | undefined;
  return () => (key ??= privateKeyFromEnv(held));
}

/** The real dependencies; `overrides` replace any of them (tests, other entry points). */
export function defaultDeps(io: CliIO, overrides: Partial<PromotionDeps> = {}): PromotionDeps {
  const interactive = io.stdin.isTTY === true && io.stderr.isTTY === true;
  const signingKey = takeSigningKey(io.env);
  return {
    readStaging: (o) =>
      o.stagingOutputs !== undefined
        ? Promise.resolve(readStagingOutputsFile(o.stagingOutputs, o.from))
        : readStagingOutputsFromStack(o.from),
    // The project directory the engine runs in (engine.ts `projectDir`): its Pulumi.yaml and stack files.
    policyConfig: (stack) => targetPolicyConfig(stack, process.env.CHURN_PROJECT_DIR ?? REPO_ROOT),
    prometheus: (baseUrl, timeoutMs) => createPrometheusClient({ baseUrl, timeoutMs }),
    signingKey,
    deployer: (options) => stackRollout(options),
    ask: interactive ? terminalAsk(io.stdin, io.stderr as NodeJS.WritableStream) : undefined,
    now: () => new Date(),
    out: (text) => io.stdout.write(text),
    log: (line) => io.stderr.write(`${line}\n`),
    outIsTty: io.stdout.isTTY === true && io.env.NO_COLOR === undefined,
    stepSummaryFile: io.env.GITHUB_STEP_SUMMARY,
    env: io.env,
    notifications: (stack) =>
      openNotifier(stack, {
        readConfig: readStackConfig,
        warn: (line) => io.stderr.write(`${line}\n`),
        env: io.env,
      }),
    ...overrides,
  };
}

/** Runs the CLI and returns its exit code; never throws. */
export async function main(
  argv: readonly string[],
  io: CliIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env },
  overrides: Partial<PromotionDeps> = {},
): Promise<number> {
  try {
    if (argv[0] === "history") {
      const h = parseHistoryArgs(argv.slice(1));
      if (h.help) {
        io.stdout.write(HISTORY_USAGE);
        return 0;
      }
      const entries = await readHistory(h.to, h.limit);
      io.stdout.write(h.json ? `${JSON.stringify(entries, null, 2)}\n` : formatHistory(entries));
      return 0;
    }
    if (argv[0] === "revoke") {
      const r = parseRevokeArgs(argv.slice(1));
      if (r.help) {
        io.stdout.write(REVOKE_USAGE);
        return 0;
      }
      assertProjectDir(process.env.CHURN_PROJECT_DIR);
      await runRevoke(r, defaultDeps(io, overrides));
      return 0;
    }
    if (argv[0] === "approve") {
      const a = parseApproveArgs(argv.slice(1));
      if (a.help) {
        io.stdout.write(APPROVE_USAGE);
        return 0;
      }
      await runApprove(a, defaultDeps(io, overrides), io.env);
      return 0;
    }
    const options = parsePromoteArgs(argv);
    if (options.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    // The project the engine runs is the checkout's (or a sandbox's) in a promotion.
    if (!options.dryRun) assertProjectDir(process.env.CHURN_PROJECT_DIR);
    await runPromotion(options, defaultDeps(io, overrides));
    return 0;
  } catch (err) {
    const code = exitCodeOf(err);
    if (err instanceof CdError) {
      io.stderr.write(`promote: ${err.message}\n`);
    } else {
      io.stderr.write(
        `promote: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    return code === 0 ? EXIT_UNEXPECTED : code;
  }
}

if (require.main === module) {
  // Stopped from outside (CI cancelling the job, Ctrl-C): the engine processes go with us;
  // the journal stays, and the next run recovers.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`promote: stopped by ${signal}; the next promotion recovers what this one left\n`);
      void stopOwnSessions().finally(() =>
        process.exit(128 + (signal === "SIGHUP" ? 1 : signal === "SIGINT" ? 2 : 15)),
      );
    });
  }
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
