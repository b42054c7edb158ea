import { PolicyConfigSchema, ReportViolation, ResourceValidationPolicy } from "@pulumi/policy";
import {
  ANALYSIS_CONFIG_SCHEMA,
  APPROVAL_CONFIG_SCHEMA,
  ContractError,
  DEFAULT_THRESHOLDS,
  EVIDENCE_ANNOTATION,
  EVIDENCE_POLICY,
  isSandboxKey,
  sandboxApprover,
  keyFingerprint,
  parsePolicyConfig,
  parsePositionText,
  PolicyConfig,
  POSITION_ANNOTATION,
  PromotionPosition,
  ROLLBACK_CONFIG_SCHEMA,
  projectOfUrn,
  SANDBOX_PROJECT,
  stableChainOfEvidence,
  STRATEGIES,
  thresholdSchemaProperties,
  Thresholds,
  verifyEvidence,
} from "../contract";
import { isUnknownValueError, record, text, unknownPath } from "../lib/values";
import {
  containersOf,
  imageVersion,
  isCanaryTrack,
  isChurnModelWorkload,
  isProduction,
  MODEL_NAME,
  parseImage,
  Workload,
  workloadOf,
} from "../lib/workloads";

export interface PromotionEvidenceConfig extends Thresholds {
  /** The Ed25519 key that verifies evidence, SPKI PEM. Without it nothing verifies. */
  readonly publicKey?: string;
  /** Approver ID → Ed25519 public key (SPKI PEM) (docs/approvals.md). */
  readonly approvers?: Record<string, string>;
  /** Distinct approvers whose signed approvals must verify (default 1). */
  readonly minApprovals?: number;
  /** Refuse evidence without minApprovals verifying signed approvals (default false). */
  readonly signaturesRequired?: boolean;
}

export { DEFAULT_THRESHOLDS };

const configSchema: PolicyConfigSchema = {
  properties: {
    ...(thresholdSchemaProperties() as PolicyConfigSchema["properties"]),
    publicKey: { type: "string", description: "The Ed25519 public key (SPKI PEM) that verifies evidence." },
    strategies: {
      type: "array",
      items: { type: "string", enum: [...STRATEGIES] },
      description: "The promotion strategies this target accepts, the first the default (docs/canary.md).",
    },
    canary: {
      type: "object",
      description: "The canary steps and comparison criteria (docs/canary.md); read by the promotion.",
    },
    ...(ANALYSIS_CONFIG_SCHEMA as PolicyConfigSchema["properties"]),
    ...(APPROVAL_CONFIG_SCHEMA as PolicyConfigSchema["properties"]),
    ...(ROLLBACK_CONFIG_SCHEMA as PolicyConfigSchema["properties"]),
  },
};

/**
 * The engine's config of this policy is the policy config's `promotion-evidence` section (with
 * the schema's defaults); it goes through the one policy-config parser like every other reader.
 */
function policyConfigOf(config: PromotionEvidenceConfig): PolicyConfig {
  return parsePolicyConfig({ [EVIDENCE_POLICY]: config }, "the policy config");
}

