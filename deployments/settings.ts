/**
 * Pulumi Deployments settings and drift detection for the service's two stacks. A deployment
 * checks out the configured branch, installs the locked dependencies, and runs
 * deployments/pre-run.sh, which hands an `update` to the project's own command (`npm run
 * deploy` on staging, `npm run promote` inside the approved release environment on
 * production); the Deployment's own `pulumi up` then finds nothing left to change.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as service from "@pulumi/pulumiservice";
import { KUBERNETES_PROVIDER_VERSION } from "../scripts/toolchain/components";
import { DeliveryConfig, REPO_ROOT } from "./config";

export type StackName = "staging" | "production";
export const STACKS: readonly StackName[] = ["staging", "production"];

/** The pre-run hook, relative to the repository root (the deployment's working directory). */
export const PRE_RUN_SCRIPT = "deployments/pre-run.sh";

/** Files whose change on the branch redeploys staging (production ships only through a release). */
export const STAGING_DEPLOY_PATHS: readonly string[] = [
  "Pulumi.yaml",
  "Pulumi.staging.yaml",
  "stacks/**",
  "infra/**",
  "policy/**",
  "package-lock.json",
];

/** `name@version` of the resource plugins the project's CLIs load (they never download one themselves). */
export function resourcePlugins(root: string = REPO_ROOT): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const aws = pkg.dependencies?.["@pulumi/aws"];
  return [`kubernetes@${KUBERNETES_PROVIDER_VERSION}`, ...(aws === undefined ? [] : [`aws@${aws}`])];
}

export function qualifiedStack(cfg: DeliveryConfig, stack: StackName): string {
  return `${cfg.organization}/${cfg.serviceProject}/${stack}`;
}

export function qualifiedEnvironment(cfg: DeliveryConfig, env: { project: string; name: string }): string {
  return `${cfg.organization}/${env.project}/${env.name}`;
}

/** Environment variables of a stack's deployments (the hook and the project's CLIs read them). */
export function deploymentEnvironment(cfg: DeliveryConfig, stack: StackName): Record<string, string> {
  const env: Record<string, string> = {
    CHURN_ENVIRONMENT: stack,
    CHURN_STACK: qualifiedStack(cfg, stack),
    CHURN_PULUMI_PLUGINS: resourcePlugins().join(" "),
    PULUMI_BACKEND_URL: cfg.backendUrl,
    PULUMI_SKIP_UPDATE_CHECK: "true",
  };
  if (stack === "production") {
    env.CHURN_RELEASE_ENVIRONMENT = qualifiedEnvironment(cfg, cfg.releaseEnvironment);
    if (cfg.prometheusUrl !== undefined) {
      env.CHURN_PROMETHEUS_URL = cfg.prometheusUrl;
    }
  }
  const role = stack === "production" ? cfg.productionAwsRoleArn : cfg.stagingAwsRoleArn;
  if (role !== undefined && cfg.awsRegion !== undefined) {
    env.AWS_REGION = cfg.awsRegion;
  }
  return env;
}

export function preRunCommands(stack: StackName): string[] {
  return ["npm ci", `bash ${PRE_RUN_SCRIPT} ${stack}`];
}

function oidc(
  cfg: DeliveryConfig,
  stack: StackName,
): service.types.input.OperationContextOIDCArgs | undefined {
  const roleARN = stack === "production" ? cfg.productionAwsRoleArn : cfg.stagingAwsRoleArn;
  if (roleARN === undefined) {
    return undefined;
  }
  return { aws: { roleARN, sessionName: `${cfg.serviceProject}-${stack}-deployment`, duration: "1h0m0s" } };
}

export interface StackDelivery {
  readonly settings: service.DeploymentSettings;
  readonly drift: service.DriftSchedule;
}

/**
 * Deployment settings and a drift schedule for one stack. `accessToken`, when given, replaces
 * the deployment's own stack-only token (PULUMI_ACCESS_TOKEN), kept secret.
 */
export function stackDelivery(
  cfg: DeliveryConfig,
  stack: StackName,
  accessToken?: pulumi.Output<string>,
  opts?: pulumi.CustomResourceOptions,
): StackDelivery {
  const production = stack === "production";
  const environmentVariables: Record<string, pulumi.Input<string>> = { ...deploymentEnvironment(cfg, stack) };
  if (accessToken !== undefined) {
    environmentVariables.PULUMI_ACCESS_TOKEN = pulumi.secret(accessToken);
  }
  const settings = new service.DeploymentSettings(
    `${stack}-deployment-settings`,
    {
      organization: cfg.organization,
      project: cfg.serviceProject,
      stack,
      sourceContext: { git: { branch: `refs/heads/${cfg.branch}` } },
      vcs: {
        provider: "github",
        repository: cfg.repository,
        // Production changes only through an approved release, never on a push.
        deployCommits: !production,
        previewPullRequests: !production,
        paths: production ? undefined : [...STAGING_DEPLOY_PATHS],
      },
      executorContext: { executorImage: cfg.executorImage },
      cacheOptions: { enable: true },
      operationContext: {
        preRunCommands: preRunCommands(stack),
        environmentVariables,
        oidc: oidc(cfg, stack),
        options: { skipInstallDependencies: true, skipIntermediateDeployments: false },
      },
    },
    opts,
  );
  const drift = new service.DriftSchedule(
    `${stack}-drift-schedule`,
    {
      organization: cfg.organization,
      project: cfg.serviceProject,
      stack,
      scheduleCron: cfg.driftScheduleCron,
      // Re-applying production outside a release would bypass the gate: report drift only.
      autoRemediate: production ? false : cfg.autoRemediateStagingDrift,
    },
    { ...opts, dependsOn: [settings] },
  );
  return { settings, drift };
}
