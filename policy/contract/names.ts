/**
 * The names every part of the delivery agrees on: the model, its labels and annotations, the
 * policy pack and the policy whose config section holds the thresholds. See docs/design.md
 * ("Contracts").
 */

/** The model's name: the Deployment's name, its app label and its image repository's last segment. */
export const MODEL_NAME = "churn-model";

/** The policy pack's name, as published to an organization and named in policy groups. */
export const PACK_NAME = "churn-model";

/** The policy whose config section holds the thresholds and the evidence key. */
export const EVIDENCE_POLICY = "promotion-evidence";

/** The Deployment annotation that carries the signed evidence JSON, unchanged. */
export const EVIDENCE_ANNOTATION = "churn-model/promotion-evidence";

/** The Deployment annotation naming the model version it runs (a label value cannot hold a digest). */
export const MODEL_VERSION_ANNOTATION = "churn-model/model-version";

/** The label that says which environment a workload belongs to: "staging" or "production". */
export const ENVIRONMENT_LABEL = "churn-model/environment";

/** The standard app-name label; the churn-model service carries MODEL_NAME. */
export const APP_NAME_LABEL = "app.kubernetes.io/name";

/** The standard version label; its value is versionLabel(modelVersion). */
export const APP_VERSION_LABEL = "app.kubernetes.io/version";

/** The pod label naming a canary track (value CANARY_TRACK); the stable's pods carry none (docs/canary.md). */
export const TRACK_LABEL = "churn-model/track";
export const CANARY_TRACK = "canary";

/** The environments a stack can be. */
export type Environment = "staging" | "production";
export const ENVIRONMENTS: readonly Environment[] = ["staging", "production"];
