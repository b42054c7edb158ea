/**
 * The approval step of a promotion: the approvals given (`--approval FILE`, $CHURN_APPROVALS)
 * and, when none is or `--approved-by` names one, an unsigned approval by name (flag or prompt),
 * all checked against the decision just shown before anything changes; and, just before the
 * update, against the gate evaluated again. See docs/approvals.md.
 */
import {
  Approval,
  approvalsFromEnv,
  checkApprovals,
  checkStillApproved,
  decisionSubject,
  DecisionSubject,
  digestOf,
  readApprovalFile,
  unsignedApproval,
} from "./approval-records";
import { Ask, obtainApproval } from "./approval";
import type { PromoteOptions } from "./cli-args";
import type { Decision } from "./gate";
import type { StagingSnapshot } from "./outputs";
import { loadPolicyConfig, Thresholds } from "./thresholds";

/** A gate result as the approval sees it. */
export interface ApprovedGate {
  readonly decision: Decision;
  readonly staging: StagingSnapshot;
  readonly thresholds: Thresholds;
  readonly thresholdsFile: string;
}

export interface ApprovalStep {
  readonly options: PromoteOptions;
  readonly ask?: Ask;
  readonly now: () => Date;
  readonly log: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Called when a person is to be asked (no approval given): the approval-requested event. */
  readonly requested: () => void;
}

/** The decision subject of a gate result and its digest. */
export function subjectOf(gate: ApprovedGate): { subject: DecisionSubject; digest: string } {
  const subject = decisionSubject(gate.decision, gate.staging, gate.thresholds);
  return { subject, digest: digestOf(subject) };
}

/** The approvals of the decision `gate` made; throws ApprovalMissing (exit 4) when they do not do. */
export async function approvalsFor(step: ApprovalStep, gate: ApprovedGate): Promise<Approval[]> {
  const { options } = step;
  const { subject, digest } = subjectOf(gate);
  const approvals = [...options.approvals.map(readApprovalFile), ...approvalsFromEnv(step.env ?? {})];
  if (approvals.length === 0 || options.approvedBy !== undefined) {
    if (options.approvedBy === undefined) step.requested();
    const named = await obtainApproval({
      modelVersion: subject.modelVersion,
      to: options.to,
      approvedBy: options.approvedBy,
      ask: step.ask,
      decisionDigest: digest,
    });
    approvals.push(unsignedApproval(subject, options.to, named, step.now()));
  }
  const policy = loadPolicyConfig(gate.thresholdsFile).approvals;
  checkApprovals(approvals, subject, options.to, policy, step.now());
  step.log(
    `Approved by ${approvals
      .map(
        (a) =>
          `${a.statement.approver} (${a.signature === null ? "unsigned" : "signed"}, ${a.statement.decisionDigest})`,
      )
      .join(", ")}.`,
  );
  return approvals;
}

/**
 * Just before the update: the gate evaluated again decides as approved and no approval
 * expired; else ApprovalMissing (exit 4), with `report` showing the new numbers first.
 */
export function stillApproved(
  approvals: readonly Approval[],
  again: ApprovedGate,
  now: Date,
  report: (digest: string) => void,
): void {
  const { subject, digest } = subjectOf(again);
  try {
    checkStillApproved(approvals, subject, now);
  } catch (err) {
    report(digest);
    throw err;
  }
}

/** The approvers' IDs as the evidence's `approver` names them. */
export function approversOf(approvals: readonly Approval[]): string {
  return [...new Set(approvals.map((a) => a.statement.approver))].join(", ");
}
