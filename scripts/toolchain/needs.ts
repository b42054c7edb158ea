/**
 * What each npm script needs from the toolchain, so `./dev <script>` installs only that:
 * the engine for the delivery commands, the control plane (and the engine) for the sandbox,
 * the demo, the benchmarks and the integration/e2e tests, actionlint for workflow linting,
 * nothing for the build, the type check, ESLint and the unit and policy tests.
 */
import { Group } from "./components";

export const ALL_GROUPS: readonly Group[] = ["engine", "controlplane", "lint"];

export const SCRIPT_NEEDS: Readonly<Record<string, readonly Group[]>> = {
  build: [],
  typecheck: [],
  "build:policy": [],
  "policy:record": [],
  lint: [],
  format: [],
  toolchain: [],
  "test:unit": [],
  "test:policy": [],
  deploy: ["engine"],
  preview: ["engine"],
  promote: ["engine"],
  history: ["engine"],
  sandbox: ["engine", "controlplane"],
  demo: ["engine", "controlplane"],
  bench: ["engine", "controlplane"],
  "test:integration": ["engine", "controlplane", "lint"],
  "test:e2e": ["engine", "controlplane"],
  "test:slow": ["engine", "controlplane"],
  test: ["engine", "controlplane", "lint"],
  "lint:workflows": ["lint"],
};

/** Sandbox subcommands that only read or remove its state. */
const SANDBOX_WITHOUT_TOOLS = new Set(["down", "status", "env"]);

export interface Needs {
  readonly groups: readonly Group[];
  readonly why: string;
}

/**
 * The groups `./dev <script> <args>` must install, with the reason:
 * - `--help` (or `-h`) anywhere in the arguments: none, it prints usage only;
 * - `sandbox down|status|env`: none;
 * - a script listed in SCRIPT_NEEDS: its groups;
 * - any other script: every group (unknown needs are never guessed small).
 */
export function needsFor(script: string, args: readonly string[] = []): Needs {
  const words = args.filter((a) => a !== "--");
  if (words.includes("--help") || words.includes("-h")) {
    return { groups: [], why: `${script} --help prints usage only` };
  }
  if (script === "sandbox" && words.length > 0 && SANDBOX_WITHOUT_TOOLS.has(words[0])) {
    return { groups: [], why: `sandbox ${words[0]} only reads or removes the sandbox's state` };
  }
  const groups = SCRIPT_NEEDS[script];
  if (groups === undefined) {
    return {
      groups: ALL_GROUPS,
      why: `${script} is not in SCRIPT_NEEDS (scripts/toolchain/needs.ts): everything`,
    };
  }
  return {
    groups,
    why: groups.length === 0 ? `${script} needs no built tool` : `${script} needs ${groups.join(", ")}`,
  };
}
