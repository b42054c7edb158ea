/**
 * processes.ts: what reaches an engine process, and which left-over processes a later run
 * stops. A PID reused by an unrelated process is spared; what a command left in its session
 * after it ended is stopped.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import {
  bootId,
  childEnv,
  procStat,
  processStartTime,
  runSession,
  SessionRecord,
  sessionMembers,
  stopSessions,
} from "../../scripts/promotion/processes";

/** Whether `pid` is a live process (not gone, not a zombie waiting for its parent). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** A node script that starts a long-running grandchild in its own session, prints its PID and waits for stdin. */
const LEADER = `
const c = require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
c.unref();
process.stdout.write(String(c.pid) + "\\n");
process.stdin.on("data", () => process.exit(0));
`;

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]);
    });
  });
}

describe("processes", function () {
  const pids: number[] = [];

  afterEach(function () {
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  /** A session leader (detached: a session of its own) with a grandchild in that session. */
  async function session(): Promise<{ leader: ChildProcess; grandchild: number; record: SessionRecord }> {
    const leader = spawn(process.execPath, ["-e", LEADER], {
      detached: true,
      stdio: ["pipe", "pipe", "ignore"],
    });
    const grandchild = Number(await firstLine(leader));
    pids.push(leader.pid!, grandchild);
    const record = {
      pid: leader.pid!,
      startTime: processStartTime(leader.pid!)!,
      bootId: bootId(),
      command: "node -e",
    };
    expect(procStat(grandchild)?.session, "the grandchild is in the leader's session").to.equal(leader.pid);
    return { leader, grandchild, record };
  }

  describe("left-over sessions", function () {
    it("stops a grandchild left in a recorded session after its leader ended", async function () {
      const { leader, grandchild, record } = await session();
      const ended = new Promise((r) => leader.once("exit", r));
      leader.stdin!.end("go\n");
      await ended;
      expect(running(grandchild), "the grandchild outlived its leader").to.equal(true);
      const stopped = await stopSessions([record]);
      expect(stopped.map((s) => Number(s.split(" ")[0]))).to.include(grandchild);
      expect(await until(() => !running(grandchild)), "the grandchild was stopped").to.equal(true);
      expect(
        await until(() => sessionMembers([record]).length === 0),
        "nothing is left in the session",
      ).to.equal(true);
    });

    for (const [what, shift] of [
      ["earlier", -1],
      ["later", 1],
    ] as const) {
      it(`spares a session whose leader PID started ${what} than recorded (a reused PID), and everything in it`, async function () {
        const { leader, grandchild, record } = await session();
        const reused = { ...record, startTime: record.startTime + (shift < 0 ? 100 : -100) };
        expect(sessionMembers([reused])).to.deep.equal([]);
        expect(await stopSessions([reused])).to.deep.equal([]);
        expect(running(leader.pid!), "the leader").to.equal(true);
        expect(running(grandchild), "the grandchild").to.equal(true);
        // The same session with its true start time is ours, leader and grandchild.
        expect(sessionMembers([record]).map((p) => p.pid)).to.have.members([leader.pid!, grandchild]);
      });
    }

    it("spares a session recorded on another boot", async function () {
      const { grandchild, record } = await session();
      expect(await stopSessions([{ ...record, bootId: "another-boot" }])).to.deep.equal([]);
      expect(running(grandchild)).to.equal(true);
    });

    it("stops what an engine command left in its session when the command ends", async function () {
      const script =
        'const c = require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], ' +
        '{ stdio: "ignore" }); c.unref(); console.log(c.pid);';
      const out = await runSession(process.execPath, ["-e", script], {
        env: { PATH: process.env.PATH ?? "" },
      });
      expect(out.code).to.equal(0);
      const plugin = Number(out.stdout.trim());
      pids.push(plugin);
      expect(plugin).to.be.greaterThan(0);
      expect(await until(() => !running(plugin)), "the left-over process").to.equal(true);
    });
  });

  describe("childEnv", function () {
    const env = {
      PATH: "/usr/bin",
      HOME: "/home/ci",
      KUBECONFIG: "/k",
      PULUMI_BACKEND_URL: "s3://b",
      PULUMI_CONFIG_PASSPHRASE: "p",
      AWS_REGION: "eu-west-1",
      LC_ALL: "C",
      CHURN_EVIDENCE_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----",
      CHURN_EVIDENCE_PRIVATE_KEY_FILE: "/run/secrets/key.pem",
      GITHUB_TOKEN: "ghs_x",
      SLACK_WEBHOOK_URL: "https://hooks/x",
      CHURN_SANDBOX_DIR: "/tmp/s",
      UNSET: undefined,
    };

    it("passes exactly the allow-listed variables", function () {
      expect(childEnv(env)).to.deep.equal({
        PATH: "/usr/bin",
        HOME: "/home/ci",
        KUBECONFIG: "/k",
        PULUMI_BACKEND_URL: "s3://b",
        PULUMI_CONFIG_PASSPHRASE: "p",
        AWS_REGION: "eu-west-1",
        LC_ALL: "C",
      });
    });

    it("never passes the evidence key or its file, whatever else is given", function () {
      const out = childEnv({ ...process.env, ...env });
      expect(out).to.not.have.any.keys("CHURN_EVIDENCE_PRIVATE_KEY", "CHURN_EVIDENCE_PRIVATE_KEY_FILE");
      expect(Object.values(out)).to.not.include("-----BEGIN PRIVATE KEY-----");
      expect(out).to.not.have.any.keys("GITHUB_TOKEN", "SLACK_WEBHOOK_URL", "CHURN_SANDBOX_DIR", "UNSET");
    });
  });
});
