import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BadInput } from "../../scripts/promotion/errors";
import { generateEvidenceKeyPair, signEvidence, SignedEvidence } from "../../scripts/promotion/evidence";
import type { Decision } from "../../scripts/promotion/gate";
import { backoffMs } from "../../scripts/promotion/notify/backoff";
import { NO_NOTIFICATIONS, NotifyConfig, parseNotifyConfig } from "../../scripts/promotion/notify/config";
import {
  EVENT_SCHEMA,
  EVENT_TYPES,
  EventInput,
  eventPayload,
  evidenceDigest,
  requestBody,
  slackMessage,
  summaryOf,
} from "../../scripts/promotion/notify/events";
import { clearTextFields } from "../../scripts/promotion/notify";
import { Notifier } from "../../scripts/promotion/notify/notifier";
import {
  afterAttempt,
  entryFileName,
  newEntry,
  Outbox,
  OutboxEntry,
} from "../../scripts/promotion/notify/outbox";
import {
  ReplayGuard,
  SIGNATURE_HEADER,
  signatureHeader,
  verifySignature,
} from "../../scripts/promotion/notify/signature";
import { earlierPromotionRecord } from "../fixtures/evidence-records";

const SECRET = "whsec_0123456789abcdef";
const NOW = new Date("2025-03-02T12:00:00Z");

const judged = { status: "fail" as const, mode: "enforce" as const, lower: null, upper: null };
const DECISION: Decision = {
  decision: "reject",
  outcome: "fail",
  analysis: {
    method: "clopper-pearson",
    confidence: 0.95,
    intervalConfidence: 0.95,
    analysisIntervalMinutes: 60,
    intervals: 24,
    maxFailedIntervals: 0,
    maxStalenessSeconds: 120,
  },
  modelVersion: "1.2.0",
  window: { start: "2025-03-01T12:00:00.000Z", end: "2025-03-02T12:00:00.000Z" },
  checks: [
    {
      ...judged,
      name: "accuracy",
      value: 0.79,
      threshold: 0.85,
      passed: false,
      reason: "accuracy 0.79 is below the minimum 0.85",
    },
    {
      ...judged,
      status: "pass",
      name: "latency_p99",
      value: 180,
      threshold: 250,
      passed: true,
      reason: "p99 180 ms is within 250 ms",
    },
    {
      ...judged,
      status: "inconclusive",
      name: "samples",
      value: null,
      threshold: 1000,
      passed: false,
      reason: "no requests series",
    },
  ],
};

function evidence(): SignedEvidence {
  const keys = generateEvidenceKeyPair();
  return signEvidence(
    earlierPromotionRecord({ modelVersion: "1.1.0" }),
    crypto.createPrivateKey(keys.privateKeyPem),
  );
}

function configEntry(value: unknown, secret = true): { value: string; secret: boolean } {
  return { value: JSON.stringify(value), secret };
}

function target(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "ops",
    type: "webhook",
    url: "https://hooks.example.com/churn/T0K3N",
    secret: SECRET,
    ...over,
  };
}

