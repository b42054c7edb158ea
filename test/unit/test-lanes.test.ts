/**
 * The slow tiers' lane runner (scripts/toolchain/test-lanes.ts): its argument and summary
 * parsing as tables, and one real run of two lanes of mocha (one passing, one failing) in
 * child processes: every line carries its lane's name, the summary counts each lane, and the
 * exit code is 1 because one lane failed.
 */
import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  childCpuSeconds,
  expandEntry,
  mochaCounts,
  parseLanes,
  testTimes,
} from "../../scripts/toolchain/test-lanes";
import { REPO_ROOT } from "../../scripts/toolchain/env";

describe("test lanes: the slow tiers side by side", () => {
  it("reads lanes of files and globs", () => {
    expect(parseLanes(["A=test/integration/**/*.test.ts,test/e2e/recovery.test.ts", "B=x.ts"])).to.deep.equal(
      [
        { name: "A", files: ["test/integration/**/*.test.ts", "test/e2e/recovery.test.ts"] },
        { name: "B", files: ["x.ts"] },
      ],
    );
  });

  for (const [args, message] of [
    [[], "no lanes"],
    [["A"], 'lane "A": expected <name>=<file-or-glob>'],
    [["A=a.ts,,b.ts"], 'lane "A=a.ts,,b.ts": an empty file or glob in the list'],
    [["A=a.ts", "A=b.ts"], "lane name A is given twice"],
    [["a b=x.ts"], 'lane "a b=x.ts": expected'],
  ] as const) {
    it(`refuses ${JSON.stringify(args)} naming it`, () => {
      expect(() => parseLanes(args)).to.throw(message);
    });
  }

  it("reads mocha's closing counts, the last ones when a run printed several", () => {
    expect(mochaCounts("  3 passing (2s)\n  1 pending\n  2 failing\n")).to.deep.equal({
      passing: 3,
      failing: 2,
      pending: 1,
    });
    expect(mochaCounts("  0 passing (1ms)\n")).to.deep.equal({ passing: 0, failing: 0, pending: 0 });
    expect(mochaCounts("x passing\nError: cannot find module")).to.equal(undefined);
  });

  it("reads the spec reporter's timed tests, slowest first, and only timed passing ones", () => {
    const out = [
      "  promotion",
      "    ✔ promotes 1.1.0 (81234ms)",
      "    ✔ refuses a bad flag",
      "    ✔ rolls back (a story) (120001ms)",
      "    1) fails (5ms)",
      "    ✔ waits (75ms)",
    ].join("\n");
    expect(testTimes(out)).to.deep.equal([
      { title: "rolls back (a story)", ms: 120001 },
      { title: "promotes 1.1.0", ms: 81234 },
      { title: "waits", ms: 75 },
    ]);
    expect(testTimes("no tests here")).to.deep.equal([]);
  });

  it("reads the CPU time of waited-for children from /proc/self/stat, with a command name holding spaces and parentheses", () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
    const stat = "4242 (node (lane) x) S 1 4242 4242 0 -1 4194560 100 200 0 0 17 3 1234 66 20 0 11 0 5 0";
    expect(childCpuSeconds(stat)).to.equal(13);
    expect(childCpuSeconds(stat, 1000)).to.equal(1.3);
    expect(childCpuSeconds("garbage")).to.equal(undefined);
    if (fs.existsSync("/proc/self/stat")) expect(childCpuSeconds()).to.be.a("number");
  });

  it("runs two lanes side by side: prefixed lines, a summary per lane, exit 1 when one fails", async function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-lanes-"));
    try {
      const ok = path.join(dir, "ok.test.js");
      const bad = path.join(dir, "bad.test.js");
      fs.writeFileSync(ok, 'it("one", () => {}); it("two", () => {}); it.skip("later", () => {});\n');
      fs.writeFileSync(bad, 'it("breaks", () => { throw new Error("lane B broke"); });\n');
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(
          process.execPath,
          [
            "-r",
            require.resolve("ts-node/register/transpile-only"),
            path.join(REPO_ROOT, "scripts", "toolchain", "test-lanes.ts"),
            `A=${ok}`,
            `B=${bad}`,
          ],
          { cwd: REPO_ROOT, env: { ...process.env, MOCHA_TIMEOUT_MS: "60000" } },
          (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, out: stdout + stderr }),
        );
      });
      expect(run.code, run.out).to.equal(1);
      expect(run.out).to.match(/^\[A\] +✔ one$/m);
      expect(run.out).to.match(/^\[B\] .*lane B broke/m);
      expect(run.out).to.match(/^ {2}\[A\] 2 passing, 0 failing, 1 pending; exit 0; /m);
      expect(run.out).to.match(/^ {2}\[B\] 0 passing, 1 failing, 0 pending; exit 1; /m);
      expect(run.out).to.contain("test-lanes: failed: B");
      if (fs.existsSync("/proc/self/stat")) {
        expect(run.out).to.match(/^ {2}\[A\] 2 passing.*; CPU \d+\.\d min$/m);
        expect(run.out).to.match(/^ {2}CPU \d+\.\d min in all: \d+\.\d\d of \d+ cores busy on average$/m);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("test lanes: every slow test file runs in exactly one lane", () => {
  it("covers test/integration and test/e2e with the lanes of npm run test:slow", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const args = [...pkg.scripts["test:slow"].matchAll(/'([^']+)'/g)].map((m) => m[1]);
    const lanes = parseLanes(args);
    const files = lanes.flatMap((l) => l.files.flatMap((f) => expandEntry(f)));
    const slow = [...expandEntry("test/integration/**/*.test.ts"), ...expandEntry("test/e2e/**/*.test.ts")];
    expect(slow.length).to.be.greaterThan(20);
    expect([...files].sort(), "each file once").to.deep.equal([...slow].sort());
  });

  it("expands a glob within and across directories, and names nothing for a missing file", () => {
    expect(expandEntry("test/e2e/*.test.ts")).to.include("test/e2e/canary.test.ts");
    expect(expandEntry("test/**/canary.test.ts")).to.deep.equal(["test/e2e/canary.test.ts"]);
    expect(expandEntry("test/e2e/nothing-here.test.ts")).to.deep.equal([]);
    expect(expandEntry("test/nowhere/**/*.test.ts")).to.deep.equal([]);
  });
});
