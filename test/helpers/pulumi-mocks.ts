/**
 * Pulumi unit-test mocks: every registered resource is recorded with the inputs it
 * received; any provider function call fails the test (nothing is mocked silently).
 */
import * as pulumi from "@pulumi/pulumi";
import { SANDBOX_PROJECT } from "../../scripts/promotion/trust-roots";

export interface Recorded {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const recorded: Recorded[] = [];

/** The outputs a StackReference reads, by stack name (production's own position, stacks/position.ts). */
export const stackOutputs: Record<string, Record<string, unknown>> = {};

export function installMocks(): void {
  pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        // A StackReference reads a stack's outputs (production's own position); it declares nothing.
        if (args.type === "pulumi:pulumi:StackReference") {
          const outputs = stackOutputs[args.inputs.name as string] ?? {};
          return { id: String(args.inputs.name), state: { ...args.inputs, outputs, secretOutputNames: [] } };
        }
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "aws:ecr/repository:Repository") {
          state.repositoryUrl = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${args.inputs.name}`;
          state.arn = `arn:aws:ecr:eu-west-1:123456789012:repository/${args.inputs.name}`;
        }
        if (args.type === "aws:s3/bucket:Bucket") {
          state.bucket = `${args.name}-0123abc`;
          state.arn = `arn:aws:s3:::${args.name}-0123abc`;
        }
        if (args.type === "aws:iam/role:Role") {
          state.arn = `arn:aws:iam::123456789012:role/${args.name}`;
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        throw new Error(`unexpected provider call ${args.token} in a unit test`);
      },
    },
    // The tests' stacks name their own policy configs and keys: the sandbox project's right.
    SANDBOX_PROJECT,
    "unit",
    false,
    "organization",
  );
}

/** Resolves an Output's value in mock mode. */
export function valueOf<T>(o: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

/** Waits until the outputs are resolved and every registration has been recorded. */
export async function settle(outputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const resolved = (await valueOf(pulumi.output(outputs))) as Record<string, unknown>;
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
  }
  return resolved;
}

export function byType(type: string): Recorded[] {
  return recorded.filter((r) => r.type === type);
}

export function one(type: string): Recorded {
  const found = byType(type);
  if (found.length !== 1) {
    throw new Error(
      `expected exactly one ${type}, found ${found.length}: ${found.map((f) => f.name).join(", ")}`,
    );
  }
  return found[0];
}