function checkEvidence(
  w: Workload,
  config: PromotionEvidenceConfig,
  report: ReportViolation,
  now: Date,
  project: string | undefined,
  stack: string | undefined,
): void {
  let policyConfig: PolicyConfig;
  try {
    policyConfig = policyConfigOf(config);
  } catch (err) {
    if (err instanceof ContractError) {
      report(`${w.display}: no promotion evidence can pass: ${err.message}`);
      return;
    }
    throw err;
  }
  if (project !== SANDBOX_PROJECT && isSandboxKey(policyConfig.publicKey)) {
    report(
      `${w.display}: the policy config's evidence key is the sandbox's demo key (fingerprint ` +
        `${keyFingerprint(policyConfig.publicKey!)}), whose private half is public: production of project ` +
        `${project ?? "(unknown)"} never trusts it (only stacks of project ${SANDBOX_PROJECT} do)`,
    );
    return;
  }
  const sandboxed =
    project === SANDBOX_PROJECT ? undefined : sandboxApprover(policyConfig.approvals.approvers);
  if (sandboxed !== undefined) {
    report(
      `${w.display}: the policy config lists approver ${sandboxed} with the sandbox's demo approver key, whose ` +
        `private half is public: production of project ${project ?? "(unknown)"} never trusts it (only stacks ` +
        `of project ${SANDBOX_PROJECT} do)`,
    );
    return;
  }
  const evidence = record(w.metadata?.annotations)?.[EVIDENCE_ANNOTATION];
  if (evidence === undefined) {
    report(
      `${w.display} runs in production without promotion evidence: the annotation ${EVIDENCE_ANNOTATION} ` +
        "must hold the signed evidence the promotion wrote",
    );
    return;
  }
  if (typeof evidence !== "string") {
    report(
      `${w.display}: the annotation ${EVIDENCE_ANNOTATION} must be a string holding the signed evidence`,
    );
    return;
  }
  const models = containersOf(w).filter((c) => {
    const image = text(c.props.image);
    return image !== undefined && parseImage(image)?.name === MODEL_NAME;
  });
  if (models.length === 0) {
    report(
      `${w.display} runs no ${MODEL_NAME} image, so its promotion evidence cannot be matched to a version`,
    );
    return;
  }
  const position = positionOf(w, report);
  if (position === undefined) return;
  const namespace = text(w.metadata?.namespace) ?? "default";
  const problems = new Set<string>();
  for (const c of models) {
    const image = text(c.props.image) ?? "";
    const version = imageVersion(parseImage(image)!);
    if (version === undefined) {
      problems.add(`${c.label} runs ${image}, which names no version (a tag or a digest)`);
      continue;
    }
    const found = verifyEvidence(evidence, {
      publicKeyPem: policyConfig.publicKey,
      thresholds: policyConfig.thresholds,
      analysis: policyConfig.analysis,
      imageVersion: version,
      image,
      now,
      approvals: policyConfig.approvals,
      target: stack,
      position: {
        position,
        namespace,
        maxRollbackEvidenceAgeDays: policyConfig.maxRollbackEvidenceAgeDays,
        ...(project !== undefined && stack !== undefined ? { stackSuffix: `${project}/${stack}` } : {}),
      },
    });
    for (const p of found) {
      problems.add(`${w.display}: ${p}`);
    }
  }
  if (problems.size === 0 && !isCanaryTrack(w)) {
    // The stable moves only as the target's strategies allow (docs/canary.md, "The canary chain").
    for (const p of stableChainOfEvidence(evidence, policyConfig.strategies))
      problems.add(`${w.display}: ${p}`);
  }
  for (const p of problems) {
    report(p);
  }
}

/**
 * The position of production the program read from the engine (its own stack's last
 * successful update) and wrote on the workload; reported and undefined when absent or malformed.
 */
function positionOf(w: Workload, report: ReportViolation): PromotionPosition | undefined {
  const raw = record(w.metadata?.annotations)?.[POSITION_ANNOTATION];
  if (typeof raw !== "string") {
    report(
      `${w.display} runs in production without production's position: the annotation ${POSITION_ANNOTATION} ` +
        "must hold the promotion sequence the program read from the stack's last successful update " +
        "(target.follows cannot be checked without it)",
    );
    return undefined;
  }
  try {
    return parsePositionText(raw, `the annotation ${POSITION_ANNOTATION}`);
  } catch (err) {
    if (err instanceof ContractError) {
      report(`${w.display}: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

/** The stack of a resource's URN (`urn:pulumi:<stack>::<project>::…`), when it names one. */
function stackOfUrn(urn: string | undefined): string | undefined {
  const m = /^urn:pulumi:([^:]+)::/.exec(urn ?? "");
  return m === null ? undefined : m[1];
}

/**
 * Production runs only model versions the promotion proved in staging. Evidence unknown at
 * preview is a violation: a production version must be provable before the update runs.
 */
export const promotionEvidence: ResourceValidationPolicy = {
  name: EVIDENCE_POLICY,
  description:
    "A churn-model workload in production must carry signed promotion evidence that names exactly the " +
    "version its image runs, holds staging metrics meeting this policy's thresholds, and is younger than " +
    "maxEvidenceAgeHours; the stable's evidence must show a passed canary where only canary is accepted, " +
    "and a quorum of signed approvals where signatures are required.",
  enforcementLevel: "mandatory",
  configSchema,
  validateResource: (args, report) => {
    const w = workloadOf(args.type, args.props, args.name);
    if (w === undefined) {
      return;
    }
    try {
      // A workload known to be staging needs no evidence; one whose environment is unknown
      // counts as production once it is known to be the churn-model service.
      let production: boolean | Error;
      try {
        production = isProduction(w);
      } catch (err) {
        if (!isUnknownValueError(err)) {
          throw err;
        }
        production = err;
      }
      if (production === false || !isChurnModelWorkload(w)) {
        return;
      }
      if (production instanceof Error) {
        throw production;
      }
      checkEvidence(
        w,
        args.getConfig<PromotionEvidenceConfig>(),
        report,
        new Date(),
        projectOfUrn(args.urn),
        stackOfUrn(args.urn),
      );
    } catch (err) {
      if (!isUnknownValueError(err)) {
        throw err;
      }
      report(
        `${w.display}: promotion evidence could not be verified because ${unknownPath(err)} is unknown at ` +
          "preview; a production version must be provable before the update runs",
      );
    }
  },
};
