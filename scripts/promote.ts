/**
 * `npm run promote -- …`: promotes the churn-model version staging runs to production
 * (docs/design.md, Promotion CLI contract). The one place where typed errors become exit codes.
 * Only argument parsing and the usage texts load with this module: what a path needs (the
 * gate, Prometheus' client, the engine, promote-deps.ts) is loaded when that path runs, so
 * `--help` and `history` start without them.
 */
import { parsePromoteArgs, PROMOTE_FLAGS, USAGE } from "./promotion/cli-args";
import { EXIT_UNEXPECTED, exitCodeOf, CdError } from "./promotion/errors";
import type { PromotionDeps } from "./promotion/promotion";
import { stopOwnSessions } from "./promotion/processes";

/** Every flag `npm run promote` accepts. */
export const FLAGS: readonly string[] = PROMOTE_FLAGS;

/** The streams and environment the CLI runs with. */
export interface CliIO {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** The real dependencies (promote-deps.ts); `overrides` replace any of them (tests, other entry points). */
export async function defaultDeps(io: CliIO, overrides: Partial<PromotionDeps> = {}): Promise<PromotionDeps> {
  return (await import("./promote-deps")).defaultDeps(io, overrides);
}

/** Runs the CLI and returns its exit code; never throws. */
export async function main(
  argv: readonly string[],
  io: CliIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env },
  overrides: Partial<PromotionDeps> = {},
): Promise<number> {
  try {
    if (argv[0] === "history") {
      const { formatHistory, HISTORY_USAGE, parseHistoryArgs, readHistory } = await import(
        "./promotion/history"
      );
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
      const { parseRevokeArgs, REVOKE_USAGE, runRevoke } = await import("./promotion/revoke");
      const r = parseRevokeArgs(argv.slice(1));
      if (r.help) {
        io.stdout.write(REVOKE_USAGE);
        return 0;
      }
      (await import("./promotion/trust-roots")).assertProjectDir(process.env.CHURN_PROJECT_DIR);
      await runRevoke(r, await defaultDeps(io, overrides));
      return 0;
    }
    if (argv[0] === "approve") {
      const { APPROVE_USAGE, parseApproveArgs, runApprove } = await import("./promotion/approve");
      const a = parseApproveArgs(argv.slice(1));
      if (a.help) {
        io.stdout.write(APPROVE_USAGE);
        return 0;
      }
      await runApprove(a, await defaultDeps(io, overrides), io.env);
      return 0;
    }
    const options = parsePromoteArgs(argv);
    if (options.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    // The project the engine runs is the checkout's (or a sandbox's) in a promotion.
    if (!options.dryRun)
      (await import("./promotion/trust-roots")).assertProjectDir(process.env.CHURN_PROJECT_DIR);
    const { runPromotion } = await import("./promotion/promotion");
    await runPromotion(options, await defaultDeps(io, overrides));
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
