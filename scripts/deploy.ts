/**
 * `npm run deploy -- --stack staging --model-version V`: deploys a model version to a
 * non-production stack with the policy pack enforced, then smoke-tests the service; when the
 * update or the smoke tests fail, the stack returns to its previous version by itself.
 * Production is never deployed here: it takes `npm run promote`.
 *
 * Exit codes: 0 deployed · 2 bad input or unreachable dependency · 5 failed and rolled back
 * · 6 failed and could not be rolled back (a person is needed now) · 1 unexpected.
 */
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./toolchain/env";
import { engineError, firstLine, isConcurrentUpdate, selectStack } from "./promotion/engine";
import { SECRET_NAMES } from "./promotion/processes";
import {
  BadInput,
  CdError,
  DependencyUnavailable,
  EXIT_UNEXPECTED,
  exitCodeOf,
  HumanNeeded,
  RolledBack,
} from "./promotion/errors";
import { runSmokeTests } from "./promotion/smoke";
import { boundedDurationMs, parseStackName } from "./promotion/cli-args";
import { parseModelVersion } from "./promotion/parsers";

export const FLAGS: readonly string[] = [
  "--stack",
  "--model-version",
  "--policy-config",
  "--smoke-wait",
  "--no-smoke",
  "--help",
];

export const USAGE = `Usage: npm run deploy -- --stack STACK --model-version V [options]

Deploys model version V to a non-production stack (pulumi up with the policy pack), then
smoke-tests the service (health, version, predictions with known answers). When the update
or the smoke tests fail, the stack is rolled back to its previous version.

Options:
  --stack STACK            the stack to deploy (required; never production)
  --model-version V        semver like 1.4.2 or sha256:<digest> (required)
  --policy-config FILE     policy-pack config (default: policy/config/<environment>.json)
  --smoke-wait DURATION    how long to wait for the new version to serve; 1s to 1h (default: 120s)
  --no-smoke               skip the smoke tests (the policy pack still runs)
  -h, --help               show this help

Exit codes: 0 deployed · 2 bad input or unreachable dependency · 5 failed and rolled back ·
6 failed and not rolled back (a person is needed now) · 1 unexpected.
`;

export interface DeployOptions {
  readonly stack: string;
  readonly modelVersion: string;
  readonly policyConfig?: string;
  readonly smokeWaitMs: number;
  readonly smoke: boolean;
  readonly help: boolean;
}

export function parseDeployArgs(argv: readonly string[]): DeployOptions {
  const values: Record<string, string> = {};
  let smoke = true;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      if (help) throw new BadInput("--help was given twice");
      help = true;
    } else if (a === "--no-smoke") {
      if (!smoke) throw new BadInput("--no-smoke was given twice");
      smoke = false;
    } else if (FLAGS.includes(a)) {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new BadInput(`${a} needs a value`);
      if (values[a] !== undefined) throw new BadInput(`${a} was given twice`);
      values[a] = v;
    } else {
      throw new BadInput(`unknown flag ${JSON.stringify(a)}; see --help`);
    }
  }
  if (help) return { stack: "", modelVersion: "", smokeWaitMs: 0, smoke, help };
  const stack = values["--stack"];
  if (stack === undefined) throw new BadInput("--stack is required");
  parseStackName(stack, "--stack");
  if (values["--model-version"] === undefined) throw new BadInput("--model-version is required");
  const modelVersion = parseModelVersion(values["--model-version"], "--model-version");
  const policyConfig = values["--policy-config"];
  if (policyConfig !== undefined && !fs.existsSync(policyConfig)) {
    throw new BadInput(`--policy-config ${policyConfig} does not exist`);
  }
  const smokeWaitMs =
    values["--smoke-wait"] !== undefined
      ? boundedDurationMs(values["--smoke-wait"], "--smoke-wait")
      : 120_000;
  return { stack, modelVersion, policyConfig, smokeWaitMs, smoke, help };
}

const VERSION_KEY = "churn-model:modelVersion";

export async function deploy(o: DeployOptions, log: (line: string) => void): Promise<void> {
  const t0 = Date.now();
  const stack = await selectStack(o.stack);
  const config = await stack.getAllConfig();
  const environment = config["churn-model:environment"]?.value;
  if (environment === "production") {
    throw new BadInput(`stack ${o.stack} is production: production is only updated by \`npm run promote\``);
  }
  const previous = config[VERSION_KEY]?.value;
  const policyConfig =
    o.policyConfig ?? path.join(REPO_ROOT, "policy", "config", `${environment ?? o.stack}.json`);
  if (!fs.existsSync(policyConfig)) throw new BadInput(`policy config ${policyConfig} does not exist`);

  const up = async (version: string): Promise<{ ok: boolean; reason: string }> => {
    await stack.setConfig(VERSION_KEY, { value: version });
    const t = Date.now();
    try {
      const res = await stack.up({
        color: "never",
        policyPacks: [path.join(REPO_ROOT, "policy")],
        policyPackConfigs: [policyConfig],
        onOutput: (out) => out.split("\n").forEach((l) => l.trim() && log(`  ${l.trimEnd()}`)),
      });
      log(
        `deploy: ${o.stack} → ${version}: ${res.summary.result} in ${((Date.now() - t) / 1000).toFixed(1)}s`,
      );
      return { ok: true, reason: "" };
    } catch (err) {
      if (isConcurrentUpdate(err)) {
        if (previous !== undefined) await stack.setConfig(VERSION_KEY, { value: previous });
        throw engineError(o.stack, `the update of ${o.stack} did not start`, err);
      }
      return { ok: false, reason: firstLine(err) };
    }
  };

  log(
    `deploy: ${o.stack}: ${previous ?? "(nothing)"} → ${o.modelVersion} (policy pack, ${path.relative(REPO_ROOT, policyConfig)})`,
  );
  const result = await up(o.modelVersion);
  let failure = result.ok ? "" : `the update failed: ${result.reason}`;
  if (result.ok && o.smoke) {
    const url = (await stack.outputs()).serviceUrl?.value as string | undefined;
    if (!url) throw new DependencyUnavailable(`stack ${o.stack} has no serviceUrl output to smoke-test`);
    const smoke = await runSmokeTests(url, o.modelVersion, { waitMs: o.smokeWaitMs, log });
    if (!smoke.passed) failure = `smoke tests failed: ${smoke.failures.join("; ")}`;
  }
  if (failure === "") {
    log(`deploy: ${o.stack} runs ${o.modelVersion} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    return;
  }
  log(`deploy: ${failure}`);
  if (previous === undefined || previous === o.modelVersion) {
    throw new HumanNeeded(
      `${failure}; there is no earlier version of ${o.stack} to return to: ${o.stack} needs a person now`,
    );
  }
  log(`deploy: rolling ${o.stack} back to ${previous}`);
  const back = await up(previous);
  if (!back.ok) {
    throw new HumanNeeded(
      `${failure}; the rollback to ${previous} failed too: ${back.reason}. ${o.stack} needs a person now`,
    );
  }
  throw new RolledBack(`${failure}; ${o.stack} was rolled back to ${previous}`);
}

export async function main(argv: readonly string[]): Promise<number> {
  // Nothing here signs: the evidence key must not reach the engine through our environment.
  for (const name of SECRET_NAMES) delete process.env[name];
  try {
    const o = parseDeployArgs(argv);
    if (o.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    await deploy(o, (l) => process.stderr.write(`${l}\n`));
    return 0;
  } catch (err) {
    if (err instanceof CdError) {
      process.stderr.write(`deploy: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(
      `deploy: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return exitCodeOf(err) || EXIT_UNEXPECTED;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
