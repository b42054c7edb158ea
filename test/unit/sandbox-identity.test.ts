/**
 * How the sandbox recognises its own processes (scripts/sandbox/identity.ts), against real
 * child processes: the script as TypeScript (ts-node, the tests) or as compiled JavaScript
 * (dist/, what `npm run sandbox` and `./dev demo` run), for this sandbox's directory only.
 * The compiled form was once not recognised, so a compiled sandbox never saw its controller
 * start.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runsScriptFor } from "../../scripts/sandbox/identity";

describe("the sandbox's own processes", function () {
  let dir: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-identity-"));
  });

  afterEach(() => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A process whose command line is `node -e … <script> --state-dir <stateDir>`. */
  async function running(script: string, stateDir: string): Promise<number> {
    const child = spawn(
      process.execPath,
      ["-e", "setTimeout(() => {}, 20000)", script, "--state-dir", stateDir],
      {
        stdio: "ignore",
      },
    );
    children.push(child);
    await new Promise((r) => setTimeout(r, 200));
    return child.pid!;
  }

  const MAIN = "/repo/scripts/sandbox/controller-main.ts";

  for (const [what, script, ok] of [
    ["the controller through ts-node", "/repo/scripts/sandbox/controller-main.ts", true],
    ["the controller compiled to dist/", "/repo/dist/scripts/sandbox/controller-main.js", true],
    ["another script", "/repo/dist/scripts/sandbox/traffic-main.js", false],
    ["a script whose name only ends the same", "/repo/dist/scripts/sandbox/my-controller-main.js", false],
  ] as const) {
    it(`${ok ? "recognises" : "does not take"} ${what} as the controller`, async function () {
      const pid = await running(script, dir);
      expect(runsScriptFor(pid, MAIN, dir)).to.equal(ok);
    });
  }

  it("does not take the controller of another sandbox's directory", async function () {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "churn-identity-other-"));
    try {
      const pid = await running("/repo/dist/scripts/sandbox/controller-main.js", other);
      expect(runsScriptFor(pid, MAIN, dir)).to.equal(false);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
