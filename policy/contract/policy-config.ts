/**
 * The policy-config file (policy/config/<environment>.json, Pulumi's policy-config format):
 * one parser for everyone who reads it — the promotion tools, the program, the Deployments
 * program and tests. The pack itself receives the same sections from the engine. See
 * docs/design.md ("Policy config").
 */
import { AnalysisSettings, parseAnalysisSettings } from "./analysis";
import { ApprovalPolicy, approvalPolicyOf } from "./approval-quorum";
import { PromotionStrategies, promotionStrategiesOf } from "./canary-config";
import { ContractError } from "./errors";
import { EVIDENCE_POLICY } from "./names";
import { parseThresholds, Thresholds } from "./thresholds";
import { rollbackAgeOf } from "./position";

export interface PolicyConfig {
  /** The `promotion-evidence` thresholds. */
  readonly thresholds: Thresholds;
  /** How the gate analyses a window (the analysis keys of the same section, defaults applied). */
  readonly analysis: AnalysisSettings;
  /** The promotion strategies the target accepts and the canary settings (docs/canary.md). */
  readonly strategies: PromotionStrategies;
  /** Who may approve and how many must (docs/approvals.md). */
  readonly approvals: ApprovalPolicy;
  /** Oldest promotion a rollback may return to, days (position.ts; default 30). */
  readonly maxRollbackEvidenceAgeDays: number;
  /** The Ed25519 key (SPKI PEM) that verifies evidence; absent in a gate-only config. */
  readonly publicKey: string | undefined;
  /** `image-pinning.allowedRegistries`, when the file sets it. */
  readonly allowedRegistries: readonly string[] | undefined;
  /** `environment-label.environment`, when the file sets it. */
  readonly environment: string | undefined;
  /** Every section as the file holds it (what a policy group is given). */
  readonly sections: Readonly<Record<string, unknown>>;
}

/**
 * Why an allowedRegistries entry is refused, or undefined: its first host label (an ECR
 * registry's account ID, any other registry's host name) must be concrete, so an entry names
 * one account's registries, never every account's (`*.dkr.ecr.*.amazonaws.com`).
 */
export function registryEntryProblem(entry: string): string | undefined {
  const firstLabel = entry.split("/")[0].split(".")[0];
  return firstLabel.includes("*")
    ? `entry ${JSON.stringify(entry)} has a wildcard in its first host label (the account): name each registry's account`
    : undefined;
}

function section(obj: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const v = obj[name];
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** Parses an already decoded policy config; throws ContractError naming `source` and the key. */
export function parsePolicyConfig(value: unknown, source: string): PolicyConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ContractError(`${source} must hold a JSON object of policy settings`);
  }
  const obj = value as Record<string, unknown>;
  if (!(EVIDENCE_POLICY in obj)) {
    throw new ContractError(
      `${source} has no "${EVIDENCE_POLICY}" section (the thresholds the policy enforces)`,
    );
  }
  const evidence = obj[EVIDENCE_POLICY];
  const thresholds = parseThresholds(evidence, source);
  const analysis = parseAnalysisSettings(evidence as Record<string, unknown>);
  const strategies = promotionStrategiesOf(evidence as Record<string, unknown>);
  const approvals = approvalPolicyOf(evidence as Record<string, unknown>);
  const rollbackAge = rollbackAgeOf(evidence as Record<string, unknown>);
  const problems: string[] = [
    ...analysis.problems,
    ...strategies.problems,
    ...approvals.problems,
    ...rollbackAge.problems,
  ].map((p) => `"${EVIDENCE_POLICY}".${p}`);
  const key = (evidence as Record<string, unknown>).publicKey;
  if (key !== undefined && (typeof key !== "string" || !key.includes("BEGIN PUBLIC KEY"))) {
    problems.push(
      `"${EVIDENCE_POLICY}".publicKey must be an SPKI PEM public key (-----BEGIN PUBLIC KEY-----)`,
    );
  }
  const registries = section(obj, "image-pinning")?.allowedRegistries;
  if (
    registries !== undefined &&
    (!Array.isArray(registries) || registries.some((r) => typeof r !== "string" || r.trim() === ""))
  ) {
    problems.push(`"image-pinning".allowedRegistries must be a list of registry prefixes`);
  } else if (registries !== undefined) {
    for (const entry of registries as string[]) {
      const problem = registryEntryProblem(entry);
      if (problem !== undefined) problems.push(`"image-pinning".allowedRegistries: ${problem}`);
    }
  }
  const environment = section(obj, "environment-label")?.environment;
  if (environment !== undefined && typeof environment !== "string") {
    problems.push(`"environment-label".environment must be a string`);
  }
  if (problems.length > 0) {
    throw new ContractError(`${source}: ${problems.join("; ")}`, problems);
  }
  return {
    thresholds,
    analysis: analysis.settings,
    strategies: strategies.settings,
    approvals: approvals.settings,
    maxRollbackEvidenceAgeDays: rollbackAge.days,
    publicKey: typeof key === "string" && key.trim() !== "" ? key : undefined,
    allowedRegistries: registries as readonly string[] | undefined,
    environment: environment as string | undefined,
    sections: obj,
  };
}

/** Parses a policy config from its JSON text; throws ContractError naming `source`. */
export function parsePolicyConfigText(text: string, source: string): PolicyConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ContractError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  return parsePolicyConfig(parsed, source);
}
