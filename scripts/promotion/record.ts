/**
 * From a passed gate to the evidence record that the runner signs, and from production's
 * current evidence to the rollback record that returns to it. Pure: the caller supplies the
 * approver and the time.
 */
import { analysisRecordOf } from "./analysis-evidence";
import { EVIDENCE_FORMAT, EvidenceRecord, Measured, PromotionTarget, SignedEvidence } from "./evidence";
import type { Approval } from "./approval-records";
import type { Decision, GateMetrics } from "./gate";
import type { StagingSnapshot } from "./outputs";
import type { Thresholds } from "./thresholds";

export interface PromotionRecordInput {
  readonly decision: Decision;
  readonly metrics: GateMetrics;
  readonly thresholds: Thresholds;
  readonly staging: StagingSnapshot;
  readonly approver: string;
  /** The approvals of the decision (docs/approvals.md); the evidence carries them. */
  readonly approvals?: readonly Approval[];
  readonly createdAt: Date;
  /** Production's stack, namespace and the promotion sequence of its last successful update. */
  readonly target: PromotionTarget;
}

function finite(value: number | null | undefined, what: string): number {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    throw new Error(`cannot record evidence: ${what} has no finite value`);
  }
  return value;
}

/** The measured values of a passed gate; throws if the gate did not pass. */
export function measuredFrom(decision: Decision, metrics: GateMetrics): Measured {
  if (decision.decision !== "promote") {
    throw new Error(`cannot record evidence for ${decision.modelVersion}: the gate rejected it`);
  }
  const check = (name: string) => finite(decision.checks.find((c) => c.name === name)?.value, name);
  return {
    accuracy: check("accuracy"),
    latencyP99Ms: check("latency_p99"),
    errorRate: check("error_rate"),
    uptime: check("uptime"),
    soakHours: check("soak_time"),
    requests: finite(metrics.window.requests.value, "requests"),
    labeledPredictions: finite(metrics.window.labeled.value, "labeledPredictions"),
  };
}

/** The promotion evidence record of a passed gate. */
export function promotionRecord(input: PromotionRecordInput): EvidenceRecord {
  const { decision, staging } = input;
  if (decision.modelVersion !== staging.outputs.modelVersion) {
    throw new Error(
      `cannot record evidence: the decision is about ${decision.modelVersion} but staging runs ${staging.outputs.modelVersion}`,
    );
  }
  const artifact = staging.outputs.artifact;
  if (artifact === undefined) {
    throw new Error(`cannot record evidence: ${staging.stack} names no artifact (the digest its pods run)`);
  }
  return {
    format: EVIDENCE_FORMAT,
    kind: "promotion",
    modelVersion: decision.modelVersion,
    image: staging.outputs.image,
    artifact: { ...artifact },
    measured: measuredFrom(decision, input.metrics),
    window: { start: decision.window.start, end: decision.window.end },
    thresholds: { ...input.thresholds },
    staging: {
      stack: staging.stack,
      updateVersion: staging.updateVersion,
      deployedAt: staging.outputs.deployedAt.toISOString(),
    },
    target: { ...input.target },
    approver: input.approver,
    createdAt: input.createdAt.toISOString(),
    analysis: analysisRecordOf(decision, input.metrics, input.thresholds),
    ...(input.approvals !== undefined && input.approvals.length > 0
      ? { approvals: [...input.approvals] }
      : {}),
  };
}

/**
 * The rollback record returning production to the version `current` let in, for `target`
 * (production now), revoking `revokes` (the version rolled back from) with it. When `current`
 * is itself rollback evidence, the promotion evidence it embeds is the one returned to.
 */
export function rollbackRecord(
  current: SignedEvidence,
  approver: string,
  createdAt: Date,
  target: PromotionTarget,
  revokes?: string,
): EvidenceRecord {
  const promotion = current.record.kind === "promotion" ? current : current.record.rollbackOf;
  if (promotion === undefined || promotion.record.kind !== "promotion") {
    throw new Error(
      `cannot roll back to ${current.record.modelVersion}: its evidence embeds no promotion evidence`,
    );
  }
  const r = promotion.record;
  return {
    format: EVIDENCE_FORMAT,
    kind: "rollback",
    modelVersion: r.modelVersion,
    image: r.image,
    artifact: { ...r.artifact },
    measured: { ...r.measured },
    window: { ...r.window },
    thresholds: { ...r.thresholds },
    staging: { ...r.staging },
    target: { ...target },
    ...(revokes !== undefined && revokes !== r.modelVersion ? { revokes } : {}),
    approver,
    createdAt: createdAt.toISOString(),
    ...(r.analysis !== undefined ? { analysis: r.analysis } : {}),
    rollbackOf: promotion,
  };
}
