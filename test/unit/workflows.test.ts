import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { KUBERNETES_PROVIDER_VERSION, PULUMI_VERSION } from "../../scripts/toolchain/components";
import { needsFor } from "../../scripts/toolchain/needs";
import { findInvocations, REPO_ROOT } from "../helpers/cli-invocations";

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

const uses = (s: Step, action: string) => String(s.uses ?? "").startsWith(`${action}@`);
const mentionsSecret = (s: Step) => JSON.stringify({ env: s.env, with: s.with }).includes("secrets.");

/** The tool groups a job's project commands need (scripts/toolchain/needs.ts). */
function jobNeeds(job: Job): Set<string> {
  const groups = new Set<string>();
  for (const s of steps(job)) {
    if (typeof s.run !== "string") continue;
    for (const inv of findInvocations(s.run, "")) {
      if (inv.script === "toolchain") continue;
      for (const g of needsFor(inv.script, inv.flags).groups) groups.add(g);
    }
  }
  return groups;
}

/** Steps that install or build: no secret may reach them. */
function isInstallStep(s: Step): boolean {
  const run = typeof s.run === "string" ? s.run : "";
  return (
    uses(s, "actions/checkout") ||
    uses(s, "actions/setup-node") ||
    uses(s, "actions/setup-go") ||
    uses(s, "actions/cache") ||
    uses(s, "pulumi/actions") ||
    /\bnpm (ci|install)\b|pulumi plugin install|\.\/dev setup |npm run toolchain/.test(run)
  );
}

