import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import {
  ConfigSource,
  DeliveryConfigError,
  NAMESPACE,
  readDeliveryConfig,
  readServiceProject,
} from "../../deployments/config";

const REPO_ROOT = path.resolve(__dirname, "..", "..");

function source(values: Record<string, string | undefined>): ConfigSource {
  return {
    get: (k) => values[k],
    getSecret: (k) => (values[k] === undefined ? undefined : pulumi.secret(values[k] as string)),
  };
}

function problemsOf(values: Record<string, string | undefined>): string[] {
  try {
    readDeliveryConfig(source(values));
  } catch (err) {
    if (err instanceof DeliveryConfigError) return [...err.problems];
    throw err;
  }
  throw new Error("the configuration was accepted");
}

describe("the Pulumi Deployments program's configuration", function () {
  let tmp: string;
  let valid: Record<string, string>;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-deployments-config-"));
    fs.mkdirSync(path.join(tmp, "policy", "config"), { recursive: true });
    fs.writeFileSync(path.join(tmp, "policy", "PulumiPolicy.yaml"), "runtime: nodejs\n");
    fs.writeFileSync(
      path.join(tmp, "policy", "package.json"),
      JSON.stringify({ name: "pack", version: "2.3.4" }),
    );
    fs.writeFileSync(
      path.join(tmp, "policy", "config", "production.json"),
      JSON.stringify({ all: "mandatory", "promotion-evidence": { ...DESIGN_THRESHOLDS, minAccuracy: 0.9 } }),
    );
    valid = {
      organization: "acme-ml",
      repository: "acme-ml/churn-model-cd",
      policyPackDir: path.join(tmp, "policy"),
      policyConfigFile: path.join(tmp, "policy", "config", "production.json"),
      webhookUrl: "https://hooks.example.com/pulumi",
      releaseApprovers: JSON.stringify({ teams: ["ml-release"] }),
      evidencePrivateKey: "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
    };
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("applies the documented defaults to a minimal configuration", function () {
    const cfg = readDeliveryConfig(source(valid));
    expect(cfg).to.include({
      branch: "main",
      serviceProject: "churn-model",
      backendUrl: "https://api.pulumi.com",
      executorImage: "pulumi/pulumi-nodejs-22:latest",
      driftScheduleCron: "0 */6 * * *",
      autoRemediateStagingDrift: false,
      policyPackName: "churn-model",
      policyPackVersion: "2.3.4",
      webhookFormat: "raw",
      releaseApprovalsRequired: 1,
    });
    expect(cfg.releaseEnvironment).to.deep.equal({ project: "churn-model", name: "production-release" });
    expect(cfg.credentialsEnvironment).to.deep.equal({
      project: "churn-model",
      name: "production-credentials",
    });
    expect(cfg.releaseApprovers).to.deep.equal({ teams: ["ml-release"], users: [] });
    expect(cfg.productionPolicyConfig).to.deep.equal({
      all: "mandatory",
      "promotion-evidence": { ...DESIGN_THRESHOLDS, minAccuracy: 0.9 },
    });
    expect(cfg.stagingAwsRoleArn).to.equal(undefined);
    expect(cfg.webhookSecret).to.equal(undefined);
  });

  it("names every missing required key, prefixed with the namespace, in one error", function () {
    const problems = problemsOf({
      policyPackDir: valid.policyPackDir,
      policyConfigFile: valid.policyConfigFile,
    });
    const keys = problems.map((p) => p.split(" ")[0]);
    expect(keys).to.have.members(
      ["organization", "repository", "webhookUrl", "releaseApprovers", "evidencePrivateKey"].map(
        (k) => `${NAMESPACE}:${k}`,
      ),
    );
    expect(() => readDeliveryConfig(source({}))).to.throw(
      DeliveryConfigError,
      /invalid churn-model-deployments configuration/,
    );
  });

  const rejections: [string, Record<string, string | undefined>, RegExp][] = [
    [
      "a repository not written owner/name",
      { repository: "churn-model-cd" },
      /:repository must be a GitHub repository as owner\/name \(got "churn-model-cd"\)/,
    ],
    [
      "a cron expression with six fields",
      { driftScheduleCron: "0 0 */6 * * *" },
      /:driftScheduleCron must be a five-field cron expression/,
    ],
    [
      "a cron field that is not a number, range or step",
      { driftScheduleCron: "0 x * * *" },
      /:driftScheduleCron has an invalid cron field "x"/,
    ],
    [
      "a malformed IAM role ARN",
      { productionAwsRoleArn: "arn:aws:iam::12:role/x", awsRegion: "eu-west-1" },
      /:productionAwsRoleArn must be an IAM role ARN/,
    ],
    [
      "a role ARN without a region",
      { stagingAwsRoleArn: "arn:aws:iam::123456789012:role/x" },
      /:awsRegion is required when stagingAwsRoleArn or productionAwsRoleArn is set/,
    ],
    [
      "a policy pack directory without PulumiPolicy.yaml",
      { policyPackDir: os.tmpdir() },
      /:policyPackDir must be a directory holding PulumiPolicy.yaml/,
    ],
    [
      "a policy config file that does not exist",
      { policyConfigFile: "/nonexistent/production.json" },
      /:policyConfigFile names \/nonexistent\/production.json, which cannot be read/,
    ],
    [
      "a webhook URL that is not http(s)",
      { webhookUrl: "ftp://hooks.example.com" },
      /:webhookUrl must be an http\(s\) URL/,
    ],
    [
      "a Slack webhook format with a URL outside Slack",
      { webhookFormat: "slack" },
      /:webhookUrl must begin with https:\/\/hooks.slack.com\/ when webhookFormat is slack/,
    ],
    [
      "an unknown webhook format",
      { webhookFormat: "teams" },
      /:webhookFormat must be one of raw, slack, ms_teams \(got "teams"\)/,
    ],
    [
      "approvers naming nobody",
      { releaseApprovers: JSON.stringify({ teams: [], users: [] }) },
      /:releaseApprovers must name at least one team or user/,
    ],
    [
      "approvers that are not an object",
      { releaseApprovers: "ml-release" },
      /:releaseApprovers must be an object/,
    ],
    [
      "approvers with an unknown key",
      { releaseApprovers: JSON.stringify({ teams: ["a"], groups: ["b"] }) },
      /:releaseApprovers accepts only "teams" and "users" \(got "groups"\)/,
    ],
    [
      "zero required approvals",
      { releaseApprovalsRequired: "0" },
      /:releaseApprovalsRequired must be an integer from 1 to 10 \(got "0"\)/,
    ],
    [
      "auto-remediation that is not a boolean",
      { autoRemediateStagingDrift: "yes" },
      /:autoRemediateStagingDrift must be true or false/,
    ],
    [
      "the same environment for release and credentials",
      { releaseEnvironment: "churn-model/x", credentialsEnvironment: "churn-model/x" },
      /:credentialsEnvironment must differ from releaseEnvironment/,
    ],
    [
      "an environment not written project/name",
      { releaseEnvironment: "production-release" },
      /:releaseEnvironment must be an ESC environment as <project>\/<name>/,
    ],
    [
      "a Prometheus URL with a quote in it",
      { prometheusUrl: "https://p.example.com/'x" },
      /:prometheusUrl must be an http\(s\) URL without quotes or spaces/,
    ],
    [
      "no evidence signing key",
      { evidencePrivateKey: undefined },
      /:evidencePrivateKey is required: the Ed25519 PKCS#8 PEM that signs promotion evidence/,
    ],
  ];
  for (const [what, change, message] of rejections) {
    it(`rejects ${what}, naming the key`, function () {
      const problems = problemsOf({ ...valid, ...change });
      expect(problems.join("\n")).to.match(message);
      expect(problems.every((p) => p.startsWith(`${NAMESPACE}:`))).to.equal(true);
    });
  }

  it("publishes the pack under its package.json version and rejects one that is not semver", function () {
    expect(readDeliveryConfig(source(valid)).policyPackVersion).to.equal("2.3.4");
    const dir = path.join(tmp, "pack-v1");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ version: "v1" }));
    expect(problemsOf({ ...valid, policyPackDir: dir }).join("\n")).to.match(
      /:policyPackDir holds .*package.json, whose "version" must be a semantic version \(got "v1"\)/,
    );
  });

  it("rejects a policy config without the promotion-evidence thresholds", function () {
    const file = path.join(tmp, "no-thresholds.json");
    fs.writeFileSync(file, JSON.stringify({ all: "mandatory" }));
    expect(problemsOf({ ...valid, policyConfigFile: file }).join("\n")).to.match(
      /:policyConfigFile names .*no-thresholds.json, which has no "promotion-evidence" section/,
    );
  });

  it("keeps the signing key and the webhook secret as secrets", async function () {
    const cfg = readDeliveryConfig(source({ ...valid, webhookSecret: "hmac" }));
    expect(await pulumi.isSecret(cfg.evidencePrivateKey)).to.equal(true);
    expect(await pulumi.isSecret(cfg.webhookSecret!)).to.equal(true);
  });

  it("reads the service project's name from the repository root's Pulumi.yaml", function () {
    const expected = (
      yaml.load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as { name: string }
    ).name;
    expect(readServiceProject()).to.equal(expected);
    const dir = fs.mkdtempSync(path.join(tmp, "project-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "runtime: nodejs\n");
    expect(() => readServiceProject(dir)).to.throw(/Pulumi.yaml must declare the service project's name/);
  });

  it("accepts the example stack configuration against the repository's policy pack", function () {
    const file = path.join(REPO_ROOT, "deployments", "Pulumi.delivery.yaml");
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    const values: Record<string, string> = { evidencePrivateKey: valid.evidencePrivateKey };
    for (const [key, value] of Object.entries(doc.config)) {
      expect(key.startsWith(`${NAMESPACE}:`), key).to.equal(true);
      values[key.slice(NAMESPACE.length + 1)] = typeof value === "string" ? value : JSON.stringify(value);
    }
    const cfg = readDeliveryConfig(source(values));
    expect(cfg.policyPackDir).to.equal(path.join(REPO_ROOT, "policy"));
    expect(cfg.releaseApprovers.teams.length + cfg.releaseApprovers.users.length).to.be.greaterThan(0);
  });
});
