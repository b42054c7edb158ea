/**
 * A dry run on CI cannot see whether a promotion holding the lock on another runner still
 * runs: it counts it as running, and says so, naming the host and the flag (and the workflow
 * input) that take a lost runner's lock over.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { encodeJournalTags, HOLDER_TAG, PHASE_TAG } from "../../scripts/promotion/backend-journal";
import { generationFile, Journal } from "../../scripts/promotion/lock";
import { foreignHolderWarning } from "../../scripts/promotion/lock-warning";
import { deadHolderJournal } from "../fixtures/journals";
import { fakeRollout, FakeStack, lockDirOf, productionConfig } from "../helpers/fake-stack";

const BACKEND = { CHURN_PROMOTION_JOURNAL: "backend" };

function onRunner(over: Partial<Journal> = {}): Journal {
  const base = deadHolderJournal();
  return deadHolderJournal({
    holder: { ...base.holder, host: "runner-lost-7", pid: 2211, nonce: "0123456789abcdef" },
    phase: "verifying",
    target: "1.4.0",
    ...over,
  });
}

const EXPECTED =
  'warning: the promotion lock of production is held by a promotion on host runner-lost-7 (pid 2211, started 2026-01-01T00:00:00Z, during "verifying" of 1.4.0). ' +
  "Whether it still runs cannot be seen from this host, so this dry run counts it as running and reports no pending recovery, " +
  "and a promotion now stops with exit 2. If host runner-lost-7 is gone for good (a lost CI runner), promote with " +
  "--take-over-from runner-lost-7 (the deploy-model workflow's take_over_from input): that promotion recovers what it left first";

describe("a dry run and a lock held on another host", function () {
  let tmp: string;

  beforeEach(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-lock-warning-"));
  });

  afterEach(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("warns when the backend's journal names a held lock of another host, and decides nothing else", async function () {
    const stack = new FakeStack(productionConfig());
    const t = encodeJournalTags(onRunner());
    stack.tags[HOLDER_TAG] = t.holder;
    stack.tags[PHASE_TAG] = t.phase;
    const log: string[] = [];
    const r = fakeRollout(tmp, stack, {
      env: { PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}`, ...BACKEND },
      log: (l) => log.push(l),
    });
    await r.prepare({ readOnly: true, signRollback: () => ({}) as never });
    await r.close();
    expect(log).to.include(EXPECTED);
    expect(stack.calls).to.deep.equal([]);
  });

  it("warns for a lock file of another host in a shared file backend", function () {
    const dir = lockDirOf(tmp);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(generationFile(dir, 7), JSON.stringify(onRunner()));
    expect(foreignHolderWarning(dir, undefined)).to.equal(EXPECTED);
  });

  it("says nothing for a free lock, a released one, or one held on this host", function () {
    const dir = lockDirOf(tmp);
    expect(foreignHolderWarning(dir, undefined)).to.equal(undefined);
    expect(foreignHolderWarning(dir, onRunner({ state: "released" }))).to.equal(undefined);
    expect(foreignHolderWarning(dir, deadHolderJournal())).to.equal(undefined);
    expect(foreignHolderWarning(dir, onRunner(), "runner-lost-7")).to.equal(undefined);
  });

  it("names the phase without a target when the lock is only held", function () {
    const msg = foreignHolderWarning(lockDirOf(tmp), onRunner({ phase: "locked", target: undefined }));
    expect(msg).to.contain('(pid 2211, started 2026-01-01T00:00:00Z, during "locked").');
  });
});
