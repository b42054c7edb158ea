/**
 * The promotion journal in the backend's tags: its encoding within a backend's tag limit, a
 * strict reading, the config to return to from the engine's history, the lock deciding on a
 * holder only the backend knows of, and the writes reaching the backend in order.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  asLockJournal,
  configFromUpdateLog,
  decodeJournalTags,
  encodeJournalTags,
  HOLDER_TAG,
  journalInBackend,
  JournalTagWriter,
  MAX_TAG_VALUE,
  mirrorLock,
  PHASE_TAG,
  readBackendJournal,
} from "../../scripts/promotion/backend-journal";
import { BadInput, ConcurrentUpdate, DependencyUnavailable } from "../../scripts/promotion/errors";
import { acquirePromotionLock, generationFile, Journal, pendingRecovery } from "../../scripts/promotion/lock";
import { deadHolderJournal } from "../fixtures/journals";

const V = "churn-model:modelVersion";
const E = "churn-model:promotionEvidence";

/** A dead holder's journal while production verifies 1.4.0, with an engine session recorded. */
function journal(over: Partial<Journal> = {}): Journal {
  const base = deadHolderJournal();
  return deadHolderJournal({
    holder: { ...base.holder, nonce: "0123456789abcdef" },
    phase: "verifying",
    previousConfig: { [V]: "1.1.0", [E]: '{"e":1}' },
    target: "1.4.0",
    sessions: [{ pid: 42, pgid: 42, startTime: 9 }] as unknown as Journal["sessions"],
    ...over,
  });
}

function tagsOf(j: Journal): Record<string, string> {
  const t = encodeJournalTags(j);
  return { [HOLDER_TAG]: t.holder, [PHASE_TAG]: t.phase, "pulumi:project": "churn-model" };
}

/** A stack's tags and history in memory, recording every write. */
class FakeTaggedStack {
  tags: Record<string, string> = {};
  writes: string[] = [];
  failWrites = false;
  history: { kind: string; result: string; config: Record<string, { value: string }> }[] = [];
  async listTags() {
    return { ...this.tags };
  }
  async setTag(key: string, value: string) {
    if (this.failWrites) throw new Error("error: backend unreachable\nmore");
    this.writes.push(key);
    this.tags[key] = value;
  }
}

