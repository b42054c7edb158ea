/**
 * Production's position as the engine holds it (policy/contract/position.ts): the program
 * reads the `promotionPosition` output of its own stack's last successful update through a
 * StackReference, refuses evidence that does not follow it, and records the next one as an
 * output of this update. The stack config cannot set it: only a successful update writes it.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  ContractError,
  initialPosition,
  parsePosition,
  POSITION_OUTPUT,
  PromotionPosition,
} from "../policy/contract";

/** The stack being updated, fully qualified as the backend names it: `<org>/<project>/<stack>`. */
export function fullyQualifiedStack(): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

/**
 * Production's position after its last successful update: its own output, read from the
 * backend (the initial position when it has recorded none). A malformed one refuses the update.
 */
export async function readPosition(version: string): Promise<PromotionPosition> {
  const stack = fullyQualifiedStack();
  const ref = new pulumi.StackReference("promotion-position", { name: stack });
  const details = await ref.getOutputDetails(POSITION_OUTPUT);
  const value: unknown = details.value ?? details.secretValue;
  if (value === undefined || value === null) return initialPosition(stack);
  try {
    const position = parsePosition(value, `the output ${POSITION_OUTPUT} of ${stack}`);
    if (position.stack !== stack) {
      throw new ContractError(
        `the output ${POSITION_OUTPUT} of ${stack} names another stack, ${position.stack}`,
      );
    }
    return position;
  } catch (err) {
    if (err instanceof ContractError) {
      throw new Error(`production refuses model version ${version}: ${err.message}`);
    }
    throw err;
  }
}
