/**
 * Everything Pulumi Cloud needs to deliver churn-model: deployment settings and drift
 * detection on both stacks, the promotion policy pack enforced on production, the
 * approval-gated release route to production and notification webhooks.
 */
import * as pulumi from "@pulumi/pulumi";
import { releaseRunner } from "./access";
import { DeliveryConfig } from "./config";
import { stackNotifications } from "./notifications";
import { policyEnforcement } from "./policy";
import { releaseRoute } from "./approval-route";
import { qualifiedEnvironment, qualifiedStack, stackDelivery } from "./settings";

export interface DeliveryOutputs {
  readonly stacks: string[];
  readonly releaseEnvironment: string;
  readonly policyGroup: pulumi.Output<string>;
  readonly policyPack: pulumi.Output<string>;
  readonly releaseCommand: string;
}

export function declareDelivery(cfg: DeliveryConfig, opts?: pulumi.CustomResourceOptions): DeliveryOutputs {
  const runner = releaseRunner(cfg, opts);
  const staging = stackDelivery(cfg, "staging", undefined, opts);
  const production = stackDelivery(cfg, "production", runner.token.value, opts);
  const policy = policyEnforcement(cfg, opts);
  releaseRoute(cfg, production.settings, runner, opts);
  stackNotifications(cfg, "staging", { ...opts, dependsOn: [staging.settings] });
  stackNotifications(cfg, "production", { ...opts, dependsOn: [production.settings] });
  const releaseEnvironment = qualifiedEnvironment(cfg, cfg.releaseEnvironment);
  return {
    stacks: [qualifiedStack(cfg, "staging"), qualifiedStack(cfg, "production")],
    releaseEnvironment,
    policyGroup: policy.group.name,
    policyPack: pulumi.interpolate`${policy.pack.name}@${policy.pack.versionTag}`,
    releaseCommand: `pulumi env set ${releaseEnvironment} release.modelVersion <version> --draft`,
  };
}
