/**
 * The promotion lock: one holder, identity beyond a PID, takeover of a dead holder's lock
 * carrying its unfinished work, and a race of separate processes over stale locks.
 */
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BadInput, ConcurrentUpdate } from "../../scripts/promotion/errors";
import {
  acquirePromotionLock,
  currentHolder,
  generationFile,
  holderAlive,
  Journal,
  lockHeld,
  pendingRecovery,
  readLatest,
} from "../../scripts/promotion/lock";
import { bootId, processStartTime } from "../../scripts/promotion/processes";
import { REPO_ROOT } from "../../scripts/toolchain/env";
import { deadHolderJournal, NO_SUCH_PID } from "../fixtures/journals";

const staleJournal = deadHolderJournal;

function plant(dir: string, j: Journal): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(generationFile(dir, j.generation), JSON.stringify(j));
}

describe("the promotion lock", function () {
  let dir: string;

  beforeEach(function () {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "churn-lock-")), "production");
  });

  afterEach(function () {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it("admits one holder and refuses a second while the first is alive, naming it", function () {
    const first = acquirePromotionLock(dir, "production");
    expect(first.stale).to.equal(undefined);
    expect(() => acquirePromotionLock(dir, "production")).to.throw(
      ConcurrentUpdate,
      new RegExp(`another promotion of production is running \\(pid ${process.pid}, started `),
    );
    expect(lockHeld(dir)).to.equal(true);
    first.unlock();
    expect(lockHeld(dir)).to.equal(false);
    const second = acquirePromotionLock(dir, "production");
    expect(second.journal().generation).to.equal(2);
    second.unlock();
  });

  it("identifies a holder by host, boot ID, PID and the PID's start time", function () {
    const me = currentHolder();
    expect(me.host).to.equal(os.hostname());
    expect(me.bootId).to.match(/^[0-9a-f-]{36}$/);
    expect(me.startTime).to.equal(processStartTime(process.pid));
    expect(holderAlive(me)).to.equal(true);
    expect(holderAlive({ ...me, startTime: me.startTime + 1 }), "a recycled PID").to.equal(false);
    expect(holderAlive({ ...me, bootId: "00000000-0000-0000-0000-000000000000" }), "another boot").to.equal(
      false,
    );
    expect(holderAlive({ ...me, pid: NO_SUCH_PID })).to.equal(false);
    expect(holderAlive({ ...me, host: "runner-elsewhere", pid: NO_SUCH_PID }), "another host").to.equal(true);
  });

  it("never takes over the lock of a holder on another host", function () {
    const other = staleJournal();
    plant(dir, { ...other, holder: { ...other.holder, host: "runner-7" } });
    expect(() => acquirePromotionLock(dir, "production")).to.throw(
      ConcurrentUpdate,
      /another promotion of production is running \(host runner-7, pid \d+, started .*If host runner-7 is gone for good, run again with --take-over-from runner-7: its journal \(.*0000000007\.json\) is kept and what it left is recovered first$/,
    );
  });

  it("takes over a gone host's lock when told to, keeping its journal for the recovery", function () {
    const other = staleJournal({ holder: { ...staleJournal().holder, host: "runner-7", pid: process.pid } });
    plant(dir, other);
    const held = acquirePromotionLock(dir, "production", { takeOverFrom: "runner-7" });
    expect(held.stale).to.deep.equal(other);
    expect(held.journal()).to.deep.include({
      generation: 8,
      phase: "rolling-back",
      target: "1.0.0",
      previousConfig: other.previousConfig,
      approver: "alice",
      tookOverFrom: 7,
    });
    expect(readLatest(dir)?.holder.host).to.equal(os.hostname());
    held.unlock();
  });

  for (const [what, planted, host, message] of [
    [
      "a free lock",
      undefined,
      "runner-7",
      /the promotion lock of production is not held by a promotion on runner-7 \(it is free\)/,
    ],
    [
      "a lock another host holds",
      "runner-8",
      "runner-7",
      /not held by a promotion on runner-7 \(it is held by host runner-8 \(.*0000000007\.json\)\)/,
    ],
    ["this host", "runner-7", os.hostname(), /names this host: a promotion here is judged by its process/],
  ] as const) {
    it(`refuses --take-over-from for ${what}, changing nothing`, function () {
      if (planted !== undefined)
        plant(dir, staleJournal({ holder: { ...staleJournal().holder, host: planted } }));
      else fs.mkdirSync(dir, { recursive: true });
      const before = fs.readdirSync(dir);
      expect(() => acquirePromotionLock(dir, "production", { takeOverFrom: host })).to.throw(
        BadInput,
        message,
      );
      expect(fs.readdirSync(dir)).to.deep.equal(before);
    });
  }

  it("never reads what a process killed between writing its journal and linking it left, and clears it away", function () {
    plant(dir, { ...staleJournal(), state: "released", phase: "locked" });
    // Killed after writing generation 8's content and before linking it into place.
    const left = `${generationFile(dir, 8)}.${NO_SUCH_PID}.0badc0de.tmp`;
    fs.writeFileSync(left, JSON.stringify(staleJournal({ generation: 8 })));
    const held = acquirePromotionLock(dir, "production");
    expect(held.stale, "a free lock: nothing to recover").to.equal(undefined);
    expect(held.journal().generation).to.equal(8);
    expect(pendingRecovery(dir)).to.equal(undefined);
    held.unlock();
    expect(fs.readdirSync(dir).sort()).to.deep.equal(["0000000007.json", "0000000008.json"]);
  });

  it("takes over a dead holder's lock and carries its unfinished work into the new journal at once", function () {
    const dead = staleJournal({
      sessions: [{ pid: NO_SUCH_PID, startTime: 5, bootId: bootId(), command: "pulumi up" }],
    });
    plant(dir, dead);
    const lock = acquirePromotionLock(dir, "production");
    expect(lock.stale).to.deep.equal(dead);
    const onDisk = JSON.parse(fs.readFileSync(generationFile(dir, 8), "utf8")) as Journal;
    expect(onDisk).to.deep.include({
      generation: 8,
      state: "held",
      phase: "rolling-back",
      previousConfig: dead.previousConfig,
      target: "1.0.0",
      approver: "alice",
      sessions: dead.sessions,
      tookOverFrom: 7,
    });
    expect(onDisk.holder.pid).to.equal(process.pid);
    // When the promotion it carries on took the lock: the dead holder's start.
    expect(onDisk.promotionStartedAt).to.equal(dead.holder.startedAt);
    lock.unlock();
  });

  it("keeps when the interrupted promotion took the lock across a second takeover (a recovery killed in turn)", function () {
    const first = staleJournal({ promotionStartedAt: "2026-01-02T10:00:00.000Z" });
    plant(dir, { ...first, holder: { ...first.holder, startedAt: "2026-01-02T11:00:00.000Z" } });
    const lock = acquirePromotionLock(dir, "production");
    expect(lock.journal().promotionStartedAt).to.equal("2026-01-02T10:00:00.000Z");
    lock.unlock();
  });

  it("takes over a dead holder that changed nothing without inheriting anything", function () {
    plant(dir, staleJournal({ phase: "locked", previousConfig: undefined, target: undefined }));
    expect(pendingRecovery(dir)).to.equal(undefined);
    const lock = acquirePromotionLock(dir, "production");
    expect(lock.journal()).to.deep.include({ phase: "locked", sessions: [], tookOverFrom: 7 });
    expect(lock.journal().previousConfig).to.equal(undefined);
    lock.unlock();
  });

  it("reports a pending recovery for a dry run without touching the lock", function () {
    plant(dir, staleJournal());
    const before = fs.readdirSync(dir);
    expect(pendingRecovery(dir)?.generation).to.equal(7);
    expect(fs.readdirSync(dir)).to.deep.equal(before);
  });

  it("leaves an abandoned journal for the next run, which treats it as stale", function () {
    const lock = acquirePromotionLock(dir, "production");
    lock.update({
      phase: "verifying",
      target: "1.1.0",
      previousConfig: { "churn-model:modelVersion": "1.0.0" },
    });
    lock.abandon();
    expect(pendingRecovery(dir)?.phase).to.equal("verifying");
    const next = acquirePromotionLock(dir, "production");
    expect(next.stale?.phase).to.equal("verifying");
    expect(next.journal().phase).to.equal("rolling-back");
    next.unlock();
  });

  it("journals each change atomically in the holder's own generation file", function () {
    const lock = acquirePromotionLock(dir, "production");
    lock.update({ phase: "updating", target: "1.1.0" });
    expect(readLatest(dir)).to.deep.include({ phase: "updating", target: "1.1.0", state: "held" });
    lock.unlock();
    expect(readLatest(dir)).to.deep.include({ state: "released", phase: "locked" });
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).to.deep.equal([]);
  });

  it("keeps stacks apart", function () {
    const a = acquirePromotionLock(dir, "production");
    const b = acquirePromotionLock(path.join(path.dirname(dir), "staging"), "staging");
    a.unlock();
    b.unlock();
  });

  it("admits exactly one holder at a time when separate processes race over stale locks", async function () {
    this.timeout(120_000);
    const rounds = 30;
    const contenders = 6;
    const interval = 200;
    const dirs = Array.from({ length: rounds }, (_, r) => path.join(path.dirname(dir), `round-${r}`));
    for (const d of dirs) plant(d, staleJournal());
    // Every contender is started (ts-node takes a while) before the first round begins.
    const start = Date.now() + 6_000;
    const outputs = await Promise.all(
      Array.from(
        { length: contenders },
        () =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(
              process.execPath,
              [
                "-r",
                require.resolve("ts-node/register/transpile-only"),
                path.join(REPO_ROOT, "test", "helpers", "lock-contender.ts"),
                String(start),
                String(interval),
                ...dirs,
              ],
              { stdio: ["ignore", "pipe", "inherit"] },
            );
            let out = "";
            child.stdout.on("data", (d: Buffer) => (out += d.toString()));
            child.once("error", reject);
            child.once("close", (code) =>
              code === 0 ? resolve(out) : reject(new Error(`contender exited ${code}`)),
            );
          }),
      ),
    );
    const results = outputs
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { round: number; result: string; overlap: boolean; detail: string });
    expect(results).to.have.length(rounds * contenders);
    expect(results.filter((r) => r.result === "error").map((r) => r.detail)).to.deep.equal([]);
    expect(results.filter((r) => r.overlap)).to.deep.equal([]);
    for (let r = 0; r < rounds; r++) {
      const held = results.filter((x) => x.round === r && x.result === "held").length;
      expect(held, `round ${r}`).to.be.at.least(1);
    }
    // Each round's stale lock was taken over exactly once: one generation follows it.
    for (const d of dirs) {
      const journal = JSON.parse(fs.readFileSync(generationFile(d, 8), "utf8")) as Journal;
      expect(journal.tookOverFrom).to.equal(7);
    }
  });
});
