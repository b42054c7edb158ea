/**
 * What the promotion reads of production from the engine, not from the checkout: the version
 * and evidence of its last successful update (its update history: what a rollback returns to)
 * and its position (the `promotionPosition` output: what new evidence binds as its target).
 * See docs/design.md ("Target, sequence and revocation").
 */
import {
  initialPosition,
  parsePosition,
  POSITION_OUTPUT,
  PromotionPosition,
  PromotionTarget,
} from "../../policy/contract";
import { readStackConfig } from "../../stacks/config";
import type { ProductionState } from "./deployer";
import { firstLine } from "./engine";
import { DependencyUnavailable } from "./errors";
import { parseSignedEvidence } from "./evidence";
import type { ProductionStack } from "./production-stack";
import { projectName } from "./trust-roots";
import { sideBySide } from "./side-by-side";

const VERSION_KEY = "churn-model:modelVersion";
const EVIDENCE_KEY = "churn-model:promotionEvidence";

/**
 * The version and evidence production's last successful update ran with, from the engine's
 * update history (each update records its config); nothing before the first one.
 */
export async function lastSuccessfulRun(stack: Pick<ProductionStack, "history">): Promise<ProductionState> {
  const updates = await stack.history();
  // Newest first; a refresh or a failed update is not what production ran successfully.
  const last = updates.find((u) => u.kind === "update" && u.result === "succeeded");
  const version = last?.config?.[VERSION_KEY]?.value;
  const evidence = last?.config?.[EVIDENCE_KEY]?.value;
  return {
    modelVersion: version ?? null,
    evidence: evidence ? parseSignedEvidence(evidence) : null,
  };
}

/** Production's position as its last successful update recorded it (initial when none is). */
export async function positionOf(
  stack: Pick<ProductionStack, "outputs">,
  fullyQualified: () => string,
): Promise<PromotionPosition> {
  const out = await stack.outputs();
  const value = out[POSITION_OUTPUT]?.value as unknown;
  if (value === undefined || value === null) return initialPosition(fullyQualified());
  try {
    return parsePosition(value, `production output ${POSITION_OUTPUT}`);
  } catch (err) {
    throw new DependencyUnavailable(`production's position cannot be read: ${(err as Error).message}`);
  }
}

/**
 * The stack's fully qualified name when its position names none yet: as given when it has
 * three segments, else `organization/<project>/<stack>` (a file backend's organization).
 */
export function fullyQualified(stackName: string, project: string): string {
  return stackName.split("/").length === 3
    ? stackName
    : `organization/${project}/${stackName.split("/").pop()}`;
}

/**
 * The target new evidence for production binds: its fully qualified stack, its namespace
 * (`churn-model:namespace`) and the sequence of its last successful update.
 */
export async function productionTarget(
  stack: Pick<ProductionStack, "outputs" | "getAllConfig">,
  stackName: string,
  projectDir: string,
): Promise<PromotionTarget> {
  // Two engine processes, side by side.
  const [all, position] = await sideBySide(
    stack.getAllConfig(),
    positionOf(stack, () => fullyQualified(stackName, projectName(projectDir))),
  );
  let namespace: string;
  try {
    namespace = readStackConfig({ get: (k) => all[`churn-model:${k}`]?.value }).namespace;
  } catch (err) {
    throw new DependencyUnavailable(`the config of stack ${stackName} cannot be read: ${firstLine(err)}`);
  }
  return { stack: position.stack, namespace, follows: position.sequence };
}
