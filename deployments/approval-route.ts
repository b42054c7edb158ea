/**
 * The production approval route of Pulumi Deployments. Deployments has no approval gate of
 * its own, so the gate sits on the data a production deployment acts on:
 *
 * - the release environment (ESC) holds the model version production is to run; an
 *   ApprovalRule makes every change to it a change request that eligible approvers must
 *   approve (never the requester; re-approval after any edit);
 * - applying the approved change creates a revision, and a `pulumi_deployments` webhook on
 *   that event starts an `update` of the production stack;
 * - that deployment opens the release environment (`pulumi env run`) and runs `npm run
 *   promote` with the approved version, the AWS session and the evidence signing key, which
 *   live in the credentials environment the release environment imports. Production
 *   deployments run as the release runner team (access.ts), which may open both.
 *
 * The program creates the release environment once and leaves its definition to approved
 * change requests afterwards (`ignoreChanges`), so running this program never releases.
 */
import * as pulumi from "@pulumi/pulumi";
import * as service from "@pulumi/pulumiservice";
import { grantOpen, ReleaseRunner } from "./access";
import { DeliveryConfig } from "./config";
import { qualifiedEnvironment } from "./settings";

/** Value of `release.modelVersion` until a release is approved: promote refuses it as bad input. */
export const NO_RELEASE = "";

export function approvedByReference(cfg: DeliveryConfig): string {
  return `pulumi-esc:${qualifiedEnvironment(cfg, cfg.releaseEnvironment)}`;
}

/** The credentials environment's definition; the signing key makes the whole text secret. */
export function credentialsYaml(cfg: DeliveryConfig, privateKeyPem: string): string {
  const lines = [
    "# Credentials of churn-model production releases, opened only by the production deployment's",
    "# pre-run hook through the release environment. Declared by the churn-model-deployments program.",
    "values:",
  ];
  const vars = ["    CHURN_EVIDENCE_PRIVATE_KEY: ${evidence.privateKey}"];
  if (cfg.productionAwsRoleArn !== undefined && cfg.awsRegion !== undefined) {
    lines.push(
      "  aws:",
      "    login:",
      "      fn::open::aws-login:",
      "        oidc:",
      `          roleArn: ${JSON.stringify(cfg.productionAwsRoleArn)}`,
      `          sessionName: ${JSON.stringify(`${cfg.serviceProject}-production-release`)}`,
      '          duration: "1h"',
    );
    vars.push(
      "    AWS_ACCESS_KEY_ID: ${aws.login.accessKeyId}",
      "    AWS_SECRET_ACCESS_KEY: ${aws.login.secretAccessKey}",
      "    AWS_SESSION_TOKEN: ${aws.login.sessionToken}",
      `    AWS_REGION: ${JSON.stringify(cfg.awsRegion)}`,
    );
  }
  lines.push("  evidence:", "    privateKey:", `      fn::secret: ${JSON.stringify(privateKeyPem)}`);
  lines.push("  environmentVariables:", ...vars);
  return `${lines.join("\n")}\n`;
}

/** The release environment's first definition; approved change requests own it afterwards. */
export function initialReleaseYaml(cfg: DeliveryConfig): string {
  const env = qualifiedEnvironment(cfg, cfg.releaseEnvironment);
  return [
    "# The model version churn-model production is to run. Change it only through a change",
    "# request, which the approval rule on this environment gates:",
    `#   pulumi env set ${env} release.modelVersion <version> --draft`,
    "# Applying the approved change starts a production deployment that runs `npm run promote`.",
    "imports:",
    `  - ${cfg.credentialsEnvironment.project}/${cfg.credentialsEnvironment.name}`,
    "values:",
    "  release:",
    `    modelVersion: ${JSON.stringify(NO_RELEASE)}`,
    "  environmentVariables:",
    "    CHURN_MODEL_VERSION: ${release.modelVersion}",
    `    CHURN_APPROVED_BY: ${JSON.stringify(approvedByReference(cfg))}`,
    "",
  ].join("\n");
}

export interface ReleaseRoute {
  readonly credentials: service.Environment;
  readonly release: service.Environment;
  readonly approval: service.ApprovalRule;
  readonly trigger: service.Webhook;
}

export function releaseRoute(
  cfg: DeliveryConfig,
  production: service.DeploymentSettings,
  runner: ReleaseRunner,
  opts?: pulumi.CustomResourceOptions,
): ReleaseRoute {
  const credentials = new service.Environment(
    "production-credentials",
    {
      organization: cfg.organization,
      project: cfg.credentialsEnvironment.project,
      name: cfg.credentialsEnvironment.name,
      yaml: pulumi
        .secret(cfg.evidencePrivateKey)
        .apply((pem) => new pulumi.asset.StringAsset(credentialsYaml(cfg, pem))),
    },
    opts,
  );
  const release = new service.Environment(
    "production-release",
    {
      organization: cfg.organization,
      project: cfg.releaseEnvironment.project,
      name: cfg.releaseEnvironment.name,
      yaml: new pulumi.asset.StringAsset(initialReleaseYaml(cfg)),
    },
    { ...opts, dependsOn: [credentials], ignoreChanges: ["yaml"], protect: true },
  );
  grantOpen(cfg, runner, "release-runner-credentials", credentials, opts);
  grantOpen(cfg, runner, "release-runner-release", release, opts);
  const approval = new service.ApprovalRule(
    "production-release-approval",
    {
      name: `${cfg.serviceProject} production release`,
      enabled: true,
      environmentIdentifier: {
        organization: release.organization,
        project: release.project,
        name: release.name,
      },
      targetActionTypes: [service.TargetActionType.Update],
      approvalRuleConfig: {
        numApprovalsRequired: cfg.releaseApprovalsRequired,
        allowSelfApproval: false,
        requireReapprovalOnChange: true,
        eligibleApprovers: [
          ...cfg.releaseApprovers.teams.map((teamName) => ({ teamName })),
          ...cfg.releaseApprovers.users.map((user) => ({ user })),
        ],
      },
    },
    opts,
  );
  const trigger = new service.Webhook(
    "production-release-trigger",
    {
      active: true,
      displayName: `${cfg.serviceProject}: deploy production on an approved release`,
      organizationName: cfg.organization,
      projectName: release.project,
      environmentName: release.name,
      format: service.WebhookFormat.PulumiDeployments,
      payloadUrl: `${cfg.serviceProject}/production`,
      filters: [service.WebhookFilters.EnvironmentRevisionCreated],
    },
    { ...opts, dependsOn: [production, approval] },
  );
  return { credentials, release, approval, trigger };
}
