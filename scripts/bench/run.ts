/**
 * `npm run bench`: what the delivery costs, measured side by side in one run, each figure
 * against a baseline taken in the same invocation (printed, never asserted).
 *
 *   promotion-overhead  everything `npm run promote` does besides the production `pulumi up`
 *                       (gate, approval, verification with a short bake, process start)
 *                       against that update, on the sandbox;
 *   policy-pack         production `pulumi preview` with the policy pack against without;
 *   seed-way            our promotion end to end against `kubectl set image` + `kubectl
 *                       rollout status` for the same version change, on the same sandbox;
 *   decision-time       the gate's analysis (collectAnalysis + decide) and the whole-window
 *                       point estimates over 24 h and 7 d of scrape history in a real
 *                       Prometheus, against one raw instant query over the same window;
 *   preview-scale       preview of a stack with 1, 10 and 50 model services, against 1;
 *   blast-radius        the production requests (and 5xx) the error-prone version answered
 *                       before it was removed, as a canary against all at once, and the two
 *                       promotions' wall times, on a sandbox of its own, same traffic;
 *   cli-start           `promote --help` and `history --help`, whole process, compiled
 *                       (dist/) against ts-node, and through npm run;
 *   dry-run             `promote --dry-run --json` on the sandbox (real Prometheus, staging's
 *                       outputs from the engine), whole process, compiled against ts-node.
 *
 * The sandbox benchmarks bring up a sandbox of their own in a temporary directory (its own
 * control plane, Prometheus, service processes and traffic) and tear it down at the end;
 * so does Ctrl-C. Figures go to stdout as a table and to reports/bench-<timestamp>.json.
 *
 * Options:
 *   --quick          fewer repetitions (every benchmark still runs)
 *   --only NAMES     run only these benchmarks (comma-separated names from the list above)
 *   --report FILE    where to write the JSON (default reports/bench-<timestamp>.json)
 *   --verbose        also print the tools' own output
 *   -h, --help       this text
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT, sourceDir } from "../toolchain/env";
import { blastRadiusBench } from "./blast-radius";
import { RunContext } from "./context";
import { decisionBench } from "./decision";
import { cliStartBench } from "./cli-start";
import { BenchmarkResult, formatMs, renderTable } from "./figures";
import { SANDBOX_BENCHMARKS, sandboxBenches, SandboxBenchmark } from "./sandbox";
import { scaleBench } from "./scale";

export const BENCHMARKS = [
  "promotion-overhead",
  "policy-pack",
  "seed-way",
  "decision-time",
  "preview-scale",
  "blast-radius",
  "cli-start",
  "dry-run",
] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly only: ReadonlySet<BenchmarkName>;
  readonly report: string;
  readonly verbose: boolean;
  readonly help: boolean;
}

export function parseBenchArgs(argv: readonly string[], now = new Date()): BenchOptions {
  let quick = false;
  let verbose = false;
  let help = false;
  let only: Set<BenchmarkName> = new Set(BENCHMARKS);
  let report = path.join(REPO_ROOT, "reports", `bench-${now.toISOString().replace(/[:.]/g, "-")}.json`);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") quick = true;
    else if (a === "--verbose") verbose = true;
    else if (a === "--help" || a === "-h") help = true;
    else if (a === "--report") report = path.resolve(value());
    else if (a === "--only") {
      const names = value()
        .split(",")
        .map((n) => n.trim())
        .filter((n) => n !== "");
      const unknown = names.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
      if (names.length === 0 || unknown.length > 0) {
        throw new Error(
          `--only: unknown benchmark ${JSON.stringify(unknown.join(","))} (known: ${BENCHMARKS.join(", ")})`,
        );
      }
      only = new Set(names as BenchmarkName[]);
    } else throw new Error(`unknown option ${JSON.stringify(a)} (see --help)`);
  }
  return { quick, only, report, verbose, help };
}

function usage(): string {
  return fs
    .readFileSync(path.join(sourceDir(__dirname), "run.ts"), "utf8")
    .split("*/")[0]
    .replace(/^\/\*\*?\n?|^ \* ?/gm, "");
}

export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly wallSeconds: number;
  readonly options: { readonly quick: boolean; readonly only: readonly string[] };
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly node: string;
    /** 1, 5 and 15 minute load averages when the run started and when it ended. */
    readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  };
  readonly benchmarks: readonly BenchmarkResult[];
  readonly failures: readonly { readonly benchmarks: readonly string[]; readonly error: string }[];
}