describe("notification signatures", function () {
  it("signs t.body with HMAC-SHA256 in the documented header form (known vector)", function () {
    expect(signatureHeader(SECRET, 1700000000, '{"id":"evt_1"}')).to.equal(
      "t=1700000000,v1=dea1657bd5053cb0f8a75ebf0bd3d22e0cdeb79563b44db6b88864e522fb8bc4",
    );
  });

  it("accepts a request signed with the secret within the tolerance", function () {
    const body = '{"id":"evt_1"}';
    const header = signatureHeader(SECRET, 1700000000, body);
    expect(verifySignature({ body, header, secret: SECRET, nowSeconds: 1700000299 })).to.deep.equal({
      ok: true,
      timestamp: 1700000000,
    });
  });

  it("refuses a changed body, a wrong secret, a missing and a malformed header", function () {
    const body = '{"id":"evt_1","type":"promoted"}';
    const header = signatureHeader(SECRET, 1700000000, body);
    const base = { secret: SECRET, nowSeconds: 1700000000 };
    const tampered = verifySignature({ ...base, body: body.replace("promoted", "failed"), header });
    expect(tampered).to.deep.equal({
      ok: false,
      reason: "the signature does not match the body under this secret",
    });
    expect(verifySignature({ ...base, body, header, secret: "another-secret-of-enough-length" }).ok).to.equal(
      false,
    );
    expect(verifySignature({ ...base, body, header: undefined })).to.deep.equal({
      ok: false,
      reason: `no ${SIGNATURE_HEADER} header`,
    });
    for (const bad of [
      "v1=abc",
      `t=1700000000,v1=${"0".repeat(63)}`,
      "t=x,v1=y",
      `t=1700000000;v1=${"a".repeat(64)}`,
    ]) {
      expect(verifySignature({ ...base, body, header: bad }).ok, bad).to.equal(false);
    }
  });

  it("refuses a replay older than the tolerance, and a timestamp from the future", function () {
    const body = "{}";
    const header = signatureHeader(SECRET, 1700000000, body);
    expect(verifySignature({ body, header, secret: SECRET, nowSeconds: 1700000301 })).to.deep.equal({
      ok: false,
      reason: "the signature's timestamp is 301 s old (tolerance 300 s)",
    });
    expect(
      verifySignature({ body, header, secret: SECRET, nowSeconds: 1699999000, toleranceSeconds: 60 }),
    ).to.deep.equal({
      ok: false,
      reason: "the signature's timestamp is 1000 s in the future (tolerance 60 s)",
    });
  });

  it("the replay guard accepts an event ID once", function () {
    const guard = new ReplayGuard();
    expect(guard.firstTime("evt_a")).to.equal(true);
    expect(guard.firstTime("evt_b")).to.equal(true);
    expect(guard.firstTime("evt_a")).to.equal(false);
  });

  it("refuses a timestamp that is not whole unix seconds when signing", function () {
    expect(() => signatureHeader(SECRET, 1.5, "{}")).to.throw(RangeError);
    expect(() => signatureHeader(SECRET, -1, "{}")).to.throw(RangeError);
  });
});

describe("notification payloads", function () {
  const input: EventInput = {
    type: "gate-rejected",
    stack: "production",
    from: "staging",
    modelVersion: "1.2.0",
    decision: DECISION,
    reason: "the gate rejected 1.2.0 for production; nothing was changed",
    details: { exitCode: 3 },
  };

  it("carries the decision's numbers, outcome and window, the event ID and the schema", function () {
    const p = eventPayload(input, "evt_1", NOW);
    expect(p).to.deep.include({
      schema: EVENT_SCHEMA,
      id: "evt_1",
      type: "gate-rejected",
      time: "2025-03-02T12:00:00.000Z",
      stack: "production",
      from: "staging",
      modelVersion: "1.2.0",
      decisionDigest: null,
      evidenceDigest: null,
      details: { exitCode: 3 },
    });
    expect(p.decision).to.deep.equal({
      decision: "reject",
      window: DECISION.window,
      checks: DECISION.checks.map(({ name, value, threshold, passed, reason }) => ({
        name,
        value,
        threshold,
        passed,
        reason,
      })),
    });
    expect(p.summary).to.equal(
      "churn-model 1.2.0 was refused by the gate for production (failed: accuracy 0.79, samples none); nothing was changed",
    );
  });

  it("names the evidence by a digest of its canonical encoding, which changes with any byte of it", function () {
    const ev = evidence();
    const digest = evidenceDigest(ev);
    expect(digest).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(evidenceDigest(JSON.parse(JSON.stringify(ev)))).to.equal(digest);
    const reordered = { signature: ev.signature, record: { ...ev.record } };
    expect(evidenceDigest(reordered)).to.equal(digest);
    const other = { ...ev, record: { ...ev.record, approver: "mallory" } };
    expect(evidenceDigest(other)).to.not.equal(digest);
    expect(eventPayload({ ...input, type: "promoted", evidence: ev }, "evt_2", NOW).evidenceDigest).to.equal(
      digest,
    );
  });

  it("has a summary for every event type", function () {
    const summaries = EVENT_TYPES.map((type) =>
      summaryOf({ ...input, type, reason: "because\nsecond line" }),
    );
    expect(new Set(summaries).size).to.equal(EVENT_TYPES.length);
    expect(summaries.every((s) => s.includes("1.2.0") && !s.includes("second line"))).to.equal(true);
  });

  it("sends Slack a text line and blocks with the checks and the event ID", function () {
    const p = eventPayload({ ...input, decisionDigest: "sha256:abc" }, "evt_9", NOW);
    const msg = slackMessage(p);
    expect(msg.text).to.equal(`:no_entry: ${p.summary}`);
    const all = JSON.stringify(msg.blocks);
    expect(all).to.include("✗ accuracy");
    expect(all).to.include("0.79");
    expect(all).to.include("evt_9");
    expect(all).to.include("sha256:abc");
    expect(JSON.parse(requestBody("slack", p))).to.deep.equal(msg);
    expect(JSON.parse(requestBody("webhook", p))).to.deep.equal(JSON.parse(JSON.stringify(p)));
  });

  it("escapes Slack's control characters in text that came from outside", function () {
    const p = eventPayload({ ...input, type: "failed", reason: "<!channel> & <http://x|y>" }, "evt_3", NOW);
    const all = JSON.stringify(slackMessage(p));
    expect(all).to.not.include("<!channel>");
    expect(all).to.include("&lt;!channel&gt; &amp;");
  });
});

