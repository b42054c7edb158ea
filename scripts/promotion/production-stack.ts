/**
 * The stack a production rollout works on (rollout.ts), and how it writes the config it manages.
 */
import type { ConfigValue, Stack } from "@pulumi/pulumi/automation";
import type { RefreshRunOptions, UpdateRunOptions } from "./cli-stack";

/**
 * What the rollout needs of a stack: the promotion drives the CLI itself (cli-stack.ts); the
 * Automation API's `Stack` (the sandbox, the bench) and the unit tests' fake fit it too.
 */
export type ProductionStack = Pick<
  Stack,
  | "getAllConfig"
  | "setConfig"
  | "removeConfig"
  | "setAllConfig"
  | "removeAllConfig"
  | "cancel"
  | "history"
  | "listTags"
  | "setTag"
> & {
  up(opts: UpdateRunOptions): Promise<unknown>;
  refresh(opts: RefreshRunOptions): Promise<unknown>;
  outputs(): Promise<Record<string, { readonly value: unknown }>>;
};

/**
 * Writes `values` into the stack config in at most two engine processes: the keys with a value
 * in one `config set-all`, the keys given null that `present` says the config holds in one
 * `config rm-all`.
 */
export async function writeConfig(
  stack: Pick<ProductionStack, "setAllConfig" | "removeAllConfig">,
  values: Readonly<Record<string, ConfigValue | null>>,
  present: (key: string) => boolean,
): Promise<void> {
  const sets: Record<string, ConfigValue> = {};
  const removes: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value !== null) sets[key] = value;
    else if (present(key)) removes.push(key);
  }
  if (Object.keys(sets).length > 0) await stack.setAllConfig(sets);
  if (removes.length > 0) await stack.removeAllConfig(removes);
}
