/**
 * `npm run preview -- --stack S`: `pulumi preview` of a stack with the policy pack and the
 * stack's policy config, as CI runs it. Exit codes: 0 the preview passed · 3 the preview was
 * refused (a mandatory policy violation, or the program refusing the config) · 2 bad input
 * or unreachable dependency · 1 unexpected.
 */
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./toolchain/env";
import { selectStack } from "./promotion/engine";
import { parseStackName } from "./promotion/cli-args";
import { SECRET_NAMES } from "./promotion/processes";
import { BadInput, CdError, GateRejected } from "./promotion/errors";

export const FLAGS: readonly string[] = ["--stack", "--policy-config", "--help"];

export const USAGE = `Usage: npm run preview -- --stack STACK [--policy-config FILE]

Previews STACK with the policy pack (policy/) and its config (default:
policy/config/<environment>.json). Exit codes: 0 passed · 3 refused by a policy or by the
program · 2 bad input or unreachable dependency · 1 unexpected.
`;

export function parsePreviewArgs(argv: readonly string[]): {
  stack?: string;
  policyConfig?: string;
  help: boolean;
} {
  const out: { stack?: string; policyConfig?: string; help: boolean } = { help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      if (out.help) throw new BadInput("--help was given twice");
      out.help = true;
    } else if (a === "--stack" || a === "--policy-config") {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new BadInput(`${a} needs a value`);
      if ((a === "--stack" ? out.stack : out.policyConfig) !== undefined) {
        throw new BadInput(`${a} was given twice`);
      }
      if (a === "--stack") out.stack = parseStackName(v, "--stack");
      else if (v.trim() === "") throw new BadInput("--policy-config needs a file path");
      else out.policyConfig = v;
    } else throw new BadInput(`unknown flag ${JSON.stringify(a)}; see --help`);
  }
  if (!out.help && out.stack === undefined) throw new BadInput("--stack is required");
  return out;
}

export async function preview(
  stackName: string,
  policyConfig: string | undefined,
  log: (l: string) => void,
): Promise<void> {
  const stack = await selectStack(stackName);
  const environment = (await stack.getAllConfig())["churn-model:environment"]?.value ?? stackName;
  const config = policyConfig ?? path.join(REPO_ROOT, "policy", "config", `${environment}.json`);
  if (!fs.existsSync(config)) throw new BadInput(`policy config ${config} does not exist`);
  const t = Date.now();
  try {
    await stack.preview({
      color: "never",
      policyPacks: [path.join(REPO_ROOT, "policy")],
      policyPackConfigs: [config],
      onOutput: (o) => o.split("\n").forEach((l) => l.trim() && log(l.trimEnd())),
    });
  } catch {
    throw new GateRejected(
      `the preview of ${stackName} was refused after ${((Date.now() - t) / 1000).toFixed(1)}s (see above)`,
    );
  }
  log(`preview of ${stackName} passed with the policy pack in ${((Date.now() - t) / 1000).toFixed(1)}s`);
}

export async function main(argv: readonly string[]): Promise<number> {
  // Nothing here signs: the evidence key must not reach the engine through our environment.
  for (const name of SECRET_NAMES) delete process.env[name];
  try {
    const o = parsePreviewArgs(argv);
    if (o.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    await preview(o.stack!, o.policyConfig, (l) => process.stderr.write(`${l}\n`));
    return 0;
  } catch (err) {
    process.stderr.write(`preview: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof CdError ? err.exitCode : 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
