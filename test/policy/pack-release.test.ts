/**
 * The pack as it is published: its compiled JavaScript (dist/) is what its TypeScript
 * compiles to, and its files match the record of its version (policy/pack-releases.json).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { packDigest, POLICY_DIR, releaseProblem, RELEASES_FILE } from "../../scripts/policy-pack/release";

/** What `tsc -p tsconfig.policy.json` writes, file by file, relative to policy/. */
function compiledPack(): Map<string, string> {
  const configFile = path.join(POLICY_DIR, "..", "tsconfig.policy.json");
  const read = ts.readConfigFile(configFile, (f) => ts.sys.readFile(f));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, path.dirname(configFile));
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const out = new Map<string, string>();
  const result = program.emit(undefined, (file, text) => out.set(path.relative(POLICY_DIR, file), text));
  const errors = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, "\n"),
  );
  expect(errors, "the pack compiles without errors").to.deep.equal([]);
  return out;
}

function filesIn(dir: string, rel = ""): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const name = path.join(rel, e.name);
    return e.isDirectory() ? filesIn(dir, name) : [name];
  });
}

function copyPack(to: string): void {
  fs.cpSync(POLICY_DIR, to, {
    recursive: true,
    filter: (src) => path.relative(POLICY_DIR, src).split(path.sep)[0] !== "node_modules",
  });
}

describe("the policy pack as published", function () {
  this.timeout(120_000);
  let tmp: string;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-pack-release-"));
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("runs dist/, which is exactly what its TypeScript compiles to (npm run build:policy)", function () {
    const compiled = compiledPack();
    const onDisk = filesIn(path.join(POLICY_DIR, "dist")).map((f) => path.join("dist", f));
    expect(onDisk.sort(), "dist/ holds the compiled files and nothing else").to.deep.equal(
      [...compiled.keys()].sort(),
    );
    for (const [file, text] of compiled) {
      expect(
        fs.readFileSync(path.join(POLICY_DIR, file), "utf8"),
        `${file} is stale: run npm run build:policy`,
      ).to.equal(text);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "package.json"), "utf8")) as {
      main: string;
    };
    expect(pkg.main).to.equal("dist/index.js");
  });

  it("matches the record of its version in pack-releases.json", function () {
    expect(releaseProblem()).to.equal(undefined);
  });

  it("asks for a version bump when a file changes under a recorded version", function () {
    const dir = path.join(tmp, "changed");
    copyPack(dir);
    expect(releaseProblem(dir)).to.equal(undefined);
    fs.appendFileSync(path.join(dir, "policies", "image-pinning.ts"), "\n// a change\n");
    const version = (
      JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }
    ).version;
    expect(releaseProblem(dir)).to.equal(
      `the policy pack's files changed but its version is still ${version}, which was recorded with ` +
        `other content: bump "version" in policy/package.json, then run npm run policy:record`,
    );
  });

  it("asks for a record when the version is bumped but not recorded", function () {
    const dir = path.join(tmp, "bumped");
    copyPack(dir);
    const file = path.join(dir, "package.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), version: "99.0.0" }),
    );
    expect(releaseProblem(dir)).to.equal(
      `policy pack 99.0.0 is not recorded in policy/${RELEASES_FILE}: run npm run policy:record`,
    );
  });

  it("leaves the environments' config files and installed packages out of the digest", function () {
    const dir = path.join(tmp, "configs");
    copyPack(dir);
    const before = packDigest(dir);
    fs.writeFileSync(path.join(dir, "config", "extra.json"), "{}");
    fs.mkdirSync(path.join(dir, "node_modules", "x"), { recursive: true });
    fs.writeFileSync(path.join(dir, "node_modules", "x", "index.js"), "");
    expect(packDigest(dir)).to.equal(before);
  });
});
