import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { REPO_ROOT } from "../helpers/cli-invocations";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Workflow = Record<string, any>;
type Job = Record<string, any>;
type Step = Record<string, any>;

const WORKFLOWS_DIR = path.join(REPO_ROOT, ".github", "workflows");

function load(file: string): Workflow {
  return yaml.load(fs.readFileSync(path.join(WORKFLOWS_DIR, file), "utf8")) as Workflow;
}

/** js-yaml reads the key `on` as the string "on" (YAML 1.2 core schema). */
function triggers(wf: Workflow): Record<string, any> {
  return wf.on as Record<string, any>;
}

function steps(job: Job): Step[] {
  return (job.steps ?? []) as Step[];
}

function runText(job: Job): string {
  return steps(job)
    .map((s) => (typeof s.run === "string" ? s.run : ""))
    .join("\n");
}

function allWorkflows(): [string, Workflow][] {
  return fs
    .readdirSync(WORKFLOWS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => [f, load(f)]);
}

const TOOLCHAIN_CACHE_PATHS = ["~/.cache/churn-model-cd", "~/go/pkg/mod", "~/.cache/go-build"];
const TOOLCHAIN_CACHE_KEY = "hashFiles('scripts/toolchain/**', 'package-lock.json')";

describe("the deploy-model workflow", function () {
  const wf = load("deploy-model.yml");
  const jobs = wf.jobs as Record<string, Job>;

  it("is dispatched by hand with a required model version and a staging|production choice", function () {
    const inputs = triggers(wf).workflow_dispatch.inputs;
    expect(Object.keys(triggers(wf))).to.deep.equal(["workflow_dispatch"]);
    expect(inputs.model_version).to.include({ required: true, type: "string" });
    expect(inputs.environment).to.include({ required: true, type: "choice" });
    expect(inputs.environment.options).to.deep.equal(["staging", "production"]);
  });

  it("runs the staging job only for staging, deploying with the project's deploy command", function () {
    expect(jobs.staging.if).to.equal("inputs.environment == 'staging'");
    expect(jobs.staging.environment).to.equal("staging");
    expect(runText(jobs.staging)).to.match(
      /\.\/dev deploy -- --stack staging --model-version "\$CHURN_MODEL_VERSION"/,
    );
  });

  it("decides the gate in a dry run before any reviewer is asked", function () {
    expect(jobs.gate.if).to.equal("inputs.environment == 'production'");
    expect(jobs.gate.environment).to.equal(undefined);
    expect(runText(jobs.gate)).to.match(
      /\.\/dev promote -- --dry-run .*--model-version "\$CHURN_MODEL_VERSION"/,
    );
    expect(jobs.production.needs).to.equal("gate");
  });

  it("promotes in the production environment, whose required reviewers are the approval", function () {
    expect(jobs.production.environment).to.equal("production");
    expect(runText(jobs.production)).to.match(
      /\.\/dev promote -- --from staging --to production --model-version "\$CHURN_MODEL_VERSION" --approved-by "\$APPROVED_BY"/,
    );
  });

  it("passes the approving reviewer's login, read from the run's deployment reviews, to --approved-by", function () {
    const approval = steps(jobs.production).find((s) => s.id === "approval");
    expect(approval, "a step with id approval").to.not.equal(undefined);
    expect(approval!.run).to.contain(
      'gh api "repos/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/approvals"',
    );
    expect(approval!.run).to.contain('select(.state == "approved")');
    expect(approval!.run).to.contain('.name == "production"');
    expect(approval!.run).to.match(/exit 4/);
    expect(approval!.env.GH_TOKEN).to.equal("${{ github.token }}");
    expect(jobs.production.permissions.actions).to.equal("read");
    const promote = steps(jobs.production).find((s) => s.id === "promote");
    expect(promote!.env.APPROVED_BY).to.equal("${{ steps.approval.outputs.login }}");
  });

  it("serialises deploys per environment without cancelling one in progress", function () {
    expect(jobs.staging.concurrency).to.deep.equal({
      group: "churn-model-deploy-staging",
      "cancel-in-progress": false,
    });
    expect(jobs.production.concurrency).to.deep.equal({
      group: "churn-model-deploy-production",
      "cancel-in-progress": false,
    });
  });

  it("gets AWS credentials only through OIDC with the role from a repository variable", function () {
    for (const id of ["staging", "gate", "production"]) {
      expect(jobs[id].permissions["id-token"], `${id} id-token`).to.equal("write");
      const aws = steps(jobs[id]).find((s) =>
        String(s.uses ?? "").startsWith("aws-actions/configure-aws-credentials@"),
      );
      expect(aws, `${id} configures AWS`).to.not.equal(undefined);
      expect(aws!.with["role-to-assume"]).to.equal("${{ vars.AWS_ROLE_ARN }}");
      expect(Object.keys(aws!.with)).to.not.include.members(["aws-access-key-id", "aws-secret-access-key"]);
    }
    expect(fs.readFileSync(path.join(WORKFLOWS_DIR, "deploy-model.yml"), "utf8")).to.not.match(
      /AWS_SECRET_ACCESS_KEY/,
    );
  });

  it("reads the evidence signing key only in the production-environment job", function () {
    for (const [id, job] of Object.entries(jobs)) {
      const mentions = JSON.stringify(job).includes("secrets.CHURN_EVIDENCE_PRIVATE_KEY");
      expect(mentions, `job ${id}`).to.equal(id === "production");
    }
    const promote = steps(jobs.production).find((s) => s.id === "promote");
    expect(promote!.env.CHURN_EVIDENCE_PRIVATE_KEY).to.equal("${{ secrets.CHURN_EVIDENCE_PRIVATE_KEY }}");
  });

  it("takes the Pulumi backend and its credentials from secrets and refuses to run without a backend", function () {
    for (const id of ["staging", "gate", "production"]) {
      const backend = steps(jobs[id]).find((s) => s.name === "Use the organisation's Pulumi backend");
      expect(backend, `${id} backend step`).to.not.equal(undefined);
      expect(backend!.env).to.deep.equal({
        BACKEND_URL: "${{ secrets.PULUMI_BACKEND_URL }}",
        ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}",
        PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
      });
      expect(backend!.run).to.match(/if \[ -z "\$BACKEND_URL" \]; then[^]*exit 2/);
    }
  });

  it("keeps the promoted production config as an artifact and commits it after a promotion or a rollback", function () {
    const upload = steps(jobs.production).find((s) =>
      String(s.uses ?? "").startsWith("actions/upload-artifact@"),
    );
    expect(upload!.with.path).to.equal("Pulumi.production.yaml");
    const record = steps(jobs.production).find((s) => s.name === "Record the promoted configuration in git");
    expect(record!.if).to.contain("steps.promote.outputs.exit-code == '0'");
    expect(record!.if).to.contain("steps.promote.outputs.exit-code == '5'");
    expect(record!.run).to.contain("git add Pulumi.production.yaml");
    expect(jobs.production.permissions.contents).to.equal("write");
  });

  it("keeps the workflow token read-only unless a job asks for more", function () {
    expect(wf.permissions).to.deep.equal({ contents: "read" });
  });
});

