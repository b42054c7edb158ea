import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { driftProblems, findInvocations, Invocation, REPO_ROOT } from "../helpers/cli-invocations";

const WORKFLOWS_DIR = path.join(REPO_ROOT, ".github", "workflows");
const PRE_RUN_HOOK = "deployments/pre-run.sh";

interface Step {
  name?: string;
  run?: string;
}

/** Every project command in every `run:` step of every workflow. */
function workflowInvocations(): Invocation[] {
  const out: Invocation[] = [];
  for (const file of fs.readdirSync(WORKFLOWS_DIR).filter((f) => /\.ya?ml$/.test(f))) {
    const doc = yaml.load(fs.readFileSync(path.join(WORKFLOWS_DIR, file), "utf8")) as {
      jobs: Record<string, { steps?: Step[] }>;
    };
    for (const [jobId, job] of Object.entries(doc.jobs)) {
      (job.steps ?? []).forEach((step, i) => {
        if (step.run !== undefined) {
          const where = `.github/workflows/${file}: jobs.${jobId}.steps[${i}]${step.name ? ` (${step.name})` : ""}`;
          out.push(...findInvocations(step.run, where));
        }
      });
    }
  }
  return out;
}

function hookInvocations(): Invocation[] {
  return findInvocations(fs.readFileSync(path.join(REPO_ROOT, PRE_RUN_HOOK), "utf8"), PRE_RUN_HOOK);
}

describe("the commands in the workflows and the Deployments hook match the code", function () {
  this.timeout(60_000);
  const invocations = [...workflowInvocations(), ...hookInvocations()];

  it("finds the deploy, promote and preview commands it checks, with their flags", function () {
    const scripts = new Set(invocations.map((i) => i.script));
    expect([...scripts]).to.include.members([
      "deploy",
      "promote",
      "preview",
      "lint",
      "test:unit",
      "test:policy",
    ]);
    const promoteFlags = new Set(invocations.filter((i) => i.script === "promote").flatMap((i) => i.flags));
    expect([...promoteFlags]).to.include.members([
      "--dry-run",
      "--model-version",
      "--approved-by",
      "--prometheus-url",
      "--take-over-from",
    ]);
  });

  it("calls only npm scripts that package.json defines, with every flag accepted by the CLI it runs", async function () {
    const problems = await driftProblems(invocations);
    expect(problems, `drift between the callers and the code:\n  ${problems.join("\n  ")}`).to.deep.equal([]);
  });
});

describe("finding project commands in shell text", function () {
  it("reads the script and the flags after -- across a line continuation", function () {
    const [inv] = findInvocations('./dev promote -- --dry-run \\\n  --model-version "$V" --json', "t");
    expect(inv.script).to.equal("promote");
    expect(inv.flags).to.deep.equal(["--dry-run", "--model-version", "--json"]);
    expect(inv.strayArgs).to.deep.equal([]);
  });

  it("reads a flag passed through a ${VAR:+--flag value} expansion", function () {
    const [inv] = findInvocations('npm run promote -- --to production ${URL:+--prometheus-url "$URL"}', "t");
    expect(inv.flags).to.deep.equal(["--to", "--prometheus-url"]);
  });

  it("stops at the end of the command and at the closing quote of bash -c", function () {
    const found = findInvocations(
      "bash -c 'npm run deploy -- --stack staging' --verbose && npm run lint -- --fix; ./dev env",
      "t",
    );
    expect(found.map((i) => [i.script, i.flags])).to.deep.equal([
      ["deploy", ["--stack"]],
      ["lint", ["--fix"]],
    ]);
  });

  it("reports arguments given before -- as stray, since npm would take them", function () {
    const [inv] = findInvocations("npm run toolchain install --check", "t");
    expect(inv.strayArgs).to.deep.equal(["install", "--check"]);
  });

  it("ignores commands in comment lines", function () {
    expect(findInvocations("# npm run deploy -- --stack x\necho hi", "t")).to.deep.equal([]);
  });

  it("reports a script missing from package.json and a flag the CLI does not export", async function () {
    const problems = await driftProblems([
      { script: "no-such-script", flags: [], strayArgs: [], where: "w", text: "npm run no-such-script" },
      { script: "lint", flags: ["--fix"], strayArgs: [], where: "w", text: "npm run lint -- --fix" },
    ]);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.contain('npm script "no-such-script", which package.json does not define');
    expect(problems[1]).to.contain("is not a project CLI exporting FLAGS");
  });
});
