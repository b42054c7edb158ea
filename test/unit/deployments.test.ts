import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { ConfigSource, DeliveryConfig } from "../../deployments/config";
import { findInvocations } from "../helpers/cli-invocations";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";

/* eslint-disable @typescript-eslint/no-explicit-any */
interface Recorded {
  readonly type: string;
  readonly name: string;
  /** Inputs with secrets unwrapped. */
  readonly inputs: Record<string, any>;
  /** Dotted paths of the inputs that arrived as secrets. */
  readonly secretPaths: readonly string[];
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

function unwrapSecrets(value: any, at: string, secrets: string[]): any {
  if (value !== null && typeof value === "object" && !(value instanceof Promise)) {
    if (value[SECRET_SIG] === SECRET_VALUE) {
      secrets.push(at);
      return unwrapSecrets(value.value, at, secrets);
    }
    if (Array.isArray(value)) {
      return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, secrets));
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v, at === "" ? k : `${at}.${k}`, secrets)]),
    );
  }
  return value;
}

let recorded: Recorded[] = [];

function installMocks(): void {
  pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const secretPaths: string[] = [];
        const inputs = unwrapSecrets(args.inputs, "", secretPaths) as Record<string, any>;
        recorded.push({ type: args.type, name: args.name, inputs, secretPaths });
        const state: Record<string, unknown> = { ...inputs };
        if (args.type === "pulumiservice:index:TeamAccessToken") {
          state.value = "pul-release-runner-token";
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        throw new Error(`unexpected provider call ${args.token} in a unit test`);
      },
    },
    "churn-model-deployments",
    "unit",
    false,
  );
}

/** What the declaration under test registered (later tests' extra declarations go to `recorded`). */
let declared: Recorded[] = [];

function byType(type: string): Recorded[] {
  return declared.filter((r) => r.type === type);
}

function named(type: string, name: string): Recorded {
  const found = declared.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  }
  return found[0];
}

/** The text of a StringAsset input. */
async function assetText(input: any): Promise<string> {
  const text: unknown = await input?.text;
  if (typeof text !== "string") {
    throw new Error(`not a text asset: ${JSON.stringify(input)}`);
  }
  return text;
}

function until(p: Promise<unknown>): Promise<void> {
  return p.then(async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  });
}

const PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
const POLICY_CONFIG = {
  all: { enforcementLevel: "mandatory" },
  "promotion-evidence": { ...DESIGN_THRESHOLDS },
};

