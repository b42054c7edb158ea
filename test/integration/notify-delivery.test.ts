import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseNotifyConfig } from "../../scripts/promotion/notify/config";
import { EventInput } from "../../scripts/promotion/notify/events";
import { Notifier } from "../../scripts/promotion/notify/notifier";
import { Outbox } from "../../scripts/promotion/notify/outbox";
import { signatureHeader } from "../../scripts/promotion/notify/signature";
import { freePort } from "../../scripts/sandbox/ports";
import { Receiver } from "./notify-receiver";

const SECRET = "whsec_integration_0123456789";
const REPO = path.resolve(__dirname, "..", "..");

const EVENT: EventInput = {
  type: "promoted",
  stack: "production",
  from: "staging",
  modelVersion: "1.1.0",
};

function configValue(url: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({ targets: [{ name: "ops", type: "webhook", url, secret: SECRET }], ...over });
}

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs test/integration/notify-run.ts in its own process: one "promotion" of the notifier. */
function runChild(
  env: Record<string, string>,
  until?: (stdout: string) => boolean,
): Promise<ChildRun & { child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", path.join(__dirname, "notify-run.ts")],
      {
        cwd: REPO,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (until?.(stdout)) resolve({ code: null, stdout, stderr, child });
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr, child }));
  });
}

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("notification delivery to a real receiver on 127.0.0.1", function () {
  this.timeout(120_000);
  let dir: string;
  let receiver: Receiver;
  const warnings: string[] = [];

  beforeEach(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-notify-it-"));
    receiver = new Receiver(SECRET);
    warnings.length = 0;
  });

  afterEach(async function () {
    await receiver.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function notifier(url: string, over: Record<string, unknown> = {}): Notifier {
    const n = new Notifier({
      stack: "production",
      config: parseNotifyConfig({ value: configValue(url, over), secret: true }, "production"),
      outbox: new Outbox(dir),
      warn: (l) => warnings.push(l),
      backoff: { firstMs: 200, maxMs: 400 },
    });
    n.start();
    return n;
  }

  it("delivers a signed event that the receiver verifies and acts on once", async function () {
    await receiver.start();
    const n = notifier(receiver.url);
    const id = n.notify(EVENT);
    await n.drain();
    expect(receiver.requests.map((r) => r.outcome)).to.deep.equal(["acted"]);
    expect(receiver.acted.map((e) => [e.id, e.type, e.modelVersion])).to.deep.equal([
      [id, "promoted", "1.1.0"],
    ]);
    expect(receiver.requests[0].headers["churn-model-event"]).to.equal("promoted");
    expect(new Outbox(dir).pending()).to.deep.equal([]);
    expect(warnings).to.deep.equal([]);
  });

  it("retries after 500s with the same event and body, each attempt signed afresh, until delivered", async function () {
    await receiver.start();
    receiver.script.push({ kind: "status", status: 500 }, { kind: "status", status: 502 });
    const n = notifier(receiver.url);
    n.notify(EVENT);
    await n.drain();
    expect(receiver.requests.map((r) => r.outcome)).to.deep.equal(["scripted", "scripted", "acted"]);
    expect(new Set(receiver.requests.map((r) => r.body)).size).to.equal(1);
    expect(new Set(receiver.requests.map((r) => r.eventId)).size).to.equal(1);
    expect(receiver.acted).to.have.length(1);
    expect(warnings.filter((w) => /answered 50[02]/.test(w))).to.have.length(2);
    expect(new Outbox(dir).pending()).to.deep.equal([]);
  });

  it("retries when the receiver does not answer in time, and the receiver acts on the event once", async function () {
    await receiver.start();
    // Acts on the first copy but answers after the sender's 1 s deadline: the sender must retry,
    // and the receiver must recognise the event ID.
    receiver.script.push({ kind: "late", ms: 2500 });
    const n = notifier(receiver.url, { timeoutSeconds: 1 });
    n.notify(EVENT);
    await n.drain();
    expect(receiver.requests.map((r) => r.outcome)).to.deep.equal(["acted", "duplicate"]);
    expect(receiver.acted).to.have.length(1);
    expect(warnings[0]).to.include("no answer within 1000 ms");
    expect(new Outbox(dir).pending()).to.deep.equal([]);
  });

  it("retries a receiver that hangs, and sets a delivery aside after maxAttempts", async function () {
    await receiver.start();
    receiver.script.push({ kind: "hang" }, { kind: "status", status: 503 });
    const n = notifier(receiver.url, { timeoutSeconds: 1, maxAttempts: 2 });
    n.notify(EVENT);
    await n.drain();
    expect(receiver.requests.map((r) => r.outcome)).to.deep.equal(["none", "scripted"]);
    expect(receiver.acted).to.deep.equal([]);
    const dead = new Outbox(dir).dead();
    expect(dead.map((e) => [e.attempts, e.lastError])).to.deep.equal([[2, "the receiver answered 503"]]);
    expect(warnings.at(-1)).to.include("gave up the promoted notification to ops after 2 attempt(s)");
  });

  it("keeps what a run could not deliver while the receiver was down and delivers it, once, at the next run", async function () {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hooks/churn`;
    const env = { CHURN_NOTIFY_DIR: dir, NOTIFY_RUN_CONFIG: configValue(url, { drainSeconds: 2 }) };

    const first = await runChild({ ...env, NOTIFY_RUN_EVENTS: "approval-requested" });
    expect(first.code).to.equal(0);
    expect(first.stderr).to.include("ECONNREFUSED");
    expect(first.stderr).to.include("1 notification(s) for production not delivered yet");
    const queued = /queued approval-requested (evt_[0-9a-f]{32})/.exec(first.stdout)?.[1];
    expect(queued).to.be.a("string");
    const box = new Outbox(path.join(dir, "production"));
    expect(box.pending().map((e) => e.eventId)).to.deep.equal([queued]);

    await receiver.start(port);
    const second = await runChild({ ...env, NOTIFY_RUN_EVENTS: "gate-rejected" });
    expect(second.code).to.equal(0);
    expect(second.stderr).to.include(
      "delivering 1 notification(s) left pending by earlier runs of production",
    );
    expect(receiver.acted.map((e) => e.type)).to.deep.equal(["approval-requested", "gate-rejected"]);
    expect(receiver.acted[0].id).to.equal(queued);
    expect(box.pending()).to.deep.equal([]);

    const third = await runChild({ ...env, NOTIFY_RUN_EVENTS: "" });
    expect(third.code).to.equal(0);
    expect(receiver.requests.map((r) => r.outcome)).to.deep.equal(["acted", "acted"]);
  });

  it("loses nothing when the run is killed mid-delivery: the next run sends it again and it is acted on once", async function () {
    await receiver.start();
    receiver.script.push({ kind: "hang" });
    const env = {
      CHURN_NOTIFY_DIR: dir,
      NOTIFY_RUN_CONFIG: configValue(receiver.url, { timeoutSeconds: 30 }),
    };
    const killed = await runChild(
      { ...env, NOTIFY_RUN_EVENTS: "rolled-back", NOTIFY_RUN_NO_DRAIN: "1" },
      (out) => out.includes("waiting"),
    );
    await waitFor("the receiver to see the first attempt", () => receiver.requests.length === 1);
    const box = new Outbox(path.join(dir, "production"));
    expect(fs.readdirSync(box.sendingDir)).to.have.length(1);
    const exited = new Promise((r) => killed.child.once("exit", r));
    killed.child.kill("SIGKILL");
    await exited;

    const next = await runChild({ ...env, NOTIFY_RUN_EVENTS: "" });
    expect(next.code).to.equal(0);
    expect(next.stderr).to.include("1 delivery(ies) interrupted by an earlier run are pending again");
    expect(receiver.requests.map((r) => r.outcome)).to.deep.equal(["none", "acted"]);
    expect(receiver.acted.map((e) => e.type)).to.deep.equal(["rolled-back"]);
    expect(fs.readdirSync(box.sendingDir)).to.deep.equal([]);
    expect(box.pending()).to.deep.equal([]);
  });

  it("the receiver refuses replays, changed bodies and wrong secrets, and the sender gives those up", async function () {
    await receiver.start();
    const n = notifier(receiver.url);
    n.notify(EVENT);
    await n.drain();
    const original = receiver.requests[0];
    expect(original.outcome).to.equal("acted");

    // Replayed within the window: the signature is fine, the event ID is not new.
    expect(await receiver.replay(original)).to.equal(200);
    expect(receiver.requests.at(-1)!.outcome).to.equal("duplicate");

    // Replayed later than the tolerance: refused on the timestamp.
    receiver.clockOffsetSeconds = 301;
    expect(await receiver.replay(original)).to.equal(401);
    expect(receiver.requests.at(-1)!.reason).to.match(/timestamp is 30\d s old \(tolerance 300 s\)/);
    receiver.clockOffsetSeconds = 0;

    // A changed body under the old signature, and a fresh signature under another secret.
    const changed = original.body.replace('"promoted"', '"rolled-back"');
    expect(await receiver.replay(original, { body: changed })).to.equal(401);
    const t = Math.floor(Date.now() / 1000);
    expect(
      await receiver.replay(original, {
        body: changed,
        signature: signatureHeader("not-the-secret-at-all", t, changed),
      }),
    ).to.equal(401);
    expect(receiver.requests.slice(-2).map((r) => r.reason)).to.deep.equal([
      "the signature does not match the body under this secret",
      "the signature does not match the body under this secret",
    ]);
    expect(receiver.acted).to.have.length(1);

    // A sender with the wrong secret: 401 is permanent, set aside at once.
    const wrong = new Notifier({
      stack: "production",
      config: parseNotifyConfig(
        {
          value: JSON.stringify({
            targets: [{ name: "ops", type: "webhook", url: receiver.url, secret: "x".repeat(32) }],
          }),
          secret: true,
        },
        "production",
      ),
      outbox: new Outbox(dir),
      warn: (l) => warnings.push(l),
    });
    wrong.notify({ ...EVENT, type: "failed" });
    await wrong.drain();
    expect(new Outbox(dir).dead().map((e) => [e.eventType, e.lastError])).to.deep.equal([
      ["failed", "the receiver answered 401"],
    ]);
    expect(receiver.acted).to.have.length(1);
  });
});
