/**
 * Who may approve and how many must (the policy config's `approvers`, `minApprovals`,
 * `signaturesRequired`), the quorum the pack, the program and the promotion check, and how a
 * decision evaluated again differs in outcome from an approved one. Pure. See docs/approvals.md.
 */
import {
  Approval,
  approvalSignatureValid,
  APPROVER_ID,
  approverPublicKey,
  DecisionSubject,
  validateApproval,
} from "./approval";
import { ContractError } from "./errors";
import { THRESHOLD_KEYS, Thresholds } from "./thresholds";

/** The approval settings of the `promotion-evidence` policy config section. */
export interface ApprovalPolicy {
  /** Approver ID → Ed25519 public key (SPKI PEM). */
  readonly approvers: Readonly<Record<string, string>>;
  /** Distinct approvers whose signed approvals must verify. Default 1. */
  readonly minApprovals: number;
  /** Whether evidence without minApprovals verifying signed approvals is refused. Default false. */
  readonly signaturesRequired: boolean;
}

export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = Object.freeze({
  approvers: Object.freeze({}),
  minApprovals: 1,
  signaturesRequired: false,
});

/** The pack's config schema of the approval keys. */
export const APPROVAL_CONFIG_SCHEMA: Readonly<Record<string, Record<string, unknown>>> = {
  approvers: {
    type: "object",
    additionalProperties: { type: "string" },
    description: "Approver ID → the Ed25519 public key (SPKI PEM) their approvals verify under.",
  },
  minApprovals: {
    type: "integer",
    minimum: 1,
    maximum: 100,
    description: "Distinct approvers whose signed approvals the evidence must carry (default 1).",
  },
  signaturesRequired: {
    type: "boolean",
    description: "Refuse evidence without minApprovals verifying signed approvals (default false).",
  },
};

/** How far in the future an approvedAt may lie before it counts as forged or mis-clocked. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * The approval settings of a `promotion-evidence` section, or the problems with them, each
 * naming its key (without the section's name).
 */
export function approvalPolicyOf(section: Record<string, unknown>): {
  settings: ApprovalPolicy;
  problems: string[];
} {
  const problems: string[] = [];
  const approvers: Record<string, string> = {};
  const raw = section.approvers;
  if (raw !== undefined) {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      problems.push("approvers must be an object of approver ID → Ed25519 public key (SPKI PEM)");
    } else {
      for (const [id, pem] of Object.entries(raw as Record<string, unknown>)) {
        if (!APPROVER_ID.test(id)) problems.push(`approvers: ${JSON.stringify(id)} is not an approver ID`);
        else if (approverPublicKey(pem) === undefined) {
          problems.push(
            `approvers.${id} must be an Ed25519 public key in SPKI PEM (-----BEGIN PUBLIC KEY-----)`,
          );
        } else approvers[id] = pem as string;
      }
    }
  }
  const min = section.minApprovals ?? 1;
  if (typeof min !== "number" || !Number.isInteger(min) || min < 1 || min > 100) {
    problems.push(
      `minApprovals must be a whole number from 1 to 100 (got ${JSON.stringify(section.minApprovals)})`,
    );
  }
  const required = section.signaturesRequired ?? false;
  if (typeof required !== "boolean") {
    problems.push(
      `signaturesRequired must be true or false (got ${JSON.stringify(section.signaturesRequired)})`,
    );
  }
  if (problems.length === 0 && required === true && Object.keys(approvers).length < (min as number)) {
    problems.push(
      `signaturesRequired needs at least minApprovals (${String(min)}) approvers with keys; approvers lists ${Object.keys(approvers).length}`,
    );
  }
  return problems.length > 0
    ? { settings: DEFAULT_APPROVAL_POLICY, problems }
    : {
        settings: { approvers, minApprovals: min as number, signaturesRequired: required as boolean },
        problems,
      };
}

/** Whether a decision let the candidate in: outcome promote, every enforced check a pass. */
export function decisionPassed(d: DecisionSubject): boolean {
  return d.outcome === "promote" && d.checks.every((c) => c.mode !== "enforce" || c.status === "pass");
}

function value(v: number | null): string {
  return v === null ? "no value" : String(v);
}

/**
 * How `current` differs in outcome from the approved decision; [] when it does not. In order:
 * another version, image or staging deployment; other thresholds; another overall outcome; a
 * check that appeared, disappeared, or has another status or mode. Values may differ (the
 * window moved on); outcomes may not.
 */
export function outcomeChanges(approved: DecisionSubject, current: DecisionSubject): string[] {
  const out: string[] = [];
  if (approved.modelVersion !== current.modelVersion) {
    out.push(`the version is ${current.modelVersion}, the approval is for ${approved.modelVersion}`);
  }
  if (approved.image !== current.image)
    out.push(`the image is ${current.image}, the approval is for ${approved.image}`);
  if (
    approved.staging.stack !== current.staging.stack ||
    Date.parse(approved.staging.deployedAt) !== Date.parse(current.staging.deployedAt)
  ) {
    out.push(
      `staging's deployment is ${current.staging.stack} at ${current.staging.deployedAt}, the approval is for ` +
        `${approved.staging.stack} at ${approved.staging.deployedAt}`,
    );
  }
  const keys = new Set([...Object.keys(approved.thresholds), ...Object.keys(current.thresholds)]);
  for (const k of [...keys].sort()) {
    if (approved.thresholds[k] !== current.thresholds[k]) {
      out.push(
        `threshold ${k} is ${String(current.thresholds[k])}, the approval is for ${String(approved.thresholds[k])}`,
      );
    }
  }
  if (approved.outcome !== current.outcome) {
    out.push(`the gate now decides ${current.outcome}, the approval is for ${approved.outcome}`);
  }
  const before = new Map(approved.checks.map((c) => [c.name, c]));
  const now = new Map(current.checks.map((c) => [c.name, c]));
  for (const [name, c] of now) {
    const b = before.get(name);
    if (b === undefined) out.push(`check ${name} was not in the approved decision`);
    else if (b.status !== c.status || b.mode !== c.mode) {
      out.push(
        `check ${name} is now ${c.status}${c.mode === "dryRun" ? " (dry run)" : ""} at ${value(c.value)}; ` +
          `the approval is for ${b.status}${b.mode === "dryRun" ? " (dry run)" : ""} at ${value(b.value)}`,
      );
    }
  }
  for (const name of before.keys()) {
    if (!now.has(name)) out.push(`check ${name} of the approved decision is gone`);
  }
  return out;
}

