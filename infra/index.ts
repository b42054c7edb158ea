/**
 * The components of the model service, for this project's program (stacks/program.ts) and for
 * other teams' programs: `ModelService` (a model server on Kubernetes, with an optional canary
 * track), its image and label helpers, and the scrape wiring. The AWS registry and artifact
 * bucket are in infra/aws.ts, imported on their own so that a program without AWS resources
 * never loads @pulumi/aws.
 */
export {
  CanaryTrackArgs,
  EVIDENCE_ANNOTATION,
  MODEL_VERSION_ANNOTATION,
  ModelService,
  ModelServiceArgs,
  ResourceQuantities,
  versionLabel,
} from "./model-service";
export { CANARY_TRACK, canaryPodLabels, TRACK_LABEL } from "./canary";
export { imageFor, imageRunsVersion } from "./image";
export { scrapeAnnotations, scrapeLabels } from "./monitoring";
export { goLiveRecordName } from "./go-live-record";