function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

export async function runBench(o: BenchOptions, out: (line: string) => void): Promise<BenchReport> {
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  const t0 = performance.now();
  const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s]`;
  const log = (line: string) => out(`${stamp()} ${line}`);
  const detail = o.verbose ? log : () => undefined;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "churn-bench-"));
  const ctx = new RunContext(o.quick, root, log, detail);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping what the bench started…`);
    void ctx.cleanup().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const results: BenchmarkResult[] = [];
  const failures: { benchmarks: string[]; error: string }[] = [];
  const attempt = async (names: string[], fn: () => Promise<BenchmarkResult[]>) => {
    if (interrupted) return;
    const started = performance.now();
    log(`━━ ${names.join(", ")}`);
    try {
      const r = await fn();
      results.push(...r);
      log(`━━ ${names.join(", ")} done in ${formatMs(performance.now() - started)}`);
    } catch (err) {
      if (interrupted) return;
      const error = err instanceof Error ? err.message : String(err);
      failures.push({ benchmarks: names, error });
      log(`━━ ${names.join(", ")} FAILED after ${formatMs(performance.now() - started)}: ${error}`);
    }
  };
  try {
    log(
      `bench: ${[...o.only].join(", ")}${o.quick ? " (quick)" : ""} on ${os.cpus().length} CPUs, ` +
        `load average ${loadAtStart.join(" ")}`,
    );
    // The benchmarks without a sandbox first, while the machine is quieter.
    if (o.only.has("cli-start")) await attempt(["cli-start"], async () => [await cliStartBench(ctx)]);
    if (o.only.has("decision-time")) await attempt(["decision-time"], async () => [await decisionBench(ctx)]);
    if (o.only.has("preview-scale")) await attempt(["preview-scale"], async () => [await scaleBench(ctx)]);
    const onSandbox = SANDBOX_BENCHMARKS.filter((b) => o.only.has(b));
    if (onSandbox.length > 0) {
      await attempt([...onSandbox], () => sandboxBenches(ctx, new Set<SandboxBenchmark>(onSandbox)));
    }
    if (o.only.has("blast-radius"))
      await attempt(["blast-radius"], async () => [await blastRadiusBench(ctx)]);
  } finally {
    await ctx.cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const order = (r: BenchmarkResult) => (BENCHMARKS as readonly string[]).indexOf(r.name);
  results.sort((a, b) => order(a) - order(b));
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    wallSeconds: Math.round((performance.now() - t0) / 100) / 10,
    options: { quick: o.quick, only: [...o.only] },
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      loadAverage: { start: loadAtStart, end: loadAverage() },
    },
    benchmarks: results,
    failures,
  };
}

/** The report as the terminal shows it: the table, then each benchmark's notes. */
export function formatReport(r: BenchReport): string {
  const lines = ["", renderTable(r.benchmarks), ""];
  for (const b of r.benchmarks) {
    lines.push(`${b.name}: ${b.description} (${formatMs(b.wallMs)})`);
    for (const n of b.notes) lines.push(`  - ${n}`);
  }
  for (const f of r.failures) lines.push(`FAILED ${f.benchmarks.join(", ")}: ${f.error}`);
  lines.push(
    "",
    `ratios: median ÷ the median it is compared with, both measured in this run; ` +
      `${r.machine.cpus} CPUs (${r.machine.cpuModel}), Node.js ${r.machine.node}, load average ${r.machine.loadAverage.start.join(" ")} at the start, ${r.machine.loadAverage.end.join(" ")} at the end`,
    `wall time ${formatMs(r.wallSeconds * 1000)}`,
  );
  return lines.join("\n");
}

if (require.main === module) {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(usage());
    process.exit(0);
  }
  runBench(options, (l) => process.stdout.write(`${l}\n`)).then(
    (report) => {
      process.stdout.write(`${formatReport(report)}\n`);
      fs.mkdirSync(path.dirname(options.report), { recursive: true });
      fs.writeFileSync(options.report, `${JSON.stringify(report, null, 2)}\n`);
      const shown = path.relative(process.cwd(), options.report);
      process.stdout.write(`figures: ${shown.startsWith("..") ? options.report : shown}\n`);
      process.exitCode = report.failures.length > 0 ? 1 : 0;
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