describe("notification config (churn-model:notifications)", function () {
  it("is empty when the key is absent", function () {
    expect(parseNotifyConfig(undefined, "production")).to.equal(NO_NOTIFICATIONS);
  });

  it("reads targets with defaults for the delivery settings", function () {
    const c = parseNotifyConfig(
      configEntry({
        targets: [target(), target({ name: "team", type: "slack", events: ["promoted", "rolled-back"] })],
      }),
      "production",
    );
    expect(c.targets.map((t) => [t.name, t.kind, [...t.events]])).to.deep.equal([
      ["ops", "webhook", [...EVENT_TYPES]],
      ["team", "slack", ["promoted", "rolled-back"]],
    ]);
    expect([c.timeoutMs, c.maxAttempts, c.drainMs]).to.deep.equal([5000, 8, 15000]);
  });

  it("refuses a value that is not secret config, naming the key", function () {
    expect(() => parseNotifyConfig(configEntry({ targets: [target()] }, false), "production")).to.throw(
      BadInput,
      "stack production: churn-model:notifications must be secret config",
    );
  });

  const cases: [string, unknown, string][] = [
    ["not JSON", "{", "churn-model:notifications must be a JSON object"],
    ["no targets", {}, "churn-model:notifications.targets must be a list"],
    ["an unknown field", { targets: [], retries: 3 }, "churn-model:notifications has unknown field retries"],
    [
      "a bad name",
      { targets: [target({ name: "Ops Team" })] },
      "churn-model:notifications.targets[0].name must be",
    ],
    ["a bad type", { targets: [target({ type: "email" })] }, 'targets[0].type must be "webhook" or "slack"'],
    [
      "a short secret",
      { targets: [target({ secret: "short" })] },
      "targets[0].secret must be a string of at least 16",
    ],
    [
      "an unknown event",
      { targets: [target({ events: ["deployed"] })] },
      'targets[0].events has unknown event type "deployed"',
    ],
    ["twice the same name", { targets: [target(), target()] }, "targets names ops more than once"],
    [
      "a zero timeout",
      { targets: [], timeoutSeconds: 0 },
      "timeoutSeconds must be a whole number from 1 to 60",
    ],
    [
      "a fractional attempt count",
      { targets: [], maxAttempts: 2.5 },
      "maxAttempts must be a whole number from 1 to 100",
    ],
  ];
  for (const [what, value, message] of cases) {
    it(`refuses ${what}`, function () {
      const entry = typeof value === "string" ? { value, secret: true } : configEntry(value);
      expect(() => parseNotifyConfig(entry, "production")).to.throw(BadInput, message);
    });
  }

  it("never repeats a URL or a secret in its messages", function () {
    for (const url of [
      "ftp://hooks.example.com/T0K3N",
      "not a url T0K3N",
      "https://user:T0K3N@hooks.example.com/x",
    ]) {
      let message = "";
      try {
        parseNotifyConfig(configEntry({ targets: [target({ url })] }), "production");
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).to.include("targets[0].url must");
      expect(message).to.not.include("T0K3N");
    }
    let message = "";
    try {
      parseNotifyConfig(configEntry({ targets: [target({ secret: "s3cr3t" })] }), "production");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.not.include("s3cr3t");
  });
});

describe("delivery backoff", function () {
  it("doubles from one second and stops at a minute", function () {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 40].map((n) => backoffMs(n))).to.deep.equal([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
    ]);
    expect(backoffMs(3, { firstMs: 100, maxMs: 250 })).to.equal(250);
  });

  it("refuses attempt counts below one", function () {
    expect(() => backoffMs(0)).to.throw(RangeError);
    expect(() => backoffMs(1.5)).to.throw(RangeError);
  });
});

