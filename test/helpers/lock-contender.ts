/**
 * One contender of the lock race (test/unit/lock.test.ts), as its own process: for each
 * round directory, waits for the round's start time, tries to take the promotion lock, and
 * while holding it creates an `inside` marker exclusively (an existing marker means two
 * holders at once). Prints one JSON line per round.
 *
 * Usage: node -r ts-node/register/transpile-only lock-contender.ts START_MS INTERVAL_MS DIR...
 */
import * as fs from "fs";
import * as path from "path";
import { acquirePromotionLock } from "../../scripts/promotion/lock";

async function main(): Promise<void> {
  const [startRaw, intervalRaw, ...dirs] = process.argv.slice(2);
  const start = Number(startRaw);
  const interval = Number(intervalRaw);
  for (let round = 0; round < dirs.length; round++) {
    const at = start + round * interval;
    // Spin for the last few milliseconds so every contender tries at the same moment.
    while (Date.now() < at - 5) await new Promise((r) => setTimeout(r, 1));
    while (Date.now() < at) {
      // busy wait
    }
    let result: "held" | "busy" | "error" = "busy";
    let overlap = false;
    let detail = "";
    try {
      const lock = acquirePromotionLock(dirs[round], "production");
      result = "held";
      const marker = path.join(dirs[round], "inside");
      try {
        fs.writeFileSync(marker, String(process.pid), { flag: "wx" });
      } catch {
        overlap = true;
      }
      await new Promise((r) => setTimeout(r, 40));
      if (!overlap) fs.rmSync(marker);
      lock.unlock();
    } catch (err) {
      detail = (err as Error).message;
      if ((err as Error).name !== "ConcurrentUpdate") result = "error";
    }
    process.stdout.write(`${JSON.stringify({ round, pid: process.pid, result, overlap, detail })}\n`);
  }
}

void main();
