/**
 * Runs the promote CLI's main() on the arguments given and prints, as its last stdout line, the
 * JSON list of the modules the process loaded (test/unit/cli-start.test.ts). Staging, the policy
 * config, Prometheus and the clock are the unit fixtures (promote-harness.ts), so a dry run
 * needs no network; everything else is the CLI's real code.
 *
 *   node -r ts-node/register/transpile-only module-probe.ts [promote args…]
 */
import { runPromote } from "./promote-harness";

void runPromote(process.argv.slice(2), {}, { ...process.env, NO_COLOR: "1" }).then(
  (r) => {
    process.stdout.write(`${JSON.stringify({ code: r.code, stderr: r.stderr })}\n`);
    process.stdout.write(`${JSON.stringify(Object.keys(require.cache))}\n`);
  },
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ code: -1, stderr: String(err) })}\n`);
    process.stdout.write(`${JSON.stringify(Object.keys(require.cache))}\n`);
  },
);
