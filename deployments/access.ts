/**
 * The identity production deployments run as. A deployment started by a webhook or a push
 * gets a token for its own stack only, but a release also reads staging's outputs and opens
 * the release and credentials environments; so production deployments run with the token
 * of a dedicated team that has exactly that: edit on production, read on staging, open on
 * the two environments.
 */
import * as pulumi from "@pulumi/pulumi";
import * as service from "@pulumi/pulumiservice";
import { DeliveryConfig } from "./config";

export interface ReleaseRunner {
  readonly team: service.Team;
  readonly token: service.TeamAccessToken;
}

export function releaseRunner(cfg: DeliveryConfig, opts?: pulumi.CustomResourceOptions): ReleaseRunner {
  const team = new service.Team(
    "release-runner-team",
    {
      organizationName: cfg.organization,
      teamType: "pulumi",
      name: `${cfg.serviceProject}-release-runner`,
      displayName: `${cfg.serviceProject} release runner`,
      description: "Identity of the production deployments that promote churn-model releases.",
    },
    opts,
  );
  const teamName = team.name.apply((n) => n ?? `${cfg.serviceProject}-release-runner`);
  const grants: [string, "staging" | "production", service.TeamStackPermissionScope][] = [
    ["release-runner-production", "production", service.TeamStackPermissionScope.Edit],
    ["release-runner-staging", "staging", service.TeamStackPermissionScope.Read],
  ];
  for (const [name, stack, permission] of grants) {
    new service.TeamStackPermission(
      name,
      { organization: cfg.organization, project: cfg.serviceProject, stack, team: teamName, permission },
      opts,
    );
  }
  const token = new service.TeamAccessToken(
    "release-runner-token",
    {
      organizationName: cfg.organization,
      teamName,
      name: `${cfg.serviceProject}-production-deployments`,
      description: "PULUMI_ACCESS_TOKEN of churn-model production deployments.",
    },
    opts,
  );
  return { team, token };
}

/** Lets the release runner open an environment (and so the environments it imports, once granted too). */
export function grantOpen(
  cfg: DeliveryConfig,
  runner: ReleaseRunner,
  name: string,
  environment: service.Environment,
  opts?: pulumi.CustomResourceOptions,
): service.TeamEnvironmentPermission {
  return new service.TeamEnvironmentPermission(
    name,
    {
      organization: cfg.organization,
      project: environment.project,
      environment: environment.name,
      team: runner.team.name.apply((n) => n ?? `${cfg.serviceProject}-release-runner`),
      permission: service.EnvironmentPermission.Open,
    },
    opts,
  );
}
