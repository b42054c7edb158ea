/**
 * Server-side policy enforcement: the project's CrossGuard pack is published to the
 * organization and a preventative policy group applies it to the production stack with the
 * production policy config (thresholds and evidence key), so a production update without
 * valid promotion evidence is refused by Pulumi Cloud whoever runs it and however, with or
 * without `--policy-pack` on the command line.
 */
import * as pulumi from "@pulumi/pulumi";
import * as service from "@pulumi/pulumiservice";
import { DeliveryConfig } from "./config";

export interface PolicyEnforcement {
  readonly pack: service.PolicyPack;
  readonly group: service.PolicyGroup;
}

export function policyEnforcement(
  cfg: DeliveryConfig,
  opts?: pulumi.CustomResourceOptions,
): PolicyEnforcement {
  const pack = new service.PolicyPack(
    "promotion-policy-pack",
    {
      organization: cfg.organization,
      name: cfg.policyPackName,
      displayName: `${cfg.serviceProject} promotion policies`,
      versionTag: cfg.policyPackVersion,
      sourcePath: cfg.policyPackDir,
    },
    opts,
  );
  const group = new service.PolicyGroup(
    "production-policy-group",
    {
      organizationName: cfg.organization,
      name: `${cfg.serviceProject}-production`,
      entityType: "stacks",
      mode: "preventative",
      stacks: [{ routingProject: cfg.serviceProject, name: "production" }],
      policyPacks: [{ name: pack.name, versionTag: pack.versionTag, config: cfg.productionPolicyConfig }],
    },
    opts,
  );
  return { pack, group };
}