describe("the promotion journal in the backend", function () {
  it("encodes a journal in two tags a backend keeps, and reads it back without the runner's sessions", function () {
    const j = journal();
    const t = encodeJournalTags(j);
    expect(t.holder.length).to.be.at.most(MAX_TAG_VALUE);
    expect(t.phase.length).to.be.at.most(MAX_TAG_VALUE);
    const back = decodeJournalTags(tagsOf(j), "production")!;
    expect(back).to.deep.equal({
      generation: 7,
      stack: "production",
      state: "held",
      phase: "verifying",
      holder: j.holder,
      target: "1.4.0",
      from: "1.1.0",
    });
    expect(decodeJournalTags(tagsOf(journal({ abandoned: true })), "production")?.abandoned).to.equal(true);
    const carried = journal({ promotionStartedAt: "2026-01-02T10:00:00.000Z" });
    expect(decodeJournalTags(tagsOf(carried), "production")?.promotionStartedAt).to.equal(
      "2026-01-02T10:00:00.000Z",
    );
    expect(decodeJournalTags({ "pulumi:project": "x" }, "production")).to.equal(undefined);
  });

  it("fits the longest versions and host names in a tag, and refuses a journal that cannot fit", function () {
    const digest = `sha256:${"a".repeat(64)}`;
    const long = journal({
      target: digest,
      previousConfig: { [V]: digest },
      promotionStartedAt: "2026-01-02T10:00:00.000Z",
      holder: { ...journal().holder, host: "h".repeat(255) },
    });
    const t = encodeJournalTags(long);
    expect(t.phase.length).to.be.at.most(MAX_TAG_VALUE);
    expect(t.holder.length).to.be.at.most(MAX_TAG_VALUE);
    expect(() => encodeJournalTags(journal({ target: "1.0.0-" + "x".repeat(300) })))
      .to.throw(DependencyUnavailable)
      .with.property("message")
      .that.contains(PHASE_TAG);
  });

  it("refuses tags it cannot read, naming the tag, and reads another holder's phase as locked", function () {
    const good = tagsOf(journal());
    const cases: [Record<string, string>, string][] = [
      [{ ...good, [HOLDER_TAG]: "not json" }, "is not JSON"],
      [{ ...good, [HOLDER_TAG]: good[HOLDER_TAG].replace('"v":1', '"v":2') }, "format 2"],
      [{ ...good, [HOLDER_TAG]: good[HOLDER_TAG].replace('"s":"held"', '"s":"maybe"') }, 'state "maybe"'],
      [{ ...good, [HOLDER_TAG]: good[HOLDER_TAG].replace('"g":7', '"g":-1') }, '"g"'],
      [{ ...good, [HOLDER_TAG]: good[HOLDER_TAG].replace("{", '{"x":1,') }, 'unknown field "x"'],
      [{ ...good, [PHASE_TAG]: good[PHASE_TAG].replace('"verifying"', '"done"') }, 'phase "done"'],
      [{ ...good, [PHASE_TAG]: "[]" }, "is not an object"],
    ];
    for (const [tags, why] of cases) {
      expect(() => decodeJournalTags(tags, "production"), why)
        .to.throw(ConcurrentUpdate)
        .with.property("message")
        .that.contains(why);
    }
    const other = encodeJournalTags(journal({ holder: { ...journal().holder, nonce: "ffffffffffffffff" } }));
    const mixed = decodeJournalTags({ ...good, [PHASE_TAG]: other.phase }, "production")!;
    expect(mixed.phase).to.equal("locked");
    expect(mixed.target).to.equal(undefined);
  });

  it("takes the config to return to from the newest succeeded update that ran the version before", function () {
    const u = (result: string, version: string, evidence?: string, kind = "update") => ({
      kind,
      result,
      config: {
        [V]: { value: version },
        ...(evidence !== undefined ? { [E]: { value: evidence } } : {}),
      },
    });
    const history = [
      u("failed", "1.4.0", "{4}"),
      u("succeeded", "1.4.0", "{4}"),
      u("succeeded", "1.1.0", "{1b}", "refresh"),
      u("failed", "1.1.0", "{1c}"),
      u("succeeded", "1.1.0", "{1a}"),
      u("succeeded", "1.1.0", "{1-old}"),
    ] as unknown as Parameters<typeof configFromUpdateLog>[1];
    expect(configFromUpdateLog("1.1.0", history)).to.deep.equal({ [V]: "1.1.0", [E]: "{1a}" });
    expect(configFromUpdateLog("1.0.0", history)).to.deep.equal({});
    expect(configFromUpdateLog(undefined, history)).to.deep.equal({});
    expect(configFromUpdateLog("1.1.0", [u("succeeded", "1.1.0")] as never)).to.deep.equal({});
  });

  it("is kept there with any backend but a file backend, and on a file backend only when asked", function () {
    expect(journalInBackend("https://api.example.com", undefined)).to.equal(true);
    expect(journalInBackend("s3://bucket/state", "auto")).to.equal(true);
    expect(journalInBackend("file:///state", undefined)).to.equal(false);
    expect(journalInBackend("file:///state", "backend")).to.equal(true);
    expect(() => journalInBackend("file:///state", "cloud"))
      .to.throw(BadInput)
      .with.property("message")
      .that.contains("CHURN_PROMOTION_JOURNAL=cloud");
  });

  describe("the lock, with the journal the backend holds", function () {
    let dir: string;

    beforeEach(function () {
      dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "churn-backend-lock-")), "production");
    });

    /** The backend's journal of a holder this runner never saw, as the rollout reads it. */
    const remote = (over: Partial<Journal> = {}) =>
      asLockJournal(decodeJournalTags(tagsOf(journal(over)), "production")!, {
        [V]: "1.1.0",
        [E]: '{"e":1}',
      });

    it("takes over a dead holder's unfinished work from the backend when this runner's directory has none", function () {
      const r = remote();
      expect(pendingRecovery(dir, r)?.holder.nonce).to.equal(r.holder.nonce);
      const held = acquirePromotionLock(dir, "production", { remote: r });
      expect(held.stale?.holder.nonce).to.equal(r.holder.nonce);
      expect(held.journal()).to.deep.include({
        generation: 8,
        phase: "rolling-back",
        target: "1.1.0",
        tookOverFrom: 7,
        previousConfig: { [V]: "1.1.0", [E]: '{"e":1}' },
      });
      expect(held.journal().sessions).to.deep.equal([]);
    });

    it("refuses while another host's holder holds it in the backend, and takes it over only when told", function () {
      const r = remote({ holder: { ...journal().holder, host: "runner-17" } });
      expect(() => acquirePromotionLock(dir, "production", { remote: r }))
        .to.throw(ConcurrentUpdate)
        .with.property("message")
        .that.contains("--take-over-from runner-17");
      const held = acquirePromotionLock(dir, "production", { remote: r, takeOverFrom: "runner-17" });
      expect(held.journal().phase).to.equal("rolling-back");
    });

    it("ignores the backend's journal when it is released, and this directory's own when both name one holder", function () {
      const released = remote({ state: "released", phase: "locked" });
      expect(pendingRecovery(dir, released)).to.equal(undefined);
      const first = acquirePromotionLock(dir, "production", { remote: released });
      expect(first.stale).to.equal(undefined);
      expect(first.journal().generation).to.equal(8);
      first.unlock();

      // This directory's journal of the same holder knows its engine sessions: it decides.
      const other = path.join(path.dirname(dir), "same-holder");
      const local = journal({ generation: 9 });
      fs.mkdirSync(other, { recursive: true });
      fs.writeFileSync(generationFile(other, 9), JSON.stringify(local));
      const again = acquirePromotionLock(other, "production", { remote: remote({ generation: 9 }) });
      expect(again.stale?.sessions).to.deep.equal(local.sessions);
      expect(again.journal().generation).to.equal(10);
    });
  });

  describe("writing it", function () {
    it("writes the phase before the holder, only what changed, and reports a failed write at the flush", async function () {
      const stack = new FakeTaggedStack();
      const writer = new JournalTagWriter(async () => stack);
      const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "churn-backend-write-")), "production");
      const held = mirrorLock(acquirePromotionLock(dir, "production"), writer);
      await writer.flush();
      expect(stack.writes).to.deep.equal([PHASE_TAG, HOLDER_TAG]);
      held.update({ sessions: [] });
      await writer.flush();
      expect(stack.writes, "sessions stay the runner's").to.have.length(2);
      held.update({ phase: "updating", target: "1.4.0", previousConfig: { [V]: "1.1.0" } });
      await writer.flush();
      expect(stack.writes).to.deep.equal([PHASE_TAG, HOLDER_TAG, PHASE_TAG]);
      const read = await readBackendJournal(
        Object.assign(stack, { history: async () => [] }) as never,
        "production",
      );
      expect(read).to.deep.include({ phase: "updating", target: "1.4.0", state: "held" });
      stack.failWrites = true;
      held.unlock();
      let err: unknown;
      await writer.flush().catch((e) => (err = e));
      expect(err).to.be.instanceOf(DependencyUnavailable);
      expect((err as Error).message).to.contain("backend unreachable");
    });

    it("names the stack when the tags cannot be read", async function () {
      const stack = {
        listTags: async () => {
          throw new Error("error: 403 forbidden");
        },
        setTag: async () => undefined,
        history: async () => [],
      };
      let err: unknown;
      await readBackendJournal(stack as never, "org/churn-model/production").catch((e) => (err = e));
      expect(err).to.be.instanceOf(DependencyUnavailable);
      expect((err as Error).message).to.contain("the tags of org/churn-model/production");
    });
  });
});
