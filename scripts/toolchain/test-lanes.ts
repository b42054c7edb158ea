/**
 * `npm run test:slow`: the integration and e2e tiers in lanes that run side by side, each lane
 * one mocha process running its files in order. The slow tiers mostly wait (a soak, a bake, a
 * canary step, an engine update), so two lanes on two cores take about the longer lane's time
 * instead of the sum. Each lane's output is streamed with its name in front of every line, and
 * a summary (tests passing, failing, pending; minutes) ends the run. The exit code is 0 only
 * when every lane passed.
 *
 * Usage: test-lanes.ts <name>=<file-or-glob>[,<file-or-glob>…] …
 *   e.g. test-lanes.ts 'A=test/integration/**\/*.test.ts,test/e2e/recovery.test.ts' 'B=test/e2e/promotion.test.ts'
 * Every lane runs with MOCHA_TIMEOUT_MS (default 1 200 000) as mocha's --timeout. A SIGINT or
 * SIGTERM stops every lane (its whole process group) before the runner exits.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ensureBuilt } from "./build";
import { REPO_ROOT } from "./env";

export interface Lane {
  readonly name: string;
  readonly files: readonly string[];
}

/** Lanes from `name=a,b` arguments; a bad argument throws naming it. */
export function parseLanes(args: readonly string[]): Lane[] {
  if (args.length === 0) throw new Error("no lanes: give at least one <name>=<file-or-glob>[,…]");
  const lanes = args.map((arg) => {
    const m = /^([A-Za-z0-9_-]+)=(.+)$/.exec(arg);
    if (!m) throw new Error(`lane ${JSON.stringify(arg)}: expected <name>=<file-or-glob>[,<file-or-glob>…]`);
    const files = m[2].split(",").map((f) => f.trim());
    if (files.some((f) => f === ""))
      throw new Error(`lane ${JSON.stringify(arg)}: an empty file or glob in the list`);
    return { name: m[1], files };
  });
  const names = lanes.map((l) => l.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new Error(`lane name ${repeated} is given twice`);
  return lanes;
}

/**
 * The files a lane entry names, relative to `root`: the file itself, or for a glob (`*` within
 * a path segment, `**` across segments) every file under the glob's fixed leading directories
 * that matches it. Sorted; empty when nothing matches.
 */
export function expandEntry(entry: string, root: string = REPO_ROOT): string[] {
  if (!entry.includes("*")) return fs.existsSync(path.resolve(root, entry)) ? [entry] : [];
  const segments = entry.split("/");
  const fixed = segments
    .slice(
      0,
      segments.findIndex((x) => x.includes("*")),
    )
    .join("/");
  const pattern = new RegExp(
    "^" +
      entry
        .split("/")
        .map((seg) =>
          seg === "**"
            ? "(?:[^/]+/)*"
            : seg.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*") + "/",
        )
        .join("")
        .replace(/\/$/, "") +
      "$",
  );
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const child = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (pattern.test(child)) out.push(child);
    }
  };
  walk(fixed);
  return out.sort();
}

export interface MochaCounts {
  readonly passing: number;
  readonly failing: number;
  readonly pending: number;
}

/** The spec reporter's closing counts ("12 passing (3m)", "1 failing", "2 pending"). */
export function mochaCounts(output: string): MochaCounts | undefined {
  const n = (word: string) => {
    const all = [...output.matchAll(new RegExp(`^\\s*(\\d+) ${word}\\b`, "gm"))];
    return all.length === 0 ? undefined : Number(all[all.length - 1][1]);
  };
  const passing = n("passing");
  if (passing === undefined) return undefined;
  return { passing, failing: n("failing") ?? 0, pending: n("pending") ?? 0 };
}

export interface TestTime {
  readonly title: string;
  readonly ms: number;
}

/**
 * The tests the spec reporter timed ("✔ title (1234ms)"; it prints a time for slow tests only),
 * slowest first.
 */
export function testTimes(output: string): TestTime[] {
  const out: TestTime[] = [];
  for (const m of output.matchAll(/^\s*(?:✔|✓)\s+(.*?)\s+\((\d+)ms\)\s*$/gm))
    out.push({ title: m[1], ms: Number(m[2]) });
  return out.sort((a, b) => b.ms - a.ms);
}

/**
 * CPU seconds (user + system) of this process's children that have ended and been waited for,
 * with what they waited for in turn, from /proc/self/stat (cutime, cstime); undefined where there
 * is no /proc. A lane's mocha waits for the engines and servers its tests start, so the growth
 * across a lane's exit is about that lane's CPU; a process left to init is not counted.
 */
export function childCpuSeconds(statText?: string, ticksPerSecond = 100): number | undefined {
  let text = statText;
  if (text === undefined) {
    try {
      text = fs.readFileSync("/proc/self/stat", "utf8");
    } catch {
      return undefined;
    }
  }
  // Fields after the command name, which is in parentheses and may hold spaces; the first of
  // them is field 3 (state), so cutime (16) and cstime (17) are at 13 and 14.
  const rest = text
    .slice(text.lastIndexOf(")") + 2)
    .trim()
    .split(/\s+/);
  const cutime = Number(rest[13]);
  const cstime = Number(rest[14]);
  if (!Number.isFinite(cutime) || !Number.isFinite(cstime)) return undefined;
  return (cutime + cstime) / ticksPerSecond;
}

