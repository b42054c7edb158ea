/**
 * Which policy config (thresholds, analysis settings and the evidence key) a stack trusts.
 * For the stacks of the project itself (`churn-model`) it is fixed by the environment: the
 * reviewed policy/config/<environment>.json of the checkout, whatever the stack config says;
 * a config whose evidence key or an approver's key is a sandbox key (pinned by fingerprint in
 * policy/contract/trust.ts) is refused there, and the stack named `production`, or any stack whose namespace is production's,
 * is a production stack whatever its name or `churn-model:environment` say. Only the stacks of the sandbox
 * project (`churn-model-sandbox`: the sandbox's and the tests' own project directories)
 * take `churn-model:thresholdsFile` from their stack config. The program and the promotion
 * CLI (scripts/promotion/trust-roots.ts) both ask here, so the file the program verifies evidence against is the file the gate
 * judges by and the policy pack receives.
 */
import * as fs from "fs";
import * as path from "path";
import {
  isSandboxKey,
  keyFingerprint,
  parsePolicyConfigText,
  PolicyConfig,
  PRODUCTION_NAMESPACE,
  SANDBOX_PROJECT,
  sandboxApprover,
} from "../policy/contract";

/** The project whose stacks are the real staging and production. */
export const PROJECT = "churn-model";
export { SANDBOX_PROJECT };

/** The checkout: the directory above stacks/ (above dist/stacks/ when this runs compiled, npm run build). */
export const CHECKOUT = path.resolve(
  __dirname,
  ...(path.extname(__filename) === ".js" ? ["..", ".."] : [".."]),
);

/** The reviewed policy config of an environment: policy/config/<environment>.json. */
export function reviewedPolicyConfig(environment: string, repoRoot = CHECKOUT): string {
  return path.resolve(repoRoot, "policy", "config", `${environment}.json`);
}

/** Whether a project's stacks may name their own policy config (and so a sandbox key). */
export function isSandboxProject(project: string): boolean {
  return project === SANDBOX_PROJECT;
}

/**
 * The namespace of production: the checkout's Pulumi.production.yaml `churn-model:namespace`,
 * else PRODUCTION_NAMESPACE. Read as text (this layer has no YAML parser): one `key: value` line.
 */
export function productionNamespace(repoRoot = CHECKOUT): string {
  const file = path.join(repoRoot, "Pulumi.production.yaml");
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const m = /^\s*churn-model:namespace:\s*["']?([a-z0-9-]+)["']?\s*$/m.exec(text);
  return m?.[1] ?? PRODUCTION_NAMESPACE;
}

export interface TrustInput {
  /** The Pulumi project of the stack (`pulumi.getProject()`, Pulumi.yaml `name`). */
  readonly project: string;
  readonly environment: string;
  /** The policy config the stack's config names (resolved), or the default when it names none. */
  readonly policyConfigFile: string;
  /** The stack's name (`pulumi.getStack()`); one named `production` is production whatever its config says. */
  readonly stack?: string;
  /** The stack's namespace; production's (productionNamespace) makes it production whatever else it says. */
  readonly namespace?: string;
  readonly repoRoot?: string;
}

/**
 * Why a stack may not trust the policy config it names, or undefined when it may. Outside the
 * sandbox project the file must be the reviewed one of the environment, and its key must not
 * be a sandbox key.
 */
export function trustRootProblem(input: TrustInput): string | undefined {
  if (isSandboxProject(input.project)) return undefined;
  const short = input.stack?.split("/").pop();
  if (short === "production" && input.environment !== "production") {
    return (
      `churn-model:environment ${input.environment} is refused for stack ${input.stack} of project ` +
      `${input.project}: the production stack is production (its evidence, key and policy config are production's)`
    );
  }
  const repoRoot = input.repoRoot ?? CHECKOUT;
  const prodNamespace = productionNamespace(repoRoot);
  if (input.namespace === prodNamespace && input.environment !== "production") {
    return (
      `churn-model:environment ${input.environment} is refused for stack ${input.stack ?? "(unnamed)"} of project ` +
      `${input.project}: its namespace ${input.namespace} is production's (Pulumi.production.yaml), so it is ` +
      "production whatever its name (its evidence, key and policy config are production's)"
    );
  }
  const reviewed = reviewedPolicyConfig(input.environment, repoRoot);
  const rel = path.relative(repoRoot, reviewed);
  if (path.resolve(input.policyConfigFile) !== reviewed) {
    return (
      `churn-model:thresholdsFile ${input.policyConfigFile} is refused: a ${input.environment} stack of ` +
      `project ${input.project} trusts only the reviewed ${rel} (thresholds and evidence key); ` +
      `other policy configs, such as the sandbox's, are trusted only by stacks of project ${SANDBOX_PROJECT}`
    );
  }
  const config = fs.existsSync(reviewed) ? configOf(reviewed) : undefined;
  const key = config?.publicKey;
  if (isSandboxKey(key)) {
    return (
      `${rel} names the sandbox's evidence key (fingerprint ${keyFingerprint(key!)}): a ${input.environment} stack ` +
      `of project ${input.project} never trusts a sandbox key (sandbox keys are for stacks of project ${SANDBOX_PROJECT})`
    );
  }
  const approver = config === undefined ? undefined : sandboxApprover(config.approvals.approvers);
  if (approver !== undefined) {
    return (
      `${rel} lists approver ${approver} with the sandbox's demo approver key: a ${input.environment} stack ` +
      `of project ${input.project} never trusts a sandbox key (sandbox keys are for stacks of project ${SANDBOX_PROJECT})`
    );
  }
  return undefined;
}

/** A policy config file as the contract reads it. */
function configOf(file: string): PolicyConfig {
  return parsePolicyConfigText(fs.readFileSync(file, "utf8"), `policy config ${file}`);
}
