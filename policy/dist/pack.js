"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.policies = exports.PACK_NAME = void 0;
const artifact_bucket_protection_1 = require("./policies/artifact-bucket-protection");
const container_probes_1 = require("./policies/container-probes");
const container_resources_1 = require("./policies/container-resources");
const container_security_context_1 = require("./policies/container-security-context");
const ecr_repository_hardening_1 = require("./policies/ecr-repository-hardening");
const environment_label_1 = require("./policies/environment-label");
const image_pinning_1 = require("./policies/image-pinning");
const production_autoscaling_1 = require("./policies/production-autoscaling");
const production_disruption_budget_1 = require("./policies/production-disruption-budget");
const production_replicas_1 = require("./policies/production-replicas");
const promotion_evidence_1 = require("./policies/promotion-evidence");
exports.PACK_NAME = "churn-model";
exports.policies = [
    promotion_evidence_1.promotionEvidence,
    environment_label_1.environmentLabel,
    image_pinning_1.imagePinning,
    container_resources_1.containerResources,
    container_probes_1.containerProbes,
    container_security_context_1.containerSecurityContext,
    production_replicas_1.productionReplicas,
    production_autoscaling_1.productionAutoscaling,
    production_disruption_budget_1.productionDisruptionBudget,
    ecr_repository_hardening_1.ecrRepositoryHardening,
    artifact_bucket_protection_1.artifactBucketProtection,
];
