/**
 * The promotion CLI's side of the trust roots (stacks/trust-roots.ts): which policy config a
 * promotion to a stack judges by, read from the stack's project and config files, a redirect
 * the program would refuse being bad input.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { CHECKOUT, reviewedPolicyConfig, trustRootProblem } from "../../stacks/trust-roots";
import { BadInput } from "./errors";

export {
  PROJECT,
  SANDBOX_PROJECT,
  isSandboxProject,
  reviewedPolicyConfig,
  sandboxPublicKeys,
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
  const policyConfigFile =
    typeof named === "string" ? path.resolve(repoRoot, named) : reviewedPolicyConfig(environment, repoRoot);
  const problem = trustRootProblem({
    project: projectName(projectDir),
    environment,
    policyConfigFile,
    stack,
    repoRoot,
  });
  if (problem !== undefined) throw new BadInput(`stack ${stack}: ${problem}`);
  return policyConfigFile;
}
