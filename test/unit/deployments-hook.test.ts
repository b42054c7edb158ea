import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const HOOK = path.join("deployments", "pre-run.sh");

/**
 * Runs deployments/pre-run.sh with stand-ins for `pulumi` and `npm` first on PATH that log
 * their arguments; the `pulumi env run` stand-in runs its command with the values a release
 * environment would export.
 */
function runHook(
  tmp: string,
  stack: string,
  env: Record<string, string>,
): { status: number | null; calls: string[]; output: string } {
  const bin = path.join(tmp, "bin");
  const log = path.join(tmp, "calls.log");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(log, "");
  fs.writeFileSync(
    path.join(bin, "pulumi"),
    [
      "#!/usr/bin/env bash",
      `printf 'pulumi %s\\n' "$*" >> ${JSON.stringify(log)}`,
      'if [ "$1 $2" = "config get" ]; then echo 1.3.0; fi',
      'if [ "$1 $2" = "env run" ]; then',
      "  shift 3",
      '  [ "$1" = -- ] && shift',
      "  export CHURN_MODEL_VERSION=1.4.2 CHURN_APPROVED_BY=pulumi-esc:acme-ml/churn-model/production-release",
      '  exec "$@"',
      "fi",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(bin, "npm"),
    ["#!/usr/bin/env bash", `printf 'npm %s\\n' "$*" >> ${JSON.stringify(log)}`, ""].join("\n"),
    { mode: 0o755 },
  );
  const r = spawnSync("bash", [HOOK, stack], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: {
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
      HOME: tmp,
      CHURN_CACHE: path.join(tmp, "cache"),
      PULUMI_BACKEND_URL: "https://api.pulumi.com",
      CHURN_PULUMI_PLUGINS: "kubernetes@4.25.0 aws@7.12.0",
      ...env,
    },
  });
  const calls = fs
    .readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  return { status: r.status, calls, output: `${r.stdout}${r.stderr}` };
}

describe("the Deployments pre-run hook", function () {
  this.timeout(90_000);
  let tmp: string;

  beforeEach(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-pre-run-"));
  });

  afterEach(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("installs the resource plugins, compiles dist/ and runs nothing else before a preview", function () {
    const r = runHook(tmp, "production", {
      PULUMI_CI_OPERATION: "preview",
      CHURN_STACK: "acme-ml/churn-model/production",
      CHURN_RELEASE_ENVIRONMENT: "acme-ml/churn-model/production-release",
    });
    expect(r.status, r.output).to.equal(0);
    expect(r.calls).to.deep.equal([
      "pulumi plugin install resource kubernetes 4.25.0",
      "pulumi plugin install resource aws 7.12.0",
      "npm run build",
    ]);
  });

  it("runs nothing but the plugins and the build before a drift detection run on staging", function () {
    const r = runHook(tmp, "staging", {
      PULUMI_CI_OPERATION: "detect-drift",
      CHURN_STACK: "acme-ml/churn-model/staging",
    });
    expect(r.status, r.output).to.equal(0);
    expect(r.calls.filter((c) => !c.startsWith("pulumi plugin install"))).to.deep.equal(["npm run build"]);
  });

  it("deploys staging's configured version with the deploy command before an update", function () {
    const r = runHook(tmp, "staging", {
      PULUMI_CI_OPERATION: "update",
      CHURN_STACK: "acme-ml/churn-model/staging",
    });
    expect(r.status, r.output).to.equal(0);
    expect(r.calls.slice(2)).to.deep.equal([
      "npm run build",
      "pulumi config get churn-model:modelVersion --stack acme-ml/churn-model/staging",
      "npm run deploy -- --stack staging --model-version 1.3.0",
    ]);
  });

  it("promotes the approved release inside the release environment before a production update", function () {
    const r = runHook(tmp, "production", {
      PULUMI_CI_OPERATION: "update",
      CHURN_STACK: "acme-ml/churn-model/production",
      CHURN_RELEASE_ENVIRONMENT: "acme-ml/churn-model/production-release",
      CHURN_PROMETHEUS_URL: "https://prometheus.staging.example.com",
    });
    expect(r.status, r.output).to.equal(0);
    expect(r.calls[2]).to.equal("npm run build");
    expect(r.calls[3]).to.match(
      /^pulumi env run acme-ml\/churn-model\/production-release -- bash -c npm run promote/,
    );
    expect(r.calls[4]).to.equal(
      "npm run promote -- --from staging --to production --model-version 1.4.2 " +
        "--approved-by pulumi-esc:acme-ml/churn-model/production-release " +
        "--prometheus-url https://prometheus.staging.example.com",
    );
  });

  it("leaves out --prometheus-url when no Prometheus URL is configured", function () {
    const r = runHook(tmp, "production", {
      PULUMI_CI_OPERATION: "update",
      CHURN_STACK: "acme-ml/churn-model/production",
      CHURN_RELEASE_ENVIRONMENT: "acme-ml/churn-model/production-release",
    });
    expect(r.status, r.output).to.equal(0);
    expect(r.calls[4]).to.equal(
      "npm run promote -- --from staging --to production --model-version 1.4.2 " +
        "--approved-by pulumi-esc:acme-ml/churn-model/production-release",
    );
  });

  it("refuses to run without the settings' environment, naming the variable", function () {
    const r = runHook(tmp, "production", { PULUMI_CI_OPERATION: "update" });
    expect(r.status).to.not.equal(0);
    expect(r.output).to.contain("CHURN_STACK: must be set by the deployment settings");
    expect(r.calls).to.deep.equal([]);
  });

  it("refuses an unknown stack before an update", function () {
    const r = runHook(tmp, "qa", { PULUMI_CI_OPERATION: "update", CHURN_STACK: "acme-ml/churn-model/qa" });
    expect(r.status).to.equal(2);
    expect(r.output).to.contain("unknown stack qa (expected staging or production)");
  });
});