/** A policy pack directory with a production config, like the repository's policy/. */
function policyFixture(dir: string): void {
  fs.mkdirSync(path.join(dir, "config"), { recursive: true });
  fs.writeFileSync(path.join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\n");
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pack", version: "1.2.0" }));
  fs.writeFileSync(path.join(dir, "config", "production.json"), JSON.stringify(POLICY_CONFIG));
}

function source(values: Record<string, string>): ConfigSource {
  return {
    get: (k) => values[k],
    getSecret: (k) => (values[k] === undefined ? undefined : pulumi.secret(values[k])),
  };
}

describe("the Pulumi Deployments program", function () {
  let tmp: string;
  let values: Record<string, string>;
  let cfg: DeliveryConfig;
  let outputs: Record<string, unknown>;
  let deploymentsModule: typeof import("../../deployments/delivery");
  let configModule: typeof import("../../deployments/config");

  before(async function () {
    installMocks();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-deployments-"));
    policyFixture(path.join(tmp, "policy"));
    values = {
      organization: "acme-ml",
      repository: "acme-ml/churn-model-cd",
      branch: "release",
      awsRegion: "eu-west-1",
      stagingAwsRoleArn: "arn:aws:iam::123456789012:role/staging-deploy",
      productionAwsRoleArn: "arn:aws:iam::123456789012:role/production-deploy",
      driftScheduleCron: "15 */4 * * *",
      autoRemediateStagingDrift: "true",
      policyPackDir: path.join(tmp, "policy"),
      policyConfigFile: path.join(tmp, "policy", "config", "production.json"),
      webhookUrl: "https://hooks.example.com/pulumi",
      webhookSecret: "hmac-key",
      releaseApprovers: JSON.stringify({ teams: ["ml-release"], users: ["alice"] }),
      releaseApprovalsRequired: "2",
      prometheusUrl: "https://prometheus.staging.example.com",
      evidencePrivateKey: PRIVATE_KEY,
    };
    configModule = await import("../../deployments/config");
    deploymentsModule = await import("../../deployments/delivery");
    cfg = configModule.readDeliveryConfig(source(values));
    const out = deploymentsModule.declareDelivery(cfg);
    await until(new Promise((resolve) => pulumi.output(out).apply(resolve)));
    outputs = (await new Promise((resolve) => pulumi.output(out).apply(resolve))) as Record<string, unknown>;
    declared = recorded;
    recorded = [];
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe("deployment settings", function () {
    it("declares settings for exactly the staging and production stacks of the service project", function () {
      const settings = byType("pulumiservice:index:DeploymentSettings");
      expect(
        settings.map((s) => [s.inputs.organization, s.inputs.project, s.inputs.stack]),
      ).to.have.deep.members([
        ["acme-ml", "churn-model", "staging"],
        ["acme-ml", "churn-model", "production"],
      ]);
    });

    for (const stack of ["staging", "production"]) {
      it(`${stack}: checks out the configured branch of the GitHub repository`, function () {
        const s = named("pulumiservice:index:DeploymentSettings", `${stack}-deployment-settings`).inputs;
        expect(s.sourceContext).to.deep.equal({ git: { branch: "refs/heads/release" } });
        expect(s.vcs).to.include({ provider: "github", repository: "acme-ml/churn-model-cd" });
      });

      it(`${stack}: installs the locked dependencies, then runs the pre-run hook for ${stack}`, function () {
        const s = named("pulumiservice:index:DeploymentSettings", `${stack}-deployment-settings`).inputs;
        expect(s.operationContext.preRunCommands).to.deep.equal([
          "npm ci",
          `bash deployments/pre-run.sh ${stack}`,
        ]);
        expect(s.operationContext.options).to.include({ skipInstallDependencies: true });
      });

      it(`${stack}: runs in a Node.js 22 executor with the stack, backend and plugins in its environment`, function () {
        const s = named("pulumiservice:index:DeploymentSettings", `${stack}-deployment-settings`).inputs;
        expect(s.executorContext).to.deep.equal({ executorImage: "pulumi/pulumi-nodejs-22:latest" });
        const env = s.operationContext.environmentVariables;
        expect(env).to.include({
          CHURN_ENVIRONMENT: stack,
          CHURN_STACK: `acme-ml/churn-model/${stack}`,
          PULUMI_BACKEND_URL: "https://api.pulumi.com",
          AWS_REGION: "eu-west-1",
        });
        expect(env.CHURN_PULUMI_PLUGINS).to.match(/^kubernetes@\d+\.\d+\.\d+( aws@\d+\.\d+\.\d+)?$/);
      });

      it(`${stack}: assumes the ${stack} AWS role through Pulumi OIDC`, function () {
        const s = named("pulumiservice:index:DeploymentSettings", `${stack}-deployment-settings`).inputs;
        expect(s.operationContext.oidc.aws).to.include({
          roleARN: `arn:aws:iam::123456789012:role/${stack}-deploy`,
          sessionName: `churn-model-${stack}-deployment`,
        });
      });
    }

    it("deploys staging on pushes to the deploy paths and previews its pull requests", function () {
      const vcs = named("pulumiservice:index:DeploymentSettings", "staging-deployment-settings").inputs.vcs;
      expect(vcs).to.include({ deployCommits: true, previewPullRequests: true });
      expect(vcs.paths).to.include.members(["Pulumi.staging.yaml", "stacks/**", "infra/**", "policy/**"]);
    });

    it("never deploys production on a push: only an approved release starts it", function () {
      const vcs = named("pulumiservice:index:DeploymentSettings", "production-deployment-settings").inputs
        .vcs;
      expect(vcs).to.include({ deployCommits: false, previewPullRequests: false });
    });

    it("tells production deployments which release environment to open and where Prometheus is", function () {
      const env = named("pulumiservice:index:DeploymentSettings", "production-deployment-settings").inputs
        .operationContext.environmentVariables;
      expect(env.CHURN_RELEASE_ENVIRONMENT).to.equal("acme-ml/churn-model/production-release");
      expect(env.CHURN_PROMETHEUS_URL).to.equal("https://prometheus.staging.example.com");
      const stagingEnv = named("pulumiservice:index:DeploymentSettings", "staging-deployment-settings").inputs
        .operationContext.environmentVariables;
      expect(stagingEnv).to.not.have.property("CHURN_RELEASE_ENVIRONMENT");
    });

    it("leaves out OIDC for a stack without an AWS role", async function () {
      const { stackDelivery } = await import("../../deployments/settings");
      const noAws = { ...cfg, stagingAwsRoleArn: undefined };
      recorded = [];
      stackDelivery(noAws, "staging");
      await until(Promise.resolve());
      const added = recorded.find((r) => r.type === "pulumiservice:index:DeploymentSettings");
      expect(added!.inputs.operationContext.oidc).to.equal(undefined);
      expect(added!.inputs.operationContext.environmentVariables).to.not.have.property("AWS_REGION");
    });
  });

  describe("the pre-run hook", function () {
    const hook = fs.readFileSync(path.join(__dirname, "..", "..", "deployments", "pre-run.sh"), "utf8");

    it("runs the project's command only for an update operation", function () {
      const guard = hook.indexOf('if [ "$operation" != update ]; then');
      expect(guard).to.be.greaterThan(-1);
      const commands = hook
        .split("\n")
        .map((line, i) => ({ line, at: hook.split("\n").slice(0, i).join("\n").length }))
        .filter(({ line }) => !line.trim().startsWith("#") && /npm run (deploy|promote)/.test(line));
      expect(commands).to.have.length(2);
      for (const { at } of commands) expect(at).to.be.greaterThan(guard);
    });

    it("promotes production inside the approved release environment with its version and approval", function () {
      expect(hook).to.match(/pulumi env run "\$CHURN_RELEASE_ENVIRONMENT" -- bash -c/);
      const [promote] = findInvocations(hook, "hook").filter((i) => i.script === "promote");
      expect(promote.flags).to.deep.equal([
        "--from",
        "--to",
        "--model-version",
        "--approved-by",
        "--prometheus-url",
      ]);
      expect(promote.text).to.contain(
        '--model-version "$CHURN_MODEL_VERSION" --approved-by "$CHURN_APPROVED_BY"',
      );
    });

    it("deploys staging with the deploy command and the version in the staging stack's config", function () {
      const [deploy] = findInvocations(hook, "hook").filter((i) => i.script === "deploy");
      expect(deploy.text).to.equal('npm run deploy -- --stack staging --model-version "$version"');
      expect(hook).to.contain('version=$(pulumi config get churn-model:modelVersion --stack "$CHURN_STACK")');
    });
  });

  describe("the production approval route", function () {
    it("gates only the production release environment, with an update approval rule", function () {
      const rules = byType("pulumiservice:index:ApprovalRule");
      expect(rules).to.have.length(1);
      expect(rules[0].inputs.environmentIdentifier).to.deep.equal({
        organization: "acme-ml",
        project: "churn-model",
        name: "production-release",
      });
      expect(rules[0].inputs.targetActionTypes).to.deep.equal(["update"]);
      expect(rules[0].inputs.enabled).to.equal(true);
      expect(JSON.stringify(rules[0].inputs)).to.not.contain("staging");
    });

    it("requires the configured approvals from the named teams and users, never self-approval, again after any change", function () {
      const config = byType("pulumiservice:index:ApprovalRule")[0].inputs.approvalRuleConfig;
      expect(config).to.deep.equal({
        numApprovalsRequired: 2,
        allowSelfApproval: false,
        requireReapprovalOnChange: true,
        eligibleApprovers: [{ teamName: "ml-release" }, { user: "alice" }],
      });
    });

    it("starts with no releasable version and hands the release version to the promote command", async function () {
      const release = named("pulumiservice:index:Environment", "production-release").inputs;
      expect(release).to.include({
        organization: "acme-ml",
        project: "churn-model",
        name: "production-release",
      });
      const doc = yaml.load(await assetText(release.yaml)) as any;
      expect(doc.imports).to.deep.equal(["churn-model/production-credentials"]);
      expect(doc.values.release.modelVersion).to.equal("");
      expect(doc.values.environmentVariables).to.deep.equal({
        CHURN_MODEL_VERSION: "${release.modelVersion}",
        CHURN_APPROVED_BY: "pulumi-esc:acme-ml/churn-model/production-release",
      });
    });

    it("keeps the signing key and the AWS session in the credentials environment, as secrets and OIDC only", async function () {
      const credentials = named("pulumiservice:index:Environment", "production-credentials").inputs;
      const doc = yaml.load(await assetText(credentials.yaml)) as any;
      expect(doc.values.evidence.privateKey).to.deep.equal({ "fn::secret": PRIVATE_KEY });
      expect(doc.values.aws.login["fn::open::aws-login"].oidc).to.include({
        roleArn: "arn:aws:iam::123456789012:role/production-deploy",
      });
      expect(doc.values.environmentVariables).to.include({
        CHURN_EVIDENCE_PRIVATE_KEY: "${evidence.privateKey}",
        AWS_SESSION_TOKEN: "${aws.login.sessionToken}",
        AWS_REGION: "eu-west-1",
      });
    });

    it("sends the credentials environment's definition as a secret, and the release's in the clear", function () {
      expect(named("pulumiservice:index:Environment", "production-credentials").secretPaths).to.include(
        "yaml",
      );
      expect(named("pulumiservice:index:Environment", "production-release").secretPaths).to.deep.equal([]);
    });

    it("starts a production update when an approved change creates a release revision", function () {
      const trigger = named("pulumiservice:index:Webhook", "production-release-trigger").inputs;
      expect(trigger).to.include({
        organizationName: "acme-ml",
        projectName: "churn-model",
        environmentName: "production-release",
        format: "pulumi_deployments",
        payloadUrl: "churn-model/production",
        active: true,
      });
      expect(trigger.filters).to.deep.equal(["environment_revision_created"]);
    });
  });

  describe("the identity of production deployments", function () {
    it("runs production deployments with the release runner team's token, kept secret", function () {
      const prod = named("pulumiservice:index:DeploymentSettings", "production-deployment-settings");
      expect(prod.inputs.operationContext.environmentVariables.PULUMI_ACCESS_TOKEN).to.equal(
        "pul-release-runner-token",
      );
      const tokenPath = "operationContext.environmentVariables.PULUMI_ACCESS_TOKEN";
      expect(
        prod.secretPaths.some((p) => tokenPath.startsWith(p)),
        `secret paths ${prod.secretPaths}`,
      ).to.equal(true);
      const token = byType("pulumiservice:index:TeamAccessToken");
      expect(token.map((t) => t.inputs.teamName)).to.deep.equal(["churn-model-release-runner"]);
    });

    it("leaves staging deployments with their own stack-only token", function () {
      const staging = named("pulumiservice:index:DeploymentSettings", "staging-deployment-settings");
      expect(staging.inputs.operationContext.environmentVariables).to.not.have.property(
        "PULUMI_ACCESS_TOKEN",
      );
    });

    it("grants the release runner edit on production, read on staging and open on the two environments, nothing more", function () {
      const stacks = byType("pulumiservice:index:TeamStackPermission").map((p) => [
        p.inputs.stack,
        p.inputs.permission,
      ]);
      expect(stacks).to.have.deep.members([
        ["production", 102],
        ["staging", 101],
      ]);
      const envs = byType("pulumiservice:index:TeamEnvironmentPermission").map((p) => [
        p.inputs.project,
        p.inputs.environment,
        p.inputs.permission,
        p.inputs.team,
      ]);
      expect(envs).to.have.deep.members([
        ["churn-model", "production-credentials", "open", "churn-model-release-runner"],
        ["churn-model", "production-release", "open", "churn-model-release-runner"],
      ]);
    });
  });

  describe("policy enforcement", function () {
    it("publishes the policy pack from the pack's directory under the configured version", function () {
      const pack = named("pulumiservice:index:PolicyPack", "promotion-policy-pack").inputs;
      expect(pack).to.include({
        organization: "acme-ml",
        name: "churn-model",
        versionTag: "1.2.0",
        sourcePath: path.join(tmp, "policy"),
      });
    });

    it("enforces the pack preventatively on the production stack only, with the production policy config", function () {
      const groups = byType("pulumiservice:index:PolicyGroup");
      expect(groups).to.have.length(1);
      expect(groups[0].inputs).to.include({
        organizationName: "acme-ml",
        mode: "preventative",
        entityType: "stacks",
      });
      expect(groups[0].inputs.stacks).to.deep.equal([{ routingProject: "churn-model", name: "production" }]);
      expect(groups[0].inputs.policyPacks).to.deep.equal([
        { name: "churn-model", versionTag: "1.2.0", config: POLICY_CONFIG },
      ]);
    });
  });

  describe("drift detection", function () {
    it("schedules drift runs on both stacks with the configured cron", function () {
      const schedules = byType("pulumiservice:index:DriftSchedule");
      expect(schedules.map((s) => [s.inputs.stack, s.inputs.scheduleCron])).to.have.deep.members([
        ["staging", "15 */4 * * *"],
        ["production", "15 */4 * * *"],
      ]);
    });

    it("remediates staging drift when configured, never production's", function () {
      expect(
        named("pulumiservice:index:DriftSchedule", "staging-drift-schedule").inputs.autoRemediate,
      ).to.equal(true);
      expect(
        named("pulumiservice:index:DriftSchedule", "production-drift-schedule").inputs.autoRemediate,
      ).to.equal(false);
    });
  });

  describe("notifications", function () {
    for (const stack of ["staging", "production"]) {
      it(`${stack}: sends update, policy-refusal and drift events to the webhook URL`, function () {
        const hook = named("pulumiservice:index:Webhook", `${stack}-notifications`).inputs;
        expect(hook).to.include({
          organizationName: "acme-ml",
          projectName: "churn-model",
          stackName: stack,
          payloadUrl: "https://hooks.example.com/pulumi",
          format: "raw",
          secret: "hmac-key",
        });
        expect(named("pulumiservice:index:Webhook", `${stack}-notifications`).secretPaths).to.include(
          "secret",
        );
        expect(hook.filters).to.have.members([
          "update_succeeded",
          "update_failed",
          "preview_failed",
          "deployment_failed",
          "drift_detected",
          "drift_detection_failed",
        ]);
      });
    }
  });

  it("exports the stacks, the release environment, the policy group and how to request a release", function () {
    expect(outputs).to.deep.equal({
      stacks: ["acme-ml/churn-model/staging", "acme-ml/churn-model/production"],
      releaseEnvironment: "acme-ml/churn-model/production-release",
      policyGroup: "churn-model-production",
      policyPack: "churn-model@1.2.0",
      releaseCommand:
        "pulumi env set acme-ml/churn-model/production-release release.modelVersion <version> --draft",
    });
  });
});

describe("the Pulumi Deployments program entry", function () {
  let tmp: string;
  let saved: Record<string, string>;

  before(function () {
    installMocks();
    saved = pulumi.runtime.allConfig();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-deployments-entry-"));
    policyFixture(path.join(tmp, "policy"));
  });

  after(function () {
    pulumi.runtime.setAllConfig(saved);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("reads the churn-model-deployments stack config, secrets included, and declares the delivery", async function () {
    pulumi.runtime.setAllConfig(
      {
        "churn-model-deployments:organization": "acme-ml",
        "churn-model-deployments:repository": "acme-ml/churn-model-cd",
        "churn-model-deployments:policyPackDir": path.join(tmp, "policy"),
        "churn-model-deployments:policyConfigFile": path.join(tmp, "policy", "config", "production.json"),
        "churn-model-deployments:webhookUrl": "https://hooks.example.com/pulumi",
        "churn-model-deployments:releaseApprovers": JSON.stringify({ users: ["alice"] }),
        "churn-model-deployments:evidencePrivateKey": PRIVATE_KEY,
      },
      ["churn-model-deployments:evidencePrivateKey"],
    );
    recorded = [];
    const entry = (await import("../../deployments/index")) as unknown as Record<string, unknown>;
    const resolved = (await new Promise((resolve) => pulumi.output(entry).apply(resolve))) as Record<
      string,
      unknown
    >;
    await until(Promise.resolve());
    expect(resolved.releaseEnvironment).to.equal("acme-ml/churn-model/production-release");
    expect(recorded.filter((r) => r.type === "pulumiservice:index:DeploymentSettings")).to.have.length(2);
  });

  it("fails naming the key when the stack config lacks one", async function () {
    pulumi.runtime.setAllConfig({ "churn-model-deployments:organization": "acme-ml" });
    const { readDeliveryConfig, pulumiConfigSource } = await import("../../deployments/config");
    expect(() => readDeliveryConfig(pulumiConfigSource())).to.throw(
      /churn-model-deployments:repository is required/,
    );
  });
});
