/**
 * Notification webhooks on both stacks: what a release team watches. A mandatory policy
 * violation fails the preview or update it occurs in, so the failure events carry policy
 * refusals as well as broken updates; drift events report out-of-band changes.
 */
import * as pulumi from "@pulumi/pulumi";
import * as service from "@pulumi/pulumiservice";
import { DeliveryConfig } from "./config";
import { StackName } from "./settings";

export const STACK_EVENTS: readonly service.WebhookFilters[] = [
  service.WebhookFilters.UpdateSucceeded,
  service.WebhookFilters.UpdateFailed,
  service.WebhookFilters.PreviewFailed,
  service.WebhookFilters.DeploymentFailed,
  service.WebhookFilters.DriftDetected,
  service.WebhookFilters.DriftDetectionFailed,
];

export function stackNotifications(
  cfg: DeliveryConfig,
  stack: StackName,
  opts?: pulumi.CustomResourceOptions,
): service.Webhook {
  return new service.Webhook(
    `${stack}-notifications`,
    {
      active: true,
      displayName: `${cfg.serviceProject} ${stack}: updates, policy refusals, drift`,
      organizationName: cfg.organization,
      projectName: cfg.serviceProject,
      stackName: stack,
      payloadUrl: cfg.webhookUrl,
      format: cfg.webhookFormat,
      filters: [...STACK_EVENTS],
      secret: cfg.webhookSecret,
    },
    opts,
  );
}
