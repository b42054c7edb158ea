/**
 * `npm run promote -- …`: promotes the churn-model version staging runs to production
 * (DESIGN.md, Promotion CLI contract). The one place where typed errors become exit codes.
 */
import { terminalAsk } from "./promotion/approval";
import { parsePromoteArgs, USAGE } from "./promotion/cli-args";
import { DependencyUnavailable, EXIT_UNEXPECTED, exitCodeOf, CdError } from "./promotion/errors";
import { privateKeyFromEnv } from "./promotion/evidence";
import { readStagingOutputsFile, readStagingOutputsFromStack } from "./promotion/outputs";
import { createPrometheusClient } from "./promotion/prometheus";
import { PromotionDeps, runPromotion } from "./promotion/promotion";
import type { DeployerFactory } from "./promotion/types";

/** The streams and environment the CLI runs with. */
export interface CliIO {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

const noProductionDeployer: DeployerFactory = ({ stack }) => {
  throw new DependencyUnavailable(
    `no production deployer is configured for stack ${stack}; nothing was changed`,
  );
};

/** The real dependencies; `overrides` replace any of them (tests, other entry points). */
export function defaultDeps(io: CliIO, overrides: Partial<PromotionDeps> = {}): PromotionDeps {
  const interactive = io.stdin.isTTY === true && io.stderr.isTTY === true;
  return {
    readStaging: (o) =>
      o.stagingOutputs !== undefined
        ? Promise.resolve(readStagingOutputsFile(o.stagingOutputs, o.from))
        : readStagingOutputsFromStack(o.from),
    prometheus: (baseUrl, timeoutMs) => createPrometheusClient({ baseUrl, timeoutMs }),
    signingKey: () => privateKeyFromEnv(io.env),
    deployer: noProductionDeployer,
    ask: interactive ? terminalAsk(io.stdin, io.stderr as NodeJS.WritableStream) : undefined,
    now: () => new Date(),
    out: (text) => io.stdout.write(text),
    log: (line) => io.stderr.write(`${line}\n`),
    outIsTty: io.stdout.isTTY === true && io.env.NO_COLOR === undefined,
    stepSummaryFile: io.env.GITHUB_STEP_SUMMARY,
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
    const options = parsePromoteArgs(argv);
    if (options.help) {
      io.stdout.write(USAGE);
      return 0;
    }
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
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