/** A stack's own name: `production` for `org/project/production`. */
function stackName(stack: string): string {
  return stack.split("/").pop() ?? stack;
}

/** What approvals are checked against: the evidence record they travel in. */
export interface ApprovedRecord {
  readonly modelVersion: string;
  readonly image: string;
  readonly staging: { readonly stack: string; readonly deployedAt: string };
  /** When the evidence was signed: the moment of the update. */
  readonly createdAt: string;
}

/** What an approval must match to count, besides the record. */
export interface QuorumContext {
  /** The stack being updated, when known: approvals must be for it. */
  readonly target?: string;
  /** The thresholds of the verifier's policy config: the approved decision must have used them. */
  readonly thresholds?: Thresholds;
  /** Names the evidence in messages. */
  readonly label?: string;
}

function mismatches(a: Approval, record: ApprovedRecord, ctx: QuorumContext): string[] {
  const s = a.statement;
  const d = s.decision;
  const out: string[] = [];
  if (ctx.target !== undefined && stackName(s.target) !== stackName(ctx.target))
    out.push(`is for stack ${s.target}, not ${ctx.target}`);
  if (d.modelVersion !== record.modelVersion)
    out.push(`approves version ${d.modelVersion}, not ${record.modelVersion}`);
  if (d.image !== record.image) out.push(`approves image ${d.image}, not ${record.image}`);
  if (
    d.staging.stack !== record.staging.stack ||
    Date.parse(d.staging.deployedAt) !== Date.parse(record.staging.deployedAt)
  ) {
    out.push(
      `approves the staging deployment of ${d.staging.deployedAt}, not that of ${record.staging.deployedAt}`,
    );
  }
  if (!decisionPassed(d)) out.push("approves a decision that did not pass the gate");
  if (ctx.thresholds !== undefined) {
    const t = ctx.thresholds;
    const other = THRESHOLD_KEYS.filter((k) => d.thresholds[k] !== t[k]);
    if (other.length > 0) {
      out.push(
        `approves a decision made with other thresholds (${other.map((k) => `${k} ${String(d.thresholds[k])}, not ${t[k]}`).join(", ")})`,
      );
    }
  }
  const created = Date.parse(record.createdAt);
  if (Date.parse(s.approvedAt) > created + MAX_CLOCK_SKEW_MS) {
    out.push(`was given at ${s.approvedAt}, after the evidence was signed (${record.createdAt})`);
  }
  if (Date.parse(s.expiresAt) < created) {
    out.push(`expired at ${s.expiresAt}, before the evidence was signed (${record.createdAt})`);
  }
  return out;
}

/**
 * Every reason the approvals do not let the record in under `policy`; [] means they do. When
 * signatures are not required, nothing is checked (approvals are the record of who said yes).
 * Otherwise an approval counts only when, in order: it is well-formed (format, the digest of its
 * own decision); signed by an approver the policy lists, verifying under that key; for the
 * target, the record's version, image and staging deployment, a decision that passed under the
 * verifier's thresholds; given before the record was signed and not expired then. Then at least
 * minApprovals distinct approvers must count.
 */
export function approvalProblems(
  approvals: readonly unknown[] | undefined,
  record: ApprovedRecord,
  policy: ApprovalPolicy,
  ctx: QuorumContext = {},
): string[] {
  if (!policy.signaturesRequired) return [];
  const label = ctx.label ?? "the evidence";
  const problems: string[] = [];
  const counted = new Set<string>();
  (approvals ?? []).forEach((raw, i) => {
    const at = `approval ${i + 1}`;
    let a: Approval;
    try {
      a = validateApproval(raw, at);
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      problems.push(`${label}: ${err.message}`);
      return;
    }
    const s = a.statement;
    const who = `${at} (${s.approver})`;
    const pem = policy.approvers[s.approver];
    if (a.signature === null) problems.push(`${label}: ${who} is not signed`);
    else if (pem === undefined)
      problems.push(`${label}: ${who} is by an approver the policy config does not list`);
    else if (!approvalSignatureValid(a, pem)) {
      problems.push(`${label}: ${who} carries a signature that does not verify under ${s.approver}'s key`);
    } else {
      const wrong = mismatches(a, record, ctx);
      if (wrong.length > 0) problems.push(`${label}: ${who} ${wrong.join("; ")}`);
      else counted.add(s.approver);
    }
  });
  if (counted.size >= policy.minApprovals) return [];
  return [
    `${label} carries ${counted.size} verifying signed approval${counted.size === 1 ? "" : "s"} from distinct approvers; ` +
      `the policy config requires ${policy.minApprovals} (minApprovals)`,
    ...problems,
  ];
}