function entry(over: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    ...newEntry(
      { id: "evt_1", type: "promoted", time: "2025-03-02T12:00:00.000Z" },
      { name: "ops", kind: "webhook" },
      '{"id":"evt_1"}',
    ),
    ...over,
  };
}

describe("outbox state transitions", function () {
  it("leaves the outbox when delivered", function () {
    expect(afterAttempt(entry(), { kind: "delivered", status: 204 }, NOW, 8)).to.deep.equal({
      state: "delivered",
    });
  });

  it("stays pending after a retryable failure, with the attempt counted and the backoff's delay", function () {
    const next = afterAttempt(
      entry({ attempts: 2 }),
      { kind: "retryable", error: "the receiver answered 500" },
      NOW,
      8,
    );
    expect(next).to.deep.equal({
      state: "pending",
      entry: {
        ...entry(),
        attempts: 3,
        lastError: "the receiver answered 500",
        nextAttemptAt: "2025-03-02T12:00:04.000Z",
      },
    });
  });

  it("is given up when the last attempt fails, or at once on a permanent refusal", function () {
    const last = afterAttempt(entry({ attempts: 7 }), { kind: "retryable", error: "timeout" }, NOW, 8);
    expect(last.state).to.equal("dead");
    const refused = afterAttempt(entry(), { kind: "permanent", error: "the receiver answered 401" }, NOW, 8);
    expect(refused).to.deep.equal({
      state: "dead",
      entry: {
        ...entry(),
        attempts: 1,
        lastError: "the receiver answered 401",
        nextAttemptAt: NOW.toISOString(),
      },
    });
  });
});

describe("the outbox on disk", function () {
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-outbox-"));
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps one file per delivery and lists them oldest first", function () {
    const box = new Outbox(dir);
    const later = entry({ eventId: "evt_2", createdAt: "2025-03-02T12:00:01.000Z" });
    box.add(later);
    box.add(entry());
    box.add(entry({ target: "team" }));
    expect(fs.readdirSync(box.pendingDir)).to.have.length(3);
    expect(box.pending().map((e) => `${e.eventId}/${e.target}`)).to.deep.equal([
      "evt_1/ops",
      "evt_1/team",
      "evt_2/ops",
    ]);
    expect(fs.readdirSync(path.join(dir, "tmp"))).to.deep.equal([]);
    expect(fs.statSync(path.join(box.pendingDir, entryFileName(later))).mode & 0o777).to.equal(0o600);
  });

  it("lets one claimant at a time take an entry, and settles it to each state", function () {
    const box = new Outbox(dir);
    box.add(entry());
    const claim = box.claim(entry());
    expect(claim).to.not.equal(undefined);
    expect(box.claim(entry())).to.equal(undefined);
    expect(box.pending()).to.deep.equal([]);
    const retry = afterAttempt(entry(), { kind: "retryable", error: "down" }, NOW, 8);
    box.settle(claim!, retry);
    expect(box.pending()).to.deep.equal([(retry as { entry: OutboxEntry }).entry]);
    expect(fs.readdirSync(box.sendingDir)).to.deep.equal([]);

    const again = box.claim(box.pending()[0])!;
    box.settle(
      again,
      afterAttempt(box.pending()[0] ?? entry({ attempts: 1 }), { kind: "permanent", error: "404" }, NOW, 8),
    );
    expect(box.pending()).to.deep.equal([]);
    expect(box.dead().map((e) => [e.eventId, e.attempts, e.lastError])).to.deep.equal([["evt_1", 2, "404"]]);

    box.add(entry({ eventId: "evt_3" }));
    box.settle(box.claim(entry({ eventId: "evt_3" }))!, { state: "delivered" });
    expect(box.pending()).to.deep.equal([]);
    expect(fs.readdirSync(box.sendingDir)).to.deep.equal([]);
  });

  it("returns to pending what a dead process had claimed, and keeps a live process's claim", function () {
    const box = new Outbox(dir);
    fs.mkdirSync(box.sendingDir, { recursive: true });
    const name = entryFileName(entry());
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max: never a live process
    fs.writeFileSync(path.join(box.sendingDir, `${name}.${deadPid}`), JSON.stringify(entry()));
    const other = entryFileName(entry({ eventId: "evt_live" }));
    fs.writeFileSync(path.join(box.sendingDir, `${other}.1`), JSON.stringify(entry({ eventId: "evt_live" })));
    fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
    fs.writeFileSync(path.join(dir, "tmp", `${name}.${deadPid}.deadbeef`), "{half");
    expect(box.recover()).to.equal(1);
    expect(box.pending().map((e) => e.eventId)).to.deep.equal(["evt_1"]);
    expect(fs.readdirSync(box.sendingDir)).to.deep.equal([`${other}.1`]);
    expect(fs.readdirSync(path.join(dir, "tmp"))).to.deep.equal([]);
  });

  it("sets aside a file that is not an entry instead of stopping the queue", function () {
    const box = new Outbox(dir);
    box.add(entry({ eventId: "evt_2", createdAt: "2025-03-02T12:00:01.000Z" }));
    fs.writeFileSync(path.join(box.pendingDir, "000000000000001-evt_0-ops.json"), "{not json");
    const corrupt: string[] = [];
    expect(box.pending((f) => corrupt.push(path.basename(f))).map((e) => e.eventId)).to.deep.equal(["evt_2"]);
    expect(corrupt).to.deep.equal(["000000000000001-evt_0-ops.json"]);
    expect(fs.readdirSync(box.deadDir)).to.deep.equal(["000000000000001-evt_0-ops.json"]);
  });
});

