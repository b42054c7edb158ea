/**
 * The promotion CLI's side of the trust roots (stacks/trust-roots.ts): which policy config a
 * promotion to a stack judges by, read from the stack's project and config files, a redirect
 * the program would refuse being bad input.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import {
  CHECKOUT,
  isSandboxProject,
  reviewedPolicyConfig,
  SANDBOX_PROJECT,
  trustRootProblem,
} from "../../stacks/trust-roots";
import { BadInput } from "./errors";

export {
  PROJECT,
  SANDBOX_PROJECT,
  isSandboxProject,
  reviewedPolicyConfig,
  trustRootProblem,
} from "../../stacks/trust-roots";
export type { TrustInput } from "../../stacks/trust-roots";

/** The name in a project directory's Pulumi.yaml. */
export function projectName(projectDir: string): string {
  const file = path.join(projectDir, "Pulumi.yaml");
  let doc: unknown;
  try {
    doc = yaml.load(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BadInput(`cannot read the project file ${file}: ${(err as Error).message}`);
  }
  const name = (doc as { name?: unknown } | null)?.name;
  if (typeof name !== "string" || name === "") throw new BadInput(`${file} names no project`);
  return name;
}

/**
 * The policy config a promotion to `stack` judges by and gives the policy pack: the one the
 * stack's program trusts (its `Pulumi.<stack>.yaml` in `projectDir` says the environment and,
 * in the sandbox project only, the file). A redirect the program would refuse is bad input.
 */
export function targetPolicyConfig(stack: string, projectDir: string, repoRoot = CHECKOUT): string {
  const short = stack.split("/").pop() ?? stack;
  const file = path.join(projectDir, `Pulumi.${short}.yaml`);
  let config: Record<string, unknown> = {};
  if (fs.existsSync(file)) {
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    config = doc?.config ?? {};
  }
  const environment =
    typeof config["churn-model:environment"] === "string" ? config["churn-model:environment"] : short;
  const named = config["churn-model:thresholdsFile"];
  const namespace = config["churn-model:namespace"];
  const policyConfigFile =
    typeof named === "string" ? path.resolve(repoRoot, named) : reviewedPolicyConfig(environment, repoRoot);
  const problem = trustRootProblem({
    project: projectName(projectDir),
    environment,
    policyConfigFile,
    stack,
    namespace: typeof namespace === "string" ? namespace : undefined,
    repoRoot,
  });
  if (problem !== undefined) throw new BadInput(`stack ${stack}: ${problem}`);
  return policyConfigFile;
}

/**
 * Outside a dry run, `CHURN_PROJECT_DIR` (the project the engine runs: its program, stack files
 * and policy configs) must be the checkout itself or a sandbox project's directory: a project
 * of the real stacks elsewhere would bring its own program and policy configs.
 */
export function assertProjectDir(dir: string | undefined, repoRoot = CHECKOUT): void {
  if (dir === undefined || dir === "") return;
  const real = (p: string) => (fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p));
  if (real(dir) === real(repoRoot)) return;
  const name = projectName(dir);
  if (isSandboxProject(name)) return;
  throw new BadInput(
    `CHURN_PROJECT_DIR ${dir} is refused outside --dry-run: it holds project ${name}, and a promotion ` +
      `runs the checkout's own project directory (${repoRoot}) or a sandbox project's (${SANDBOX_PROJECT}); ` +
      "unset it or point it at the checkout; nothing was changed",
  );
}
