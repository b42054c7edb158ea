/**
 * `npm run sandbox -- down` trusts nothing it reads: it removes only a directory that holds
 * the sandbox's own state, and signals only processes that run what the sandbox started.
 */
import { expect } from "chai";
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { BadInput } from "../../scripts/promotion/errors";
import { SANDBOX_MARKER, sandboxDown } from "../../scripts/sandbox/cli";
import { REPO_ROOT } from "../../scripts/toolchain/env";

const execFileAsync = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A long-running process whose arguments are `args` (node waiting for a minute). */
function waiter(...args: string[]): ChildProcess {
  return spawn(process.execPath, ["-e", "setTimeout(() => undefined, 60000)", ...args], { stdio: "ignore" });
}

/** Waits until `child` exits, or at most `ms` (so a signalled process is seen as gone). */
function exited(child: ChildProcess, ms = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

function writeJson(dir: string, file: string, value: unknown): void {
  fs.writeFileSync(path.join(dir, file), JSON.stringify(value));
}

function writeState(dir: string, controlPlane: { name: string; pid: number }[]): void {
  fs.writeFileSync(
    path.join(dir, "sandbox.json"),
    JSON.stringify({ controlPlane: controlPlane.map((p) => ({ ...p, log: "/dev/null" })), startedAt: "x" }),
  );
}

describe("sandbox down", function () {
  let tmp: string;
  const children: ChildProcess[] = [];

  beforeEach(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-down-"));
  });

  afterEach(function () {
    for (const c of children.splice(0)) c.kill("SIGKILL");
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("refuses a directory without the sandbox's state and leaves every file in it", async function () {
    const dir = path.join(tmp, "precious");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "thesis.tex"), "years of work");
    const err = await sandboxDown({ dir, log: () => undefined }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BadInput);
    expect((err as Error).message).to.equal(
      `${dir} is not a sandbox directory (it holds neither sandbox.json nor ${SANDBOX_MARKER}): nothing was stopped or removed`,
    );
    expect(fs.readFileSync(path.join(dir, "thesis.tex"), "utf8")).to.equal("years of work");
  });

  it("refuses it through the CLI too, with exit 2 (CHURN_SANDBOX_DIR pointing elsewhere)", async function () {
    this.timeout(60_000);
    const dir = path.join(tmp, "elsewhere");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "keep"), "1");
    const err = (await execFileAsync(
      process.execPath,
      [
        "-r",
        require.resolve("ts-node/register/transpile-only"),
        path.join(REPO_ROOT, "scripts/sandbox/cli.ts"),
        "down",
      ],
      { env: { ...process.env, CHURN_SANDBOX_DIR: dir } },
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).to.equal(2);
    expect(err.stderr).to.include("is not a sandbox directory");
    expect(fs.existsSync(path.join(dir, "keep"))).to.equal(true);
  });

  for (const [what, text] of [
    ["a sandbox.json that is not JSON", "my notes, not a sandbox"],
    ["a sandbox.json of another tool", JSON.stringify({ name: "my-app", version: "1.0.0" })],
    [
      "a sandbox.json whose controlPlane is not a list of PIDs",
      JSON.stringify({ controlPlane: "x", startedAt: "y" }),
    ],
    [
      "a sandbox.json without startedAt",
      JSON.stringify({ controlPlane: [{ name: "etcd", pid: 1, log: "" }] }),
    ],
  ] as const) {
    it(`refuses a directory whose only claim is ${what}, and removes nothing`, async function () {
      const dir = path.join(tmp, "project");
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, "sandbox.json"), text);
      fs.writeFileSync(path.join(dir, "main.c"), "int main() {}");
      const err = await sandboxDown({ dir, log: () => undefined }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(BadInput);
      expect((err as Error).message).to.equal(
        `${dir} is not a sandbox directory (its sandbox.json is not the sandbox's state and it holds no ` +
          `${SANDBOX_MARKER}): nothing was stopped or removed`,
      );
      expect(fs.readFileSync(path.join(dir, "sandbox.json"), "utf8")).to.equal(text);
      expect(fs.readFileSync(path.join(dir, "main.c"), "utf8")).to.equal("int main() {}");
    });
  }

  it("removes a directory whose sandbox.json is the sandbox's state, without the marker", async function () {
    const dir = path.join(tmp, "old-sandbox");
    fs.mkdirSync(dir);
    writeState(dir, []);
    await sandboxDown({ dir, log: () => undefined });
    expect(fs.existsSync(dir)).to.equal(false);
  });

  it("leaves an empty directory as it is", async function () {
    const dir = path.join(tmp, "empty");
    fs.mkdirSync(dir);
    await sandboxDown({ dir, log: () => undefined });
    expect(fs.existsSync(dir)).to.equal(true);
  });

  it("never signals a traffic generator or controller of another sandbox named in forged state files", async function () {
    const dir = path.join(tmp, "sandbox");
    const other = path.join(tmp, "other-sandbox");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, SANDBOX_MARKER), "");
    // What another sandbox's generator and controller run: the right scripts, another directory.
    const traffic = waiter(path.join(REPO_ROOT, "scripts/sandbox/traffic.ts"), "--state-dir", other);
    const controller = waiter(
      path.join(REPO_ROOT, "scripts/sandbox/controller-main.ts"),
      "--state-dir",
      other,
    );
    children.push(traffic, controller);
    await new Promise((r) => setTimeout(r, 300));
    writeJson(dir, "traffic.json", { pid: traffic.pid, logFile: "/dev/null", targets: [] });
    writeJson(dir, "controller.json", { pid: controller.pid, logFile: "/dev/null", servicesFile: "x" });
    await sandboxDown({ dir, log: () => undefined });
    await Promise.all([exited(traffic), exited(controller)]);
    expect(alive(traffic.pid!), "the other sandbox's traffic generator").to.equal(true);
    expect(alive(controller.pid!), "the other sandbox's controller").to.equal(true);
    expect(fs.existsSync(dir)).to.equal(false);
  });

  it("signals a services.json PID only when it runs what this sandbox built, and stops its own controller", async function () {
    const dir = path.join(tmp, "sandbox");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, SANDBOX_MARKER), "");
    const controller = waiter(path.join(REPO_ROOT, "scripts/sandbox/controller-main.ts"), "--state-dir", dir);
    const service = waiter(path.join(dir, "service-build", "server.js"), "--namespace", "staging");
    const unrelated = waiter("a-database-of-someone-else");
    const canary = waiter("another-service");
    children.push(controller, service, unrelated, canary);
    await new Promise((r) => setTimeout(r, 300));
    writeJson(dir, "controller.json", { pid: controller.pid, logFile: "/dev/null", servicesFile: "x" });
    const record = (pid: number, backends: number[]) => ({
      url: "http://127.0.0.1:1",
      proxyPort: 1,
      version: "1.0.0",
      pid,
      backendUrl: null,
      deployment: "churn-model",
      backends: backends.map((b) => ({
        deployment: "churn-model-canary",
        version: "1.1.0",
        pid: b,
        url: "",
        weight: 1,
      })),
    });
    writeJson(dir, "services.json", {
      staging: record(service.pid!, [canary.pid!]),
      production: record(unrelated.pid!, []),
    });
    await sandboxDown({ dir, log: () => undefined });
    await Promise.all([exited(controller), exited(service), exited(unrelated), exited(canary)]);
    expect(alive(unrelated.pid!), "the unrelated process named as production's service").to.equal(true);
    expect(alive(canary.pid!), "the unrelated process named as a canary backend").to.equal(true);
    expect(alive(controller.pid!), "this sandbox's controller").to.equal(false);
    expect(alive(service.pid!), "this sandbox's service").to.equal(false);
  });

  it("never signals a recorded PID that runs something else, and stops the one it started", async function () {
    const dir = path.join(tmp, "sandbox");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, SANDBOX_MARKER), "");
    const unrelated = waiter("unrelated-work");
    const ours = waiter(path.join(dir, "cluster", "etcd-data"));
    children.push(unrelated, ours);
    await new Promise((r) => setTimeout(r, 300));
    writeState(dir, [
      { name: "etcd", pid: ours.pid! },
      { name: "kube-apiserver", pid: unrelated.pid! },
    ]);
    const log: string[] = [];
    await sandboxDown({ dir, log: (l) => log.push(l) });
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(unrelated.pid!), "the unrelated process").to.equal(true);
    expect(alive(ours.pid!), "the sandbox's own process").to.equal(false);
    expect(log).to.include(
      `sandbox: left pid ${unrelated.pid} alone: it does not run what the sandbox started as kube-apiserver`,
    );
    expect(fs.existsSync(dir)).to.equal(false);
  });
});