describe("the notifier with an in-process fake receiver", function () {
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-notifier-"));
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function config(over: Partial<NotifyConfig> = {}): NotifyConfig {
    const parsed = parseNotifyConfig(
      configEntry({ targets: [target(), target({ name: "team", type: "slack", events: ["promoted"] })] }),
      "production",
    );
    return { ...parsed, ...over };
  }

  const input: EventInput = {
    type: "gate-rejected",
    stack: "production",
    from: "staging",
    modelVersion: "1.2.0",
    decision: DECISION,
  };

  it("queues an event only for the targets that want it, and delivers it signed", async function () {
    const seen: { url: string; headers: Record<string, string>; body: string }[] = [];
    const warnings: string[] = [];
    const n = new Notifier({
      stack: "production",
      config: config(),
      outbox: new Outbox(dir),
      warn: (l) => warnings.push(l),
      backoff: { firstMs: 1, maxMs: 1 },
      fetch: async (url, init) => {
        seen.push({
          url: String(url),
          headers: init!.headers as Record<string, string>,
          body: String(init!.body),
        });
        return new Response(null, { status: 204 });
      },
    });
    const id = n.notify(input);
    await n.drain();
    expect(seen).to.have.length(1);
    expect(seen[0].url).to.equal("https://hooks.example.com/churn/T0K3N");
    expect(seen[0].headers["Churn-Model-Event-Id"]).to.equal(id);
    expect(JSON.parse(seen[0].body).id).to.equal(id);
    const check = verifySignature({
      body: seen[0].body,
      header: seen[0].headers[SIGNATURE_HEADER],
      secret: SECRET,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    expect(check.ok).to.equal(true);
    expect(warnings).to.deep.equal([]);
    expect(new Outbox(dir).pending()).to.deep.equal([]);
  });

  it("retries a 503 with backoff and gives up a 401 at once, saying so", async function () {
    const answers = [503, 503, 200];
    let calls = 0;
    const warnings: string[] = [];
    const n = new Notifier({
      stack: "production",
      config: config(),
      outbox: new Outbox(dir),
      warn: (l) => warnings.push(l),
      backoff: { firstMs: 5, maxMs: 5 },
      fetch: async () => new Response(null, { status: answers[calls++] }),
    });
    n.notify(input);
    await n.drain();
    expect(calls).to.equal(3);
    expect(warnings.filter((w) => w.includes("answered 503"))).to.have.length(2);
    expect(warnings[0]).to.match(
      /^notify: the gate-rejected notification to ops failed \(the receiver answered 503\), attempt 1 of 8/,
    );

    const refused = new Notifier({
      stack: "production",
      config: config(),
      outbox: new Outbox(dir),
      warn: (l) => warnings.push(l),
      fetch: async () => new Response(null, { status: 401 }),
    });
    refused.notify(input);
    await refused.drain();
    expect(new Outbox(dir).dead().map((e) => e.lastError)).to.deep.equal(["the receiver answered 401"]);
    expect(warnings.at(-1)).to.include("gave up the gate-rejected notification to ops after 1 attempt(s)");
  });

  it("stops at the drain deadline and leaves what is undelivered pending, without throwing", async function () {
    const warnings: string[] = [];
    const n = new Notifier({
      stack: "production",
      config: config({ drainMs: 50 }),
      outbox: new Outbox(dir),
      warn: (l) => warnings.push(l),
      backoff: { firstMs: 10_000, maxMs: 10_000 },
      fetch: async () => {
        throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
      },
    });
    n.notify(input);
    const t0 = Date.now();
    await n.drain();
    expect(Date.now() - t0).to.be.below(5000);
    const pending = new Outbox(dir).pending();
    expect(pending.map((e) => [e.attempts, e.lastError])).to.deep.equal([
      [1, "request failed: ECONNREFUSED"],
    ]);
    expect(warnings.at(-1)).to.include("1 notification(s) for production not delivered yet");
  });

  it("says on stderr when it cannot write the outbox and lets the caller go on", async function () {
    const file = path.join(dir, "not-a-dir");
    fs.writeFileSync(file, "");
    const warnings: string[] = [];
    const n = new Notifier({
      stack: "production",
      config: config(),
      outbox: new Outbox(file),
      warn: (l) => warnings.push(l),
    });
    expect(n.notify(input)).to.equal(undefined);
    await n.drain();
    expect(warnings[0]).to.match(
      /^notify: could not queue the gate-rejected notification \(.*\); the promotion goes on without it$/,
    );
  });
});

describe("the receiver example in docs/notifications.md", function () {
  it("accepts a signed request once and refuses a replay, a stale one and a changed body", function () {
    const doc = fs.readFileSync(path.resolve(__dirname, "..", "..", "docs", "notifications.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Verifying a request"));
    const source = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(source).to.be.a("string");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ts = require("typescript") as typeof import("typescript");
    const js = ts.transpileModule(`${source}\nmodule.exports = verify;`, {
      compilerOptions: { module: ts.ModuleKind.CommonJS },
    }).outputText;
    const mod = { exports: {} as unknown };
    new Function("require", "module", "exports", js)(require, mod, mod.exports);
    const verify = mod.exports as (
      body: string,
      header: string | undefined,
      secret: string,
      seen: Set<string>,
    ) => boolean;

    const seen = new Set<string>();
    const body = JSON.stringify({ id: "evt_doc", type: "promoted" });
    const now = Math.floor(Date.now() / 1000);
    expect(verify(body, signatureHeader(SECRET, now, body), SECRET, seen)).to.equal(true);
    expect(verify(body, signatureHeader(SECRET, now, body), SECRET, seen)).to.equal(false);
    const other = JSON.stringify({ id: "evt_doc2", type: "promoted" });
    expect(verify(other, signatureHeader(SECRET, now - 301, other), SECRET, seen)).to.equal(false);
    expect(verify(other, signatureHeader(SECRET, now, body), SECRET, seen)).to.equal(false);
    expect(verify(other, undefined, SECRET, seen)).to.equal(false);
    expect(verify(other, signatureHeader(SECRET, now, other), SECRET, seen)).to.equal(true);
  });
});

describe("notification secrets in the stack file", function () {
  it("names every url and secret left in clear text, and accepts encrypted ones", function () {
    const secure = { secure: "v1:abc" };
    expect(clearTextFields(undefined)).to.deep.equal([]);
    expect(clearTextFields(secure)).to.deep.equal([]);
    expect(clearTextFields({ targets: [{ name: "ops", url: secure, secret: secure }] })).to.deep.equal([]);
    expect(
      clearTextFields({
        targets: [
          { name: "ops", url: "https://x", secret: secure },
          { url: secure, secret: "s" },
        ],
      }),
    ).to.deep.equal([
      "churn-model:notifications.targets[0].url",
      "churn-model:notifications.targets[1].secret",
    ]);
  });
});
