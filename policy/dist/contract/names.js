"use strict";
/**
 * The names every part of the delivery agrees on: the model, its labels and annotations, the
 * policy pack and the policy whose config section holds the thresholds. See docs/design.md
 * ("Contracts").
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.ENVIRONMENTS = exports.CANARY_TRACK = exports.TRACK_LABEL = exports.APP_VERSION_LABEL = exports.APP_NAME_LABEL = exports.ENVIRONMENT_LABEL = exports.MODEL_VERSION_ANNOTATION = exports.EVIDENCE_ANNOTATION = exports.EVIDENCE_POLICY = exports.PACK_NAME = exports.MODEL_NAME = void 0;
/** The model's name: the Deployment's name, its app label and its image repository's last segment. */
exports.MODEL_NAME = "churn-model";
/** The policy pack's name, as published to an organization and named in policy groups. */
exports.PACK_NAME = "churn-model";
/** The policy whose config section holds the thresholds and the evidence key. */
exports.EVIDENCE_POLICY = "promotion-evidence";
/** The Deployment annotation that carries the signed evidence JSON, unchanged. */
exports.EVIDENCE_ANNOTATION = "churn-model/promotion-evidence";
/** The Deployment annotation naming the model version it runs (a label value cannot hold a digest). */
exports.MODEL_VERSION_ANNOTATION = "churn-model/model-version";
/** The label that says which environment a workload belongs to: "staging" or "production". */
exports.ENVIRONMENT_LABEL = "churn-model/environment";
/** The standard app-name label; the churn-model service carries MODEL_NAME. */
exports.APP_NAME_LABEL = "app.kubernetes.io/name";
/** The standard version label; its value is versionLabel(modelVersion). */
exports.APP_VERSION_LABEL = "app.kubernetes.io/version";
/** The pod label naming a canary track (value CANARY_TRACK); the stable's pods carry none (docs/canary.md). */
exports.TRACK_LABEL = "churn-model/track";
exports.CANARY_TRACK = "canary";
exports.ENVIRONMENTS = ["staging", "production"];
