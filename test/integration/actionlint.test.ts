import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT, toolPath } from "../../scripts/toolchain/env";

const WORKFLOWS_DIR = path.join(REPO_ROOT, ".github", "workflows");

function runActionlint(
  binary: string,
  cwd: string,
  files: string[],
): { status: number | null; output: string } {
  const r = spawnSync(binary, ["-no-color", ...files], { cwd, encoding: "utf8", timeout: 120_000 });
  if (r.error) {
    throw new Error(`could not run ${binary}: ${r.error.message}`);
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("actionlint on the GitHub Actions workflows", function () {
  this.timeout(180_000);
  let actionlint: string;
  let tmp: string;

  before(function () {
    // Fails (never skips) when the project's toolchain has not built actionlint.
    actionlint = toolPath("actionlint");
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-actionlint-"));
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("finds both workflows", function () {
    expect(fs.readdirSync(WORKFLOWS_DIR).sort()).to.include.members(["ci.yml", "deploy-model.yml"]);
  });

  it("reports no problem in any workflow", function () {
    const files = fs
      .readdirSync(WORKFLOWS_DIR)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => path.join(".github", "workflows", f));
    const { status, output } = runActionlint(actionlint, REPO_ROOT, files);
    expect(status, `actionlint found problems:\n${output}`).to.equal(0);
  });

  it("rejects a workflow that needs an undefined job and reads an undefined input", function () {
    const dir = path.join(tmp, ".github", "workflows");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, "broken.yml"),
      [
        "on:",
        "  workflow_dispatch:",
        "    inputs:",
        "      version:",
        "        type: string",
        "jobs:",
        "  deploy:",
        "    needs: build",
        "    runs-on: ubuntu-24.04",
        "    steps:",
        "      - run: echo ${{ inputs.model_version }}",
        "",
      ].join("\n"),
    );
    const { status, output } = runActionlint(actionlint, tmp, [
      path.join(".github", "workflows", "broken.yml"),
    ]);
    expect(status).to.equal(1);
    expect(output).to.match(/job "deploy" needs job "build" which does not exist/);
    expect(output).to.match(/property "model_version" is not defined/);
  });
});
