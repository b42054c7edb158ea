/**
 * cli-start: the whole-process wall time of the promote CLI's light paths (`--help`,
 * `history --help`), as compiled JavaScript (dist/, what `npm run promote` runs) against the
 * same TypeScript through ts-node (what every CLI ran before), measured in the same run with
 * the order alternating, plus `npm run promote -- --help` (npm's own start included).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { DIST_DIR, nodeEntryArgs, REPO_ROOT } from "../toolchain/env";
import type { BenchContext } from "./context";
import { BenchmarkResult, figure, formatMs } from "./figures";

const PROMOTE = path.join(REPO_ROOT, "scripts", "promote.ts");

/** Runs `command args` in the checkout and resolves with the wall time to its exit, ms. */
export function wallTime(command: string, args: readonly string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else
        reject(new Error(`${command} ${args.join(" ")} exited with ${code}: ${stderr.trim().slice(-400)}`));
    });
  });
}

export async function cliStartBench(ctx: BenchContext): Promise<BenchmarkResult> {
  const t0 = performance.now();
  const b = "cli-start";
  if (!fs.existsSync(path.join(DIST_DIR, "scripts", "promote.js"))) {
    throw new Error("dist/scripts/promote.js is missing: run npm run build");
  }
  const runs = ctx.quick ? 3 : 9;
  const cases = [
    { name: "promote --help", args: ["--help"] },
    { name: "promote history --help", args: ["history", "--help"] },
  ];
  const figures = [];
  for (const c of cases) {
    const compiled: number[] = [];
    const tsNode: number[] = [];
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first so neither always follows the other.
      for (const runtime of i % 2 === 0
        ? (["compiled", "ts-node"] as const)
        : (["ts-node", "compiled"] as const)) {
        const ms = await wallTime(process.execPath, [...nodeEntryArgs(PROMOTE, runtime), ...c.args]);
        (runtime === "compiled" ? compiled : tsNode).push(ms);
      }
    }
    ctx.log(
      `cli-start: ${c.name}: compiled ${formatMs(Math.min(...compiled))}…, ts-node ${formatMs(Math.min(...tsNode))}…`,
    );
    figures.push(figure(b, `${c.name} through ts-node`, tsNode, undefined, { detail: true }));
    figures.push(figure(b, `${c.name}, compiled`, compiled, { name: "through ts-node", samplesMs: tsNode }));
  }
  const npm: number[] = [];
  for (let i = 0; i < runs; i++)
    npm.push(await wallTime("npm", ["run", "--silent", "promote", "--", "--help"]));
  figures.push(
    figure(b, "npm run promote -- --help (npm's own start included)", npm, undefined, { detail: true }),
  );
  return {
    name: b,
    description: "the promote CLI's --help and history --help, whole process, compiled against ts-node",
    figures,
    notes: [
      `${runs} runs of each, compiled (node --enable-source-maps dist/scripts/promote.js) and through ts-node ` +
        "(node -r ts-node/register/transpile-only scripts/promote.ts) alternating; wall time from spawn to exit",
      "neither path loads the Automation API or the Kubernetes SDK (test/unit/cli-start.test.ts)",
    ],
    wallMs: performance.now() - t0,
  };
}