/** Runs a step's script with bash as the runner would (bash -e), in `env`. */
function runStep(script: string, env: Record<string, string>): { status: number | null; output: string } {
  const r = spawnSync("bash", ["-e", "-o", "pipefail", "-c", script], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    encoding: "utf8",
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

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
      /npm run deploy -- --stack staging --model-version "\$CHURN_MODEL_VERSION"/,
    );
  });

  it("decides the gate in a dry run before any reviewer is asked", function () {
    expect(jobs.gate.if).to.equal("inputs.environment == 'production'");
    expect(jobs.gate.environment).to.equal(undefined);
    expect(runText(jobs.gate)).to.match(
      /npm run promote -- --dry-run .*--model-version "\$CHURN_MODEL_VERSION"/,
    );
    expect(jobs.production.needs).to.equal("gate");
  });

  it("promotes in the production environment, whose required reviewers are the approval", function () {
    expect(jobs.production.environment).to.equal("production");
    expect(runText(jobs.production)).to.match(
      /npm run promote -- --from staging --to production --model-version "\$CHURN_MODEL_VERSION" --approved-by "\$APPROVED_BY"/,
    );
  });

  it("passes the approving reviewer's login, read from the run's deployment reviews, to --approved-by", function () {
    const approval = steps(jobs.production).find((s) => s.id === "approval");
    expect(approval, "a step with id approval").to.not.equal(undefined);
    expect(approval!.run).to.contain(
      'gh api "repos/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/approvals"',
    );
    expect(approval!.env.GH_TOKEN).to.equal("${{ github.token }}");
    expect(jobs.production.permissions.actions).to.equal("read");
    const promote = steps(jobs.production).find((s) => s.id === "promote");
    expect(promote!.env.APPROVED_BY).to.equal("${{ steps.approval.outputs.login }}");
  });

  it("takes signed approvals as an optional input, passed to promote only as $CHURN_APPROVALS beside the reviewer", function () {
    const input = triggers(wf).workflow_dispatch.inputs.approval;
    expect(input).to.include({ required: false, type: "string", default: "" });
    const promote = steps(jobs.production).find((s) => s.id === "promote")!;
    expect(promote.env.CHURN_APPROVALS).to.equal("${{ inputs.approval }}");
    // Never interpolated into a script: only the promote step's environment names the input.
    for (const [id, job] of Object.entries(jobs)) {
      for (const s of steps(job)) {
        expect(s.run ?? "", `${id}: ${s.name ?? s.uses}`).to.not.contain("inputs.approval");
        const inEnv = JSON.stringify(s.env ?? {}).includes("inputs.approval");
        expect(inEnv, `${id}: ${s.name ?? s.uses}`).to.equal(id === "production" && s.id === "promote");
      }
    }
  });

  describe("the take_over_from input, for a lost runner's lock", function () {
    let bin: string;
    let args: string;

    before(function () {
      bin = fs.mkdtempSync(path.join(os.tmpdir(), "churn-wf-npm-"));
      args = path.join(bin, "args");
      // A stand-in npm that records its arguments, one a line, and succeeds.
      fs.writeFileSync(path.join(bin, "npm"), `#!/bin/sh\nprintf '%s\\n' "$@" > '${args}'\n`, {
        mode: 0o755,
      });
    });

    after(function () {
      fs.rmSync(bin, { recursive: true, force: true });
    });

    function promote(takeOverFrom: string): {
      status: number | null;
      output: string;
      argv: string[] | undefined;
    } {
      fs.rmSync(args, { force: true });
      const step = steps(jobs.production).find((s) => s.id === "promote")!;
      const r = runStep(step.run as string, {
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_BACKEND_URL: "s3://state",
        CHURN_MODEL_VERSION: "1.4.0",
        APPROVED_BY: "bob",
        TAKE_OVER_FROM: takeOverFrom,
        GITHUB_OUTPUT: path.join(bin, "output"),
      });
      const argv = fs.existsSync(args) ? fs.readFileSync(args, "utf8").trimEnd().split("\n") : undefined;
      return { ...r, argv };
    }

    it("is an optional string input, passed to the promote step only through its environment", function () {
      const input = triggers(wf).workflow_dispatch.inputs.take_over_from;
      expect(input).to.include({ required: false, type: "string", default: "" });
      const promoteStep = steps(jobs.production).find((s) => s.id === "promote")!;
      expect(promoteStep.env.TAKE_OVER_FROM).to.equal("${{ inputs.take_over_from }}");
      for (const [id, job] of Object.entries(jobs)) {
        for (const s of steps(job)) {
          expect(s.run ?? "", `${id}: ${s.name ?? s.uses}`).to.not.contain("inputs.take_over_from");
          const inEnv = JSON.stringify(s.env ?? {}).includes("inputs.take_over_from");
          expect(inEnv, `${id}: ${s.name ?? s.uses}`).to.equal(id === "production" && s.id === "promote");
        }
      }
    });

    it("passes a host name to promote as --take-over-from, as one argument", function () {
      const r = promote("runner-7.internal");
      expect(r.status, r.output).to.equal(0);
      expect(r.argv!.slice(-2)).to.deep.equal(["--take-over-from", "runner-7.internal"]);
    });

    it("passes no --take-over-from when the input is empty", function () {
      const r = promote("");
      expect(r.status, r.output).to.equal(0);
      expect(r.argv).to.include("--approved-by");
      expect(r.argv).to.not.include("--take-over-from");
    });

    for (const bad of ["runner 7", "$(id)", "runner-7;rm -rf /", "--dry-run", "-runner", "a\nb"]) {
      it(`refuses ${JSON.stringify(bad)} with exit 2 before running anything`, function () {
        const r = promote(bad);
        expect(r.status, r.output).to.equal(2);
        expect(r.output).to.contain("The take_over_from input must be a host name");
        expect(r.argv, "promote never ran").to.equal(undefined);
      });
    }
  });

  describe("the approval step, run with a stand-in gh on the API's documented answer", function () {
    let dir: string;
    const script = () => steps(jobs.production).find((s) => s.id === "approval")!.run as string;

    before(function () {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-approval-"));
      // `gh api PATH --jq FILTER` prints FILTER applied to the reviews in $REVIEWS (raw strings, as gh does).
      fs.writeFileSync(
        path.join(dir, "gh"),
        '#!/bin/sh\n[ "$1" = api ] && [ "$3" = --jq ] || { echo "unexpected gh $*" >&2; exit 9; }\n' +
          'echo "$2" >> "$GH_CALLS"\nexec jq -r "$4" "$REVIEWS"\n',
        { mode: 0o755 },
      );
    });

    after(function () {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    function review(login: string, state = "approved", environment = "production") {
      return { state, environments: [{ name: environment }], user: { login } };
    }

    function approve(reviews: unknown[], actor: string, triggeringActor = actor) {
      const reviewsFile = path.join(dir, "reviews.json");
      const output = path.join(dir, "output");
      const calls = path.join(dir, "calls");
      fs.writeFileSync(reviewsFile, JSON.stringify(reviews));
      fs.writeFileSync(output, "");
      fs.writeFileSync(calls, "");
      const r = runStep(script(), {
        PATH: `${dir}:${process.env.PATH}`,
        REVIEWS: reviewsFile,
        GH_CALLS: calls,
        GITHUB_OUTPUT: output,
        GITHUB_REPOSITORY: "acme/churn",
        GITHUB_RUN_ID: "42",
        GITHUB_ACTOR: actor,
        GITHUB_TRIGGERING_ACTOR: triggeringActor,
      });
      return { ...r, outputs: fs.readFileSync(output, "utf8"), calls: fs.readFileSync(calls, "utf8") };
    }

    it("passes on an approval by another reviewer and outputs that login", function () {
      const r = approve([review("bob")], "alice");
      expect(r.status, r.output).to.equal(0);
      expect(r.outputs).to.equal("login=bob\n");
      expect(r.calls).to.equal("repos/acme/churn/actions/runs/42/approvals\n");
    });

    it("refuses (exit 4) when the only approval is by the actor who started the run", function () {
      const r = approve([review("alice")], "alice");
      expect(r.status).to.equal(4);
      expect(r.output).to.contain("approved only by the actor who started this run (alice");
      expect(r.outputs).to.equal("");
    });

    it("refuses when the only approval is by the actor who re-ran it", function () {
      const r = approve([review("carol")], "alice", "carol");
      expect(r.status).to.equal(4);
    });

    it("takes another reviewer's approval over a later self-approval", function () {
      const r = approve([review("bob"), review("alice")], "alice");
      expect(r.status, r.output).to.equal(0);
      expect(r.outputs).to.equal("login=bob\n");
    });

    it("refuses without an approval of the production environment", function () {
      for (const reviews of [[], [review("bob", "rejected")], [review("bob", "approved", "staging")]]) {
        const r = approve(reviews, "alice");
        expect(r.status, JSON.stringify(reviews)).to.equal(4);
        expect(r.output).to.contain("No approved review of the production environment");
      }
    });
  });

  it("runs every job only from the default branch: the first step refuses any other ref (exit 2)", function () {
    for (const [id, job] of Object.entries(jobs)) {
      const first = steps(job)[0];
      expect(first.name, `${id}: first step`).to.equal("Refuse a run from any branch but the default branch");
      expect(first.env.DEFAULT_BRANCH).to.equal("${{ github.event.repository.default_branch }}");
      const on = (ref: string) => runStep(first.run, { GITHUB_REF: ref, DEFAULT_BRANCH: "main" }).status;
      expect(on("refs/heads/main"), `${id} on main`).to.equal(0);
      expect(on("refs/heads/feature"), `${id} on a branch`).to.equal(2);
      expect(on("refs/tags/v1.0.0"), `${id} on a tag`).to.equal(2);
      expect(on("refs/heads/main-copy"), `${id} on a look-alike`).to.equal(2);
    }
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

  it("gets AWS credentials only through OIDC with the role from a repository or environment variable", function () {
    for (const id of ["staging", "gate", "production"]) {
      expect(jobs[id].permissions["id-token"], `${id} id-token`).to.equal("write");
      const aws = steps(jobs[id]).find((s) => uses(s, "aws-actions/configure-aws-credentials"));
      expect(aws, `${id} configures AWS`).to.not.equal(undefined);
      expect(aws!.with["role-to-assume"]).to.equal("${{ vars.AWS_ROLE_ARN }}");
      expect(Object.keys(aws!.with)).to.not.include.members(["aws-access-key-id", "aws-secret-access-key"]);
    }
    expect(fs.readFileSync(path.join(WORKFLOWS_DIR, "deploy-model.yml"), "utf8")).to.not.match(
      /AWS_SECRET_ACCESS_KEY/,
    );
  });

  it("gives the evidence signing key to the promote step only", function () {
    expect(JSON.stringify(wf.env ?? {})).to.not.contain("CHURN_EVIDENCE_PRIVATE_KEY");
    for (const [id, job] of Object.entries(jobs)) {
      expect(JSON.stringify(job.env ?? {}), `job ${id} env`).to.not.contain("CHURN_EVIDENCE_PRIVATE_KEY");
      for (const s of steps(job)) {
        const mentions = JSON.stringify(s).includes("CHURN_EVIDENCE_PRIVATE_KEY");
        expect(mentions, `${id}: ${s.name ?? s.uses}`).to.equal(id === "production" && s.id === "promote");
      }
    }
    const promote = steps(jobs.production).find((s) => s.id === "promote");
    expect(promote!.env.CHURN_EVIDENCE_PRIVATE_KEY).to.equal("${{ secrets.CHURN_EVIDENCE_PRIVATE_KEY }}");
    expect(promote!.run).to.not.match(/\.\/dev |npm ci|npm install/);
  });

  it("gives each job its own backend credentials: staging's, production's, read-only for the gate", function () {
    const tokenOf: Record<string, string> = {
      staging: "PULUMI_STAGING_TOKEN",
      gate: "PULUMI_READ_TOKEN",
      production: "PULUMI_PRODUCTION_TOKEN",
    };
    const all = Object.values(tokenOf);
    for (const [id, job] of Object.entries(jobs)) {
      const text = JSON.stringify(job);
      for (const token of all) {
        expect(text.includes(`secrets.${token}`), `${id} uses ${token}`).to.equal(token === tokenOf[id]);
      }
      expect(text, `${id} never reads a generic token`).to.not.contain("secrets.PULUMI_ACCESS_TOKEN");
      const command = steps(job).find((s) => s.env?.PULUMI_ACCESS_TOKEN !== undefined);
      expect(command!.env).to.include({
        PULUMI_BACKEND_URL: "${{ secrets.PULUMI_BACKEND_URL }}",
        PULUMI_ACCESS_TOKEN: `\${{ secrets.${tokenOf[id]} }}`,
        PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
      });
      expect(command!.run, `${id} refuses to run without a backend`).to.match(
        /if \[ -z "\$PULUMI_BACKEND_URL" \]; then[^]*exit 2/,
      );
      expect(command!.run).to.match(/npm run (deploy|promote) /);
    }
    expect(jobs.staging.environment).to.equal("staging");
    expect(jobs.production.environment).to.equal("production");
  });

  it("keeps the promoted production config as an artifact and commits it after a promotion or a rollback", function () {
    const upload = steps(jobs.production).find((s) => uses(s, "actions/upload-artifact"));
    expect(upload!.with.path).to.equal("Pulumi.production.yaml");
    const record = steps(jobs.production).find((s) => s.name === "Record the promoted configuration in git");
    expect(record!.if).to.contain("steps.promote.outputs.exit-code == '0'");
    expect(record!.if).to.contain("steps.promote.outputs.exit-code == '5'");
    expect(record!.run).to.contain("git add Pulumi.production.yaml");
    expect(jobs.production.permissions.contents).to.equal("write");
  });

  it("keeps the workflow token read-only unless a job asks for more, and the gate read-only", function () {
    expect(wf.permissions).to.deep.equal({ contents: "read" });
    expect(jobs.gate.permissions.contents).to.equal("read");
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

  it("type-checks, lints, runs actionlint, the unit and the policy tests", function () {
    for (const command of [
      "./dev build",
      "./dev lint",
      "./dev lint:workflows",
      "./dev test:unit",
      "./dev test:policy",
    ]) {
      expect(allRuns).to.contain(command);
    }
  });

  it("previews both stacks with the policy pack through the preview command, with read-only credentials", function () {
    expect(jobs.preview.strategy.matrix.stack).to.deep.equal(["staging", "production"]);
    expect(jobs.preview.strategy["fail-fast"]).to.equal(false);
    const preview = steps(jobs.preview).find(
      (s) => typeof s.run === "string" && s.run.includes("npm run preview"),
    );
    expect(preview!.run).to.contain('npm run preview -- --stack "$STACK"');
    expect(preview!.env).to.include({
      STACK: "${{ matrix.stack }}",
      PULUMI_ACCESS_TOKEN: "${{ github.event_name != 'pull_request' && secrets.PULUMI_READ_TOKEN || '' }}",
    });
    expect(preview!.run).to.match(
      /if \[ -z "\$PULUMI_BACKEND_URL" \]; then[^]*unset PULUMI_BACKEND_URL PULUMI_ACCESS_TOKEN PULUMI_CONFIG_PASSPHRASE/,
    );
    expect(JSON.stringify(wf)).to.not.match(
      /secrets\.PULUMI_(STAGING|PRODUCTION)_TOKEN|secrets\.PULUMI_ACCESS_TOKEN/,
    );
    expect(JSON.stringify(wf)).to.not.contain("CHURN_EVIDENCE_PRIVATE_KEY");
  });

  it("gives a pull request's code no backend credentials, passphrase or cloud role, even from a branch of this repository", function () {
    const guarded = (secret: string) =>
      `\${{ github.event_name != 'pull_request' && secrets.${secret} || '' }}`;
    for (const job of Object.values(jobs)) {
      for (const s of steps(job)) {
        for (const [name, value] of Object.entries(s.env ?? {})) {
          if (typeof value !== "string" || !value.includes("secrets.")) continue;
          const secret = /secrets\.([A-Z_]+)/.exec(value)![1];
          expect(value, `${s.name}: ${name}`).to.equal(guarded(secret));
        }
      }
    }
    const aws = steps(jobs.preview).find((s) => uses(s, "aws-actions/configure-aws-credentials"));
    expect(aws!.if).to.contain("github.event_name != 'pull_request'");
    expect(aws!.if).to.not.contain("||");
    expect(triggers(wf)).to.have.property("pull_request");
  });

  it("runs the integration and end-to-end tests, set up by ./dev (which installs Debian's Prometheus)", function () {
    const text = runText(jobs.integration);
    expect(text).to.contain("./dev setup test");
    expect(text).to.contain("./dev test:integration");
    expect(text).to.contain("./dev test:e2e");
    expect([...jobNeeds(jobs.integration)]).to.include("controlplane");
  });
});

describe("every workflow", function () {
  for (const [file, wf] of allWorkflows()) {
    const jobs = wf.jobs as Record<string, Job>;

    it(`${file}: caches no Go module or build cache, and at most the built binaries`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        for (const s of steps(job).filter((x) => uses(x, "actions/cache"))) {
          const paths = String(s.with.path).trim().split("\n");
          expect(paths, `${file} job ${id}`).to.deep.equal(["~/.cache/churn-model-cd/tools"]);
          expect(s.with.key).to.contain("hashFiles('scripts/toolchain/**')");
        }
        expect(JSON.stringify(job), `${file} job ${id}`).to.not.match(/go\/pkg\/mod|go-build/);
        for (const s of steps(job).filter((x) => uses(x, "actions/setup-go"))) {
          expect(s.with.cache, `${file} job ${id}: setup-go's own Go cache`).to.equal(false);
        }
      }
    });

    it(`${file}: uses Go only in jobs that build the control plane or actionlint, and caches their binaries`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        const needs = jobNeeds(job);
        const builds = needs.has("controlplane") || (needs.has("lint") && !needs.has("engine"));
        const go = steps(job).some((s) => uses(s, "actions/setup-go"));
        const cache = steps(job).some((s) => uses(s, "actions/cache"));
        expect(go, `${file} job ${id} (needs ${[...needs].join(", ") || "nothing"}) sets up Go`).to.equal(
          builds,
        );
        expect(cache, `${file} job ${id} caches built binaries`).to.equal(builds);
      }
    });

    it(`${file}: every job that runs the engine without building it installs the pinned Pulumi CLI and provider`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        const needs = jobNeeds(job);
        const engineOnly = needs.has("engine") && !needs.has("controlplane");
        const all = steps(job);
        const cli = all.findIndex((s) => uses(s, "pulumi/actions"));
        if (!engineOnly) {
          expect(cli, `${file} job ${id} installs no Pulumi CLI`).to.equal(-1);
          continue;
        }
        expect(cli, `${file} job ${id} installs the Pulumi CLI`).to.be.greaterThan(-1);
        expect(all[cli].uses).to.equal("pulumi/actions@v6");
        expect(all[cli].with, "install only, the pinned version").to.deep.equal({
          "pulumi-version": PULUMI_VERSION,
        });
        const plugin = all.findIndex(
          (s) => s.run === `pulumi plugin install resource kubernetes ${KUBERNETES_PROVIDER_VERSION}`,
        );
        expect(plugin, `${file} job ${id} installs the pinned provider after the CLI`).to.be.greaterThan(cli);
        const setup = all.findIndex((s) => typeof s.run === "string" && s.run.startsWith("./dev setup "));
        expect(setup, `${file} job ${id} sets up after the plugin`).to.be.greaterThan(plugin);
        const command = all.findIndex(
          (s) => typeof s.run === "string" && /npm run (deploy|preview|promote) /.test(s.run),
        );
        expect(command, `${file} job ${id} runs its command after the set-up`).to.be.greaterThan(setup);
      }
    });

    it(`${file}: installs and builds in steps without secrets, before any step that has one`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        expect(JSON.stringify(job.env ?? {}), `${file} job ${id} env`).to.not.contain("secrets.");
        const all = steps(job);
        const lastInstall = all.map(isInstallStep).lastIndexOf(true);
        all.forEach((s, i) => {
          if (isInstallStep(s)) {
            expect(
              mentionsSecret(s),
              `${file} ${id}: install step ${s.name ?? s.uses} has a secret`,
            ).to.equal(false);
          } else if (mentionsSecret(s)) {
            expect(i, `${file} ${id}: ${s.name} has a secret before the installs end`).to.be.greaterThan(
              lastInstall,
            );
          }
        });
      }
      expect(JSON.stringify(wf.env ?? {})).to.not.contain("secrets.");
    });

    it(`${file}: never writes a secret into GITHUB_ENV (only the kubeconfig's path)`, function () {
      for (const [id, job] of Object.entries(jobs)) {
        for (const s of steps(job).filter((x) => mentionsSecret(x) && typeof x.run === "string")) {
          const writes = (s.run as string).split("\n").filter((l) => l.includes("GITHUB_ENV"));
          for (const line of writes) {
            expect(line.trim(), `${file} ${id}: ${s.name}`).to.equal(
              'echo "KUBECONFIG=$kubeconfig" >> "$GITHUB_ENV"',
            );
          }
        }
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