describe("the CI workflow", function () {
  const wf = load("ci.yml");
  const jobs = wf.jobs as Record<string, Job>;
  const allRuns = Object.values(jobs).map(runText).join("\n");

  it("runs on pushes to main and on pull requests", function () {
    expect(triggers(wf).push.branches).to.deep.equal(["main"]);
    expect(triggers(wf)).to.have.property("pull_request");
  });

  it("lints, runs actionlint, the unit and the policy tests", function () {
    for (const command of ["./dev lint", "./dev lint:workflows", "./dev test:unit", "./dev test:policy"]) {
      expect(allRuns).to.contain(command);
    }
  });

  it("previews both stacks with the policy pack through the preview command", function () {
    expect(jobs.preview.strategy.matrix.stack).to.deep.equal(["staging", "production"]);
    expect(jobs.preview.strategy["fail-fast"]).to.equal(false);
    const preview = steps(jobs.preview).find(
      (s) => typeof s.run === "string" && s.run.includes("./dev preview"),
    );
    expect(preview!.run).to.equal('./dev preview -- --stack "$STACK"');
    expect(preview!.env.STACK).to.equal("${{ matrix.stack }}");
  });

  it("runs the integration and end-to-end tests with the distribution's Prometheus", function () {
    const text = runText(jobs.integration);
    expect(text).to.contain("apt-get install -y --no-install-recommends prometheus");
    expect(text).to.contain("./dev test:integration");
    expect(text).to.contain("./dev test:e2e");
  });
});

describe("every workflow", function () {
  for (const [file, wf] of allWorkflows()) {
    const jobs = wf.jobs as Record<string, Job>;

    it(`${file}: caches the toolchain, Go modules and build cache keyed by the toolchain sources and the lockfile`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        if (!runText(job).includes("./dev ")) continue;
        const cache = steps(job).find((s) => String(s.uses ?? "").startsWith("actions/cache@"));
        expect(cache, `${file} job ${id} caches`).to.not.equal(undefined);
        expect(String(cache!.with.path).trim().split("\n")).to.deep.equal(TOOLCHAIN_CACHE_PATHS);
        expect(cache!.with.key).to.contain(TOOLCHAIN_CACHE_KEY);
      }
    });

    it(`${file}: never expands an expression inside a run script (inputs reach scripts through env)`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        steps(job).forEach((s, i) => {
          if (typeof s.run === "string") {
            expect(s.run, `${file} jobs.${id}.steps[${i}]`).to.not.contain("${{");
          }
        });
      }
    });

    it(`${file}: pins every action to a release tag`, function () {
      for (const job of Object.values(jobs)) {
        for (const s of steps(job)) {
          if (s.uses !== undefined) {
            expect(s.uses).to.match(/^[\w.-]+\/[\w.-]+@v\d+$/);
          }
        }
      }
    });

    it(`${file}: bounds every job with a timeout`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        expect(job["timeout-minutes"], `${file} job ${id}`).to.be.a("number");
      }
    });
  }
});
