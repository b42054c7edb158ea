/**
 * A missing production stack is never created implicitly: `upsertStack` refuses it unless
 * `createProduction: true`. The engine here is a stand-in `pulumi` that records its
 * arguments and answers "no stack named …" to every `stack select`, so no engine is needed.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isProductionStack, upsertStack } from "../../scripts/promotion/engine";
import { historyArgs, parseHistory } from "../../scripts/promotion/engine-cli";
import { BadInput } from "../../scripts/promotion/errors";

// The engine's environment is allow-listed, so the log's path is written into the script.
const fakePulumi = (log: string): string => `#!/bin/sh
echo "$*" >> '${log}'
case "$1 $2" in
  "version "*) echo "v3.150.0"; exit 0;;
  "stack select") echo "error: no stack named '$4' found" >&2; exit 255;;
esac
exit 0
`;

describe("engine: production stacks", function () {
  let tmp: string;
  let project: string;
  let log: string;
  const saved: Record<string, string | undefined> = {};

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-engine-"));
    log = path.join(tmp, "pulumi.log");
    fs.mkdirSync(path.join(tmp, "bin"));
    fs.writeFileSync(path.join(tmp, "bin", "pulumi"), fakePulumi(log), { mode: 0o755 });
    project = path.join(tmp, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: churn-model\nruntime: nodejs\n");
    fs.writeFileSync(
      path.join(project, "Pulumi.prod-eu.yaml"),
      "config:\n  churn-model:environment: production\n",
    );
    fs.writeFileSync(
      path.join(project, "Pulumi.staging.yaml"),
      "config:\n  churn-model:environment: staging\n",
    );
    for (const k of ["PATH", "CHURN_CACHE", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"])
      saved[k] = process.env[k];
    // An empty tool cache, so the stand-in on PATH is the project's pulumi.
    process.env.CHURN_CACHE = path.join(tmp, "cache");
    process.env.PATH = `${path.join(tmp, "bin")}${path.delimiter}${process.env.PATH ?? ""}`;
    process.env.PULUMI_BACKEND_URL = `file://${path.join(tmp, "state")}`;
    process.env.PULUMI_CONFIG_PASSPHRASE = "unit-test";
  });

  after(function () {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(function () {
    fs.rmSync(log, { force: true });
  });

  function calls(): string[] {
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
  }

  describe("isProductionStack", function () {
    const cases: [string, boolean][] = [
      ["production", true],
      ["acme/production", true],
      ["org/churn-model/production", true],
      ["prod-eu", true], // its Pulumi.prod-eu.yaml says environment: production
      ["acme/prod-eu", true],
      ["staging", false],
      ["production-preview", false],
      ["preview-42", false], // no stack file at all
    ];
    for (const [name, expected] of cases) {
      it(`${name} → ${expected}`, function () {
        expect(isProductionStack(name, project)).to.equal(expected);
      });
    }
  });

  for (const name of ["production", "acme/production", "prod-eu"]) {
    it(`refuses to create the missing production stack "${name}" and runs no stack init`, async function () {
      const err = await upsertStack(name, { projectDir: project }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(BadInput);
      expect((err as Error).message).to.contain(`stack "${name}" does not exist`);
      expect((err as Error).message).to.contain("never created implicitly");
      expect(calls().some((c) => c.startsWith("stack select"))).to.equal(true);
      expect(calls().filter((c) => c.startsWith("stack init"))).to.deep.equal([]);
    });
  }

  it("creates a missing production stack with createProduction: true", async function () {
    const stack = await upsertStack("production", { projectDir: project, createProduction: true });
    expect(stack.name).to.equal("production");
    expect(calls().filter((c) => c.startsWith("stack init"))).to.have.length(1);
  });

  it("creates a missing staging stack without the flag", async function () {
    await upsertStack("staging", { projectDir: project });
    expect(calls().filter((c) => c.startsWith("stack init"))).to.have.length(1);
  });
});

describe("the engine's history command", function () {
  it("asks for every update without a page size, else a whole page from 1, secrets only when asked", function () {
    expect(historyArgs(false)).to.deep.equal(["stack", "history", "--json"]);
    expect(historyArgs(true, 1)).to.deep.equal([
      "stack",
      "history",
      "--json",
      "--show-secrets",
      "--page-size",
      "1",
      "--page",
      "1",
    ]);
    expect(historyArgs(false, 2.7, 0)).to.deep.equal([
      "stack",
      "history",
      "--json",
      "--page-size",
      "2",
      "--page",
      "1",
    ]);
    expect(historyArgs(false, 0)).to.deep.equal(["stack", "history", "--json"]);
  });

  it("reads the updates' times as dates", function () {
    const [u] = parseHistory(
      '[{"version":0,"kind":"update","startTime":"2026-12-02T10:00:00Z","endTime":"2026-12-02T10:01:00Z"}]',
    );
    expect(u.startTime).to.be.instanceOf(Date);
    expect(u.endTime?.toISOString()).to.equal("2026-12-02T10:01:00.000Z");
  });
});
