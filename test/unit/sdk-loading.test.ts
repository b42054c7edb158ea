/**
 * policy/sdk-loading.ts: with it imported first, `@pulumi/pulumi` loads without the Automation
 * API and npm's dependency walker, and both still work when used. Each case runs in a Node.js
 * process of its own (this one has loaded the SDK long ago).
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as path from "path";
import { deferred } from "../../policy/sdk-loading";
import { REPO_ROOT } from "../../scripts/toolchain/env";

const LOADER = path.join(REPO_ROOT, "policy", "sdk-loading.ts");

/** Runs `script` in a fresh Node.js (through ts-node for the loader) and returns its JSON line. */
function inFreshNode(script: string, withLoader: boolean): Record<string, unknown> {
  const pre = withLoader ? `require(${JSON.stringify(LOADER)});\n` : "";
  const out = execFileSync(
    process.execPath,
    ["-r", require.resolve("ts-node/register/transpile-only"), "-e", pre + script],
    { cwd: REPO_ROOT, encoding: "utf8" },
  );
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

const COUNT = `
const pulumi = require("@pulumi/pulumi");
const count = (re) => Object.keys(require.cache).filter((f) => re.test(f)).length;
const before = { modules: Object.keys(require.cache).length, arborist: count(/@npmcli[\\\\/]arborist/), automation: count(/@pulumi[\\\\/]pulumi[\\\\/]automation[\\\\/]/) };
`;

describe("the SDK's unused parts load only when used (policy/sdk-loading.ts)", function () {
  this.timeout(60_000);

  it("loads @pulumi/pulumi without the Automation API and arborist, a third of the modules", function () {
    const without = inFreshNode(`${COUNT} console.log(JSON.stringify(before));`, false);
    const withIt = inFreshNode(`${COUNT} console.log(JSON.stringify(before));`, true);
    expect(without.arborist, "without the loader").to.be.greaterThan(0);
    expect(without.automation, "without the loader").to.be.greaterThan(0);
    expect(withIt.arborist).to.equal(0);
    expect(withIt.automation).to.equal(0);
    expect(withIt.modules as number).to.be.lessThan((without.modules as number) / 2);
  });

  it("loads each when first used: the Automation API through pulumi.automation, arborist through the closure packager", function () {
    const r = inFreshNode(
      `${COUNT}
const ws = typeof pulumi.automation.LocalWorkspace;
const afterAutomation = count(/@pulumi[\\\\/]pulumi[\\\\/]automation[\\\\/]/);
pulumi.runtime.computeCodePaths({ extraIncludePackages: ["js-yaml"] }).then((paths) => {
  console.log(JSON.stringify({ ...before, ws, afterAutomation, arboristAfter: count(/@npmcli[\\\\/]arborist/), paths: [...paths.keys()].filter((k) => k === "node_modules/js-yaml").length }));
});`,
      true,
    );
    expect(r.automation).to.equal(0);
    expect(r.ws).to.equal("function");
    expect(r.afterAutomation as number).to.be.greaterThan(0);
    expect(r.arboristAfter as number).to.be.greaterThan(0);
    expect(r.paths, "the package found through arborist").to.equal(1);
  });

  it("a stand-in loads once, on first use, and behaves as the module for reads, keys and writes", function () {
    let loads = 0;
    const real = { a: 1, f: () => 2 } as Record<string, unknown>;
    const m = deferred(() => {
      loads++;
      return real;
    }) as Record<string, unknown>;
    expect(m.__esModule).to.equal(true);
    expect(loads, "__esModule does not load").to.equal(0);
    expect(m.a).to.equal(1);
    expect((m.f as () => number)()).to.equal(2);
    expect(Object.keys(m)).to.deep.equal(["a", "f"]);
    expect("a" in m).to.equal(true);
    m.b = 3;
    expect(real.b).to.equal(3);
    expect(loads).to.equal(1);
  });
});
