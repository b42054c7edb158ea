/**
 * The compiled JavaScript the CLIs and the program run (issue 18): `npm run build` writes every
 * included source to dist/ with a source map that names the .ts file, so stack traces under
 * `node --enable-source-maps` name TypeScript lines; the npm scripts run that output; and the
 * staleness stamp ./dev and the engine check changes with any source, tsconfig or lock file.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildConfig, compile } from "../../scripts/toolchain/compile";
import { REPO_ROOT } from "../../scripts/toolchain/env";
import { packageScripts } from "../helpers/cli-invocations";

describe("the build (npm run build, dist/)", function () {
  this.timeout(180_000);
  let tmp: string;
  let out: string;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-build-"));
    out = path.join(tmp, "dist");
    compile(undefined, out);
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("compiles every included source, each with a source map naming its .ts file", function () {
    const { fileNames } = buildConfig();
    expect(fileNames.length).to.be.greaterThan(100);
    for (const file of fileNames) {
      const js = path.join(out, path.relative(REPO_ROOT, file)).replace(/\.ts$/, ".js");
      expect(fs.existsSync(js), js).to.equal(true);
      const map = JSON.parse(fs.readFileSync(`${js}.map`, "utf8")) as { sources: string[] };
      expect(map.sources.map((s) => path.resolve(path.dirname(js), s))).to.deep.equal([file]);
      expect(fs.readFileSync(js, "utf8")).to.match(
        new RegExp(`//# sourceMappingURL=${path.basename(js)}\\.map$`),
      );
    }
  });

  it("gives stack traces that name the TypeScript line under --enable-source-maps", function () {
    const parsers = path.join(out, "scripts", "promotion", "parsers.js");
    const r = spawnSync(
      process.execPath,
      ["--enable-source-maps", "-e", `require(${JSON.stringify(parsers)}).parseDurationMs("soon", "--bake")`],
      { encoding: "utf8" },
    );
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/scripts\/promotion\/parsers\.ts:\d+/);
  });

  it("is what the CLI npm scripts run (node --enable-source-maps dist/…js of an included source)", function () {
    const included = new Set(buildConfig().fileNames.map((f) => path.relative(REPO_ROOT, f)));
    const scripts = packageScripts();
    for (const name of ["promote", "deploy", "preview", "sandbox", "demo", "bench"]) {
      const m = /^node --enable-source-maps dist\/(\S+)\.js$/.exec(scripts[name] ?? "");
      expect(m, `npm script ${name}: ${scripts[name]}`).to.not.equal(null);
      expect(included.has(`${m![1]}.ts`), `${m![1]}.ts is compiled`).to.equal(true);
    }
  });

  it("makes the Pulumi program the compiled entry of stacks/index.ts, without the language host's TypeScript", function () {
    const text = fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8");
    expect(text).to.match(/^main: dist\/stacks\/index\.js$/m);
    expect(text).to.match(/^ {4}typescript: false$/m);
  });

  describe("the staleness stamp (scripts/toolchain/build-stamp.sh)", function () {
    let repo: string;
    const stamp = (cmd: string) =>
      spawnSync("bash", [path.join(repo, "scripts", "toolchain", "build-stamp.sh"), cmd], {
        encoding: "utf8",
      });

    beforeEach(function () {
      repo = fs.mkdtempSync(path.join(tmp, "repo-"));
      for (const d of ["scripts/toolchain", "stacks", "infra", "policy/contract", "policy/node_modules/x"]) {
        fs.mkdirSync(path.join(repo, d), { recursive: true });
      }
      fs.copyFileSync(
        path.join(REPO_ROOT, "scripts", "toolchain", "build-stamp.sh"),
        path.join(repo, "scripts", "toolchain", "build-stamp.sh"),
      );
      for (const f of ["tsconfig.json", "tsconfig.build.json", "package-lock.json"]) {
        fs.writeFileSync(path.join(repo, f), "{}\n");
      }
      fs.writeFileSync(path.join(repo, "stacks", "index.ts"), "export const a = 1;\n");
      fs.writeFileSync(path.join(repo, "policy", "contract", "index.ts"), "export const b = 2;\n");
      expect(stamp("write").status).to.equal(0);
    });

    it("is current right after a build", function () {
      expect(stamp("check").status).to.equal(0);
    });

    for (const [what, change] of [
      ["a source changes", (r: string) => fs.appendFileSync(path.join(r, "stacks", "index.ts"), "// x\n")],
      ["a source is added", (r: string) => fs.writeFileSync(path.join(r, "infra", "new.ts"), "export {};\n")],
      [
        "a policy source changes",
        (r: string) => fs.appendFileSync(path.join(r, "policy", "contract", "index.ts"), " "),
      ],
      [
        "the build's tsconfig changes",
        (r: string) => fs.writeFileSync(path.join(r, "tsconfig.build.json"), "{ }\n"),
      ],
      ["the lock file changes", (r: string) => fs.writeFileSync(path.join(r, "package-lock.json"), "{ }\n")],
    ] as const) {
      it(`is stale when ${what}`, function () {
        change(repo);
        expect(stamp("check").status).to.not.equal(0);
      });
    }

    it("ignores what the build does not read (a dependency's files)", function () {
      fs.writeFileSync(path.join(repo, "policy", "node_modules", "x", "index.ts"), "export {};\n");
      expect(stamp("check").status).to.equal(0);
    });

    it("is stale without a build", function () {
      fs.rmSync(path.join(repo, "dist"), { recursive: true, force: true });
      expect(stamp("check").status).to.not.equal(0);
    });
  });
});
