/**
 * The promote CLI for its integration tests (test/integration/promote-cli-*.test.ts): run as its
 * own process (scripts/promote.ts, or test/helpers/promote-entry.ts for a promotion from files)
 * or in-process with real dependencies, its decision JSON read back, and a suite's inputs —
 * staging outputs files for the gate scenarios (test/fixtures/gate-scenarios.ts), optionally
 * against a real Prometheus holding their history. The suite registers the hooks.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PassThrough } from "stream";
import { main } from "../../scripts/promote";
import { END, SCENARIOS, ServiceProfile, serviceFamilies, stagingOutputs } from "../fixtures/gate-scenarios";
import { PrometheusServer, startPrometheusWithHistory } from "./prometheus";

export const REPO = path.resolve(__dirname, "..", "..");
export const SCRIPT = path.join(REPO, "scripts", "promote.ts");
/** main() with staging's outputs and the policy config from files (test/helpers/promote-entry.ts). */
export const ENTRY = path.join(REPO, "test", "helpers", "promote-entry.ts");
export const THRESHOLDS = path.join(REPO, "test", "fixtures", "thresholds", "production.json");
/** Where the synthetic metrics end: the time the tests evaluate at. */
export const AT = new Date(END * 1000).toISOString();

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `command` in the repository without a terminal, collecting its output. */
export function runProcess(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** Runs the CLI as its own process, without a terminal, in a clean environment. */
export function promote(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  script = SCRIPT,
): Promise<Result> {
  const base = { ...process.env };
  for (const k of ["GITHUB_STEP_SUMMARY", "CHURN_EVIDENCE_PRIVATE_KEY", "CHURN_EVIDENCE_PRIVATE_KEY_FILE"])
    delete base[k];
  return runProcess(process.execPath, ["-r", "ts-node/register/transpile-only", script, ...args], {
    ...base,
    NO_COLOR: "1",
    // Through ENTRY the promotion's clock starts at AT, where the synthetic metrics end.
    ...(script === ENTRY ? { PROMOTE_ENTRY_CLOCK: AT } : {}),
    ...env,
  });
}

/** Runs the CLI's main() in this process with real dependencies, capturing its output. */
export async function promoteInProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const started = Date.now();
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: new PassThrough(),
    env: { NO_COLOR: "1", ...env },
  });
  return { code, stdout, stderr, ms: Date.now() - started };
}

export interface CheckJson {
  name: string;
  value: number | null;
  threshold: number;
  passed: boolean;
  reason: string;
  status: "pass" | "fail" | "inconclusive" | "error";
}

export interface DecisionJson {
  decision: "promote" | "reject";
  modelVersion: string;
  window: { start: string; end: string };
  checks: CheckJson[];
}

export function decisionOf(stdout: string): DecisionJson {
  return JSON.parse(stdout) as DecisionJson;
}

export function failedChecks(stdout: string): CheckJson[] {
  return decisionOf(stdout).checks.filter((c) => !c.passed);
}

export type ScenarioKey = keyof typeof SCENARIOS;

export interface CliSuite {
  /** For `before`: the scratch directory made, Prometheus started with the history. */
  up(): Promise<void>;
  /** For `after`: Prometheus stopped, the scratch directory removed. */
  down(): Promise<void>;
  /** The suite's scratch directory. */
  readonly tmp: string;
  /** The real Prometheus' URL (only for a suite started with history). */
  readonly prometheusUrl: string;
  /** A new file in `tmp` holding `content` (JSON unless a string). */
  outputsFile(content: unknown): string;
  /** `--staging-outputs FILE --thresholds FILE` for scenario `name`, measured in `url`. */
  scenarioArgs(name: ScenarioKey, url?: string, thresholds?: string): string[];
  /** The same inputs for a promotion through ENTRY, which a promotion of the CLI refuses as flags. */
  entryArgs(name: ScenarioKey): string[];
}

/**
 * A suite's inputs: a scratch directory and, when `history` names service profiles, a real
 * Prometheus holding their history; its fields are set once `up()` ran (the suite's `before`).
 */
export function cliSuite(prefix: string, history: readonly ServiceProfile[] = []): CliSuite {
  const state: { tmp?: string; prometheus?: PrometheusServer } = {};
  let fileCount = 0;

  const suite: CliSuite = {
    async up() {
      state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `churn-${prefix}-`));
      if (history.length > 0)
        state.prometheus = await startPrometheusWithHistory(history.flatMap(serviceFamilies));
    },
    async down() {
      await state.prometheus?.stop();
      if (state.tmp !== undefined) fs.rmSync(state.tmp, { recursive: true, force: true });
    },
    get tmp() {
      return state.tmp!;
    },
    get prometheusUrl() {
      if (state.prometheus === undefined) throw new Error(`suite ${prefix} runs no Prometheus`);
      return state.prometheus.url;
    },
    outputsFile(content) {
      const file = path.join(suite.tmp, `outputs-${++fileCount}.json`);
      fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
      return file;
    },
    scenarioArgs(name, url = suite.prometheusUrl, thresholds = THRESHOLDS) {
      return [
        "--staging-outputs",
        suite.outputsFile(stagingOutputs(SCENARIOS[name], url)),
        "--thresholds",
        thresholds,
      ];
    },
    entryArgs(name) {
      return [suite.outputsFile(stagingOutputs(SCENARIOS[name], suite.prometheusUrl)), THRESHOLDS];
    },
  };
  return suite;
}
