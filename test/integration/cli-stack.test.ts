/**
 * The rollout's CLI-driven stack (scripts/promotion/cli-stack.ts) against the real engine: the
 * toolchain's pulumi CLI and Node.js language host on a file backend, with a program of its own
 * that declares no resources (so no provider or cluster is needed).
 */
import { expect } from "chai";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CliStack, cliStack, EngineCommandError } from "../../scripts/promotion/cli-stack";
import { engineEnv, isConcurrentUpdate, latestUpdateNumber } from "../../scripts/promotion/engine";
import { DependencyUnavailable } from "../../scripts/promotion/errors";
import { makeLocalBackend, REPO_ROOT, toolPath } from "../../scripts/toolchain/env";
import { runSession } from "../../scripts/promotion/processes";

describe("the rollout's stack, driven by the engine's CLI", function () {
  this.timeout(300_000);
  let tmp: string;
  let env: Record<string, string>;
  let stack: CliStack;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-cli-stack-"));
    const project = path.join(tmp, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, "Pulumi.yaml"),
      "name: cli-stack-probe\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
    );
    // Outputs from config, and a failure on demand: enough to see an update's events and errors.
    fs.writeFileSync(
      path.join(project, "index.js"),
      [
        'const pulumi = require("@pulumi/pulumi");',
        "const config = new pulumi.Config();",
        'if (config.get("fail") === "yes") throw new Error("the program was told to fail");',
        'exports.version = config.get("version") ?? "none";',
        "exports.answer = 42;",
        "",
      ].join("\n"),
    );
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(project, "node_modules"));
    env = { PULUMI_BACKEND_URL: makeLocalBackend(path.join(tmp, "state")) };
    const init = await runSession(toolPath("pulumi"), ["stack", "init", "production", "--non-interactive"], {
      cwd: project,
      env: engineEnv({ env }),
    });
    expect(init.code, init.stderr).to.equal(0);
    stack = cliStack("production", { projectDir: project, env });
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("sets, reads and removes config, plain text as given", async function () {
    await stack.setConfig("cli-stack-probe:evidence", { value: '{"a": "x=y", "b": "-- --yes"}' });
    await stack.setConfig("cli-stack-probe:version", { value: "1.0.0" });
    const all = await stack.getAllConfig();
    expect(all["cli-stack-probe:evidence"]).to.deep.equal({
      value: '{"a": "x=y", "b": "-- --yes"}',
      secret: false,
    });
    expect(all["cli-stack-probe:version"].value).to.equal("1.0.0");
    await stack.removeConfig("cli-stack-probe:evidence");
    expect(await stack.getAllConfig()).to.not.have.property("cli-stack-probe:evidence");
    // A value that looks like a flag is still a value.
    await stack.setConfig("cli-stack-probe:flagLike", { value: "--yes" });
    expect((await stack.getAllConfig())["cli-stack-probe:flagLike"].value).to.equal("--yes");
  });

  it("sets several keys in one command and removes several, absent ones included", async function () {
    await stack.setAllConfig({
      "cli-stack-probe:a": { value: "k=v, and = more" },
      "cli-stack-probe:b": { value: '{"json": [1, 2]}' },
      "cli-stack-probe:c": { value: "--yes\nsecond line" },
      "cli-stack-probe:d": { value: "kept secret", secret: true },
    });
    const all = await stack.getAllConfig();
    expect(all["cli-stack-probe:a"].value).to.equal("k=v, and = more");
    expect(all["cli-stack-probe:b"].value).to.equal('{"json": [1, 2]}');
    expect(all["cli-stack-probe:c"].value).to.equal("--yes\nsecond line");
    expect(all["cli-stack-probe:d"]).to.deep.equal({ value: "kept secret", secret: true });
    await stack.removeAllConfig([
      "cli-stack-probe:a",
      "cli-stack-probe:b",
      "cli-stack-probe:c",
      "cli-stack-probe:d",
      "cli-stack-probe:never-set",
    ]);
    const after = await stack.getAllConfig();
    expect(after).to.not.have.property("cli-stack-probe:a");
    expect(after).to.not.have.property("cli-stack-probe:b");
  });

  it("runs an update whose events arrive while it runs, then reads its outputs and history", async function () {
    const events: EngineEvent[] = [];
    const output: string[] = [];
    await stack.up({ color: "never", onEvent: (e) => events.push(e), onOutput: (o) => output.push(o) });
    expect(
      events.some((e) => e.preludeEvent !== undefined),
      "a prelude event",
    ).to.equal(true);
    expect(
      events.some((e) => e.summaryEvent !== undefined),
      "a summary event",
    ).to.equal(true);
    // The engine's last event (a cancelEvent) ends its log; none is lost when the engine exits.
    expect(events[events.length - 1].cancelEvent, "the last event of the log").to.not.equal(undefined);
    expect(events.map((e) => e.sequence)).to.deep.equal(
      [...events.map((e) => e.sequence)].sort((a, b) => a - b),
    );
    expect(output.join("")).to.match(/Resources:/);
    const outputs = await stack.outputs();
    expect(outputs.version.value).to.equal("1.0.0");
    expect(outputs.answer.value).to.equal(42);
    const history = await stack.history();
    expect(history[0].kind).to.equal("update");
    expect(history[0].result).to.equal("succeeded");
    expect(history[0].startTime).to.be.instanceOf(Date);
    expect(history[0].config?.["cli-stack-probe:version"]?.value).to.equal("1.0.0");
    expect(await latestUpdateNumber(stack)).to.equal(history.length);
    expect(await stack.history(1)).to.have.length(1);
  });

  it("reports a failed update as the engine's exit code and output, in the Automation API's format", async function () {
    await stack.setConfig("cli-stack-probe:fail", { value: "yes" });
    try {
      const err = await stack.up({ color: "never" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(EngineCommandError);
      const e = err as EngineCommandError;
      expect(e.code).to.not.equal(0);
      expect(e.message).to.match(/^code: \d+\n stdout: /);
      expect(e.message).to.contain("the program was told to fail");
      expect(isConcurrentUpdate(e)).to.equal(false);
      const [last] = await stack.history(1);
      expect(last.result).to.equal("failed");
    } finally {
      await stack.removeConfig("cli-stack-probe:fail");
    }
  });

  it("keeps tags", async function () {
    await stack.setTag("churn-probe", "a value with spaces");
    expect((await stack.listTags())["churn-probe"]).to.equal("a value with spaces");
  });

  it("names a stack the backend does not have as a missing dependency", async function () {
    const missing = cliStack("nowhere", { projectDir: path.join(tmp, "project"), env });
    const err = await missing.getAllConfig().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(DependencyUnavailable);
    expect((err as Error).message).to.match(/^cannot select stack "nowhere" in .*no stack named/);
  });
});