interface LaneResult {
  readonly lane: Lane;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
  readonly counts?: MochaCounts;
  readonly times: readonly TestTime[];
  /** CPU seconds the lane used, when /proc tells. */
  readonly cpuSeconds?: number;
}

function runLane(
  lane: Lane,
  timeoutMs: number,
  children: Set<ChildProcess>,
  cpu: { last: number | undefined },
): Promise<LaneResult> {
  const started = Date.now();
  const mocha = path.join(REPO_ROOT, "node_modules", ".bin", "mocha");
  const child = spawn(mocha, ["--timeout", String(timeoutMs), ...lane.files], {
    cwd: REPO_ROOT,
    env: { ...process.env, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.add(child);
  let output = "";
  child.on("error", (err) => {
    output += `\ntest-lanes: mocha of lane ${lane.name} could not run: ${err.message}\n`;
    process.stderr.write(`[${lane.name}] mocha could not run: ${err.message}\n`);
  });
  const prefix = `[${lane.name}] `;
  const forward = (stream: NodeJS.ReadableStream, to: NodeJS.WriteStream) => {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      output += chunk;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) to.write(`${prefix}${line}\n`);
    });
    stream.on("end", () => {
      if (partial !== "") to.write(`${prefix}${partial}\n`);
    });
  };
  forward(child.stdout!, process.stdout);
  forward(child.stderr!, process.stderr);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      children.delete(child);
      // Only the lanes are this process's children now, so the counter grew by this lane alone
      // since the last lane ended.
      const cpuNow = childCpuSeconds();
      const cpuSeconds = cpuNow === undefined || cpu.last === undefined ? undefined : cpuNow - cpu.last;
      cpu.last = cpuNow;
      resolve({
        lane,
        code,
        signal,
        ms: Date.now() - started,
        counts: mochaCounts(output),
        times: testTimes(output),
        cpuSeconds,
      });
    });
  });
}

function minutes(ms: number): string {
  return `${(ms / 60_000).toFixed(1)} min`;
}

export async function main(argv: readonly string[]): Promise<number> {
  let lanes: Lane[];
  try {
    lanes = parseLanes(argv);
  } catch (err) {
    console.error(`test-lanes: ${(err as Error).message}`);
    return 2;
  }
  const timeoutText = process.env.MOCHA_TIMEOUT_MS ?? "1200000";
  const timeoutMs = Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    console.error(
      `test-lanes: MOCHA_TIMEOUT_MS (${timeoutText}) must be a positive whole number of milliseconds`,
    );
    return 2;
  }
  for (const lane of lanes) {
    const empty = lane.files.filter((f) => expandEntry(f).length === 0);
    if (empty.length > 0) {
      console.error(`test-lanes: lane ${lane.name}: ${empty.join(", ")} names no file`);
      return 2;
    }
  }
  // Once, before the lanes start: two lanes finding dist/ stale would both compile it.
  ensureBuilt((line) => console.log(`test-lanes: ${line}`));
  const children = new Set<ChildProcess>();
  const signalAll = (signal: NodeJS.Signals) => {
    for (const c of children) {
      try {
        process.kill(-c.pid!, signal);
      } catch {
        // already gone
      }
    }
  };
  const stop = (signal: NodeJS.Signals) => {
    signalAll("SIGTERM");
    // Whatever has not ended 15 s later is killed.
    setTimeout(() => signalAll("SIGKILL"), 15_000).unref();
    process.exitCode = signal === "SIGINT" ? 130 : 143;
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  const started = Date.now();
  console.log(`test-lanes: ${lanes.map((l) => `${l.name} = ${l.files.join(" ")}`).join("; ")}`);
  const cpu = { last: childCpuSeconds() };
  const results = await Promise.all(lanes.map((l) => runLane(l, timeoutMs, children, cpu)));
  const wallMs = Date.now() - started;
  console.log(`\ntest-lanes: ${lanes.length} lanes in ${minutes(wallMs)}`);
  for (const r of results) {
    const c = r.counts;
    const tally = c ? `${c.passing} passing, ${c.failing} failing, ${c.pending} pending` : "no mocha summary";
    const how = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
    const used = r.cpuSeconds === undefined ? "" : `; CPU ${minutes(r.cpuSeconds * 1000)}`;
    console.log(`  [${r.lane.name}] ${tally}; ${how}; ${minutes(r.ms)}${used}`);
  }
  const cpus = results.map((r) => r.cpuSeconds);
  if (cpus.every((x) => x !== undefined)) {
    const total = cpus.reduce((a, b) => a + b, 0);
    const cores = os.availableParallelism();
    console.log(
      `  CPU ${minutes(total * 1000)} in all: ${((total * 1000) / wallMs).toFixed(2)} of ${cores} cores busy on average`,
    );
  }
  const slowest = results
    .flatMap((r) => r.times.map((t) => ({ ...t, lane: r.lane.name })))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 12);
  if (slowest.length > 0) {
    console.log("  slowest tests:");
    for (const t of slowest) console.log(`    [${t.lane}] ${(t.ms / 1000).toFixed(1)} s  ${t.title}`);
  }
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length > 0) {
    console.log(
      `test-lanes: failed: ${failed.map((r) => r.lane.name).join(", ")} (the failures are above, prefixed)`,
    );
    return 1;
  }
  return 0;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = process.exitCode ?? code;
  });
}
