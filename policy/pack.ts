/** The churn-model policy pack's name and policies; index.ts serves them to the engine. */
import { Policies } from "@pulumi/policy";
import { artifactBucketProtection } from "./policies/artifact-bucket-protection";
import { containerProbes } from "./policies/container-probes";
import { containerResources } from "./policies/container-resources";
import { containerSecurityContext } from "./policies/container-security-context";
import { ecrRepositoryHardening } from "./policies/ecr-repository-hardening";
import { environmentLabel } from "./policies/environment-label";
import { imagePinning } from "./policies/image-pinning";
import { productionAutoscaling } from "./policies/production-autoscaling";
import { productionDisruptionBudget } from "./policies/production-disruption-budget";
import { productionReplicas } from "./policies/production-replicas";
import { promotionEvidence } from "./policies/promotion-evidence";

export const PACK_NAME = "churn-model";

export const policies: Policies = [
  promotionEvidence,
  environmentLabel,
  imagePinning,
  containerResources,
  containerProbes,
  containerSecurityContext,
  productionReplicas,
  productionAutoscaling,
  productionDisruptionBudget,
  ecrRepositoryHardening,
  artifactBucketProtection,
];
