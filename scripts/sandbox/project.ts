/**
 * A working copy of the Pulumi project for a sandbox or a test: the program (compiled in dist/,
 * rebuilt first when a source changed), policy pack and dependencies are symlinked from the
 * checkout (one source, no copies), while the stack
 * config files are the committed ones plus per-run overrides (cluster, Prometheus URL,
 * registry…). The committed Pulumi.<stack>.yaml files are never modified. Its project is the
 * sandbox project (`churn-model-sandbox`, unless `project` says otherwise): its stacks are not
 * the real staging and production, and may name their own policy config and evidence key
 * (scripts/promotion/trust-roots.ts).
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { SANDBOX_PROJECT } from "../promotion/trust-roots";
import { ensureBuilt } from "../toolchain/build";
import { REPO_ROOT } from "../toolchain/env";

const LINKED = [
  "stacks",
  "infra",
  "scripts",
  "policy",
  "dist",
  "node_modules",
  "package.json",
  "tsconfig.json",
];

export type StackOverrides = Record<string, unknown>;

interface StackFile {
  config: Record<string, unknown>;
}

/** Reads a stack's committed config (Pulumi.<stack>.yaml) as an object. */
export function committedStackConfig(stack: string): Record<string, unknown> {
  const file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as StackFile | undefined;
  return { ...(doc?.config ?? {}) };
}

/**
 * Creates (or refreshes) a project directory at `dir`. `overrides` maps a stack name to
 * config keys (without the `churn-model:` prefix) that replace the committed values; a
 * value of `null` removes the key.
 */
export function makeProjectDir(
  dir: string,
  overrides: Record<string, StackOverrides>,
  project: string = SANDBOX_PROJECT,
): string {
  // The program runs from dist/ (Pulumi.yaml `main`): compiled from the current sources first.
  ensureBuilt();
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of LINKED) {
    const link = path.join(dir, entry);
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(path.join(REPO_ROOT, entry), link);
  }
  const settings = yaml.load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    yaml.dump({ ...settings, name: project }, { lineWidth: -1 }),
  );
  for (const [stack, values] of Object.entries(overrides)) {
    const config = committedStackConfig(stack);
    for (const [key, value] of Object.entries(values)) {
      const full = key.includes(":") ? key : `churn-model:${key}`;
      if (value === null) delete config[full];
      else config[full] = value;
    }
    writeStackConfig(dir, stack, config);
  }
  return dir;
}

export function writeStackConfig(dir: string, stack: string, config: Record<string, unknown>): void {
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), yaml.dump({ config }, { lineWidth: -1 }));
}
