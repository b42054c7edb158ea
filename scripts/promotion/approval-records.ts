/**
 * Approval records as the promotion tools use them (the format and its checks are the
 * contract's, policy/contract/approval.ts and approval-quorum.ts): the decision subject of a gate
 * result, approvals from files, from $CHURN_APPROVALS (a CI input), from `--approved-by` or the
 * prompt, the checks before anything changes and just before the update, and the approver's key.
 * See docs/approvals.md.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as contract from "../../policy/contract";
import type { Approval, ApprovalPolicy, DecisionSubject } from "../../policy/contract";
import { underContract } from "./contract-edge";
import { ApprovalMissing, BadInput } from "./errors";
import type { Decision } from "./gate";
import type { StagingSnapshot } from "./outputs";
import type { Thresholds } from "./thresholds";

export type { Approval, ApprovalPolicy, DecisionSubject } from "../../policy/contract";

/** How long an approval given in-process (`--approved-by`, the prompt) counts: this run only. */
export const IN_PROCESS_APPROVAL_MS = 60 * 60 * 1000;

/** Environment variable naming the approver's Ed25519 private key file (PKCS#8 PEM). */
export const APPROVER_KEY_FILE_ENV = "CHURN_APPROVER_PRIVATE_KEY_FILE";

/** Environment variable holding approvals as JSON (one record or a list): a CI input. */
export const APPROVALS_ENV = "CHURN_APPROVALS";

/** The decision an approver approves: what the gate decided, on which numbers, for what. */
export function decisionSubject(
  decision: Decision,
  staging: StagingSnapshot,
  thresholds: Thresholds,
): DecisionSubject {
  return {
    modelVersion: decision.modelVersion,
    image: staging.outputs.image,
    staging: { stack: staging.stack, deployedAt: staging.outputs.deployedAt.toISOString() },
    window: { start: decision.window.start, end: decision.window.end },
    outcome: decision.decision,
    checks: decision.checks.map((c) => ({
      name: c.name,
      value: c.value !== null && Number.isFinite(c.value) ? c.value : null,
      status: c.status,
      mode: c.mode,
    })),
    thresholds: Object.fromEntries(contract.THRESHOLD_KEYS.map((k) => [k, thresholds[k]])),
  };
}

/** `sha256:<hex>` of a decision subject. */
export function digestOf(subject: DecisionSubject): string {
  return underContract(() => contract.decisionDigest(subject));
}

/** A statement of `approver` approving `subject` for `target` from `now` for `ttlMs`. */
export function statementFor(
  subject: DecisionSubject,
  target: string,
  approver: string,
  now: Date,
  ttlMs: number,
): contract.ApprovalStatement {
  return {
    format: contract.APPROVAL_FORMAT,
    target,
    decisionDigest: digestOf(subject),
    decision: subject,
    approver,
    approvedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
  };
}

/** An unsigned approval: the record of a name given on the command line or at the prompt. */
export function unsignedApproval(
  subject: DecisionSubject,
  target: string,
  approver: string,
  now: Date,
): Approval {
  return { statement: statementFor(subject, target, approver, now, IN_PROCESS_APPROVAL_MS), signature: null };
}

/** Reads an approval file (`--approval FILE`); throws BadInput naming the file. */
export function readApprovalFile(file: string): Approval {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new BadInput(
      `--approval ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "read error"})`,
    );
  }
  return underContract(() => contract.parseApproval(text, `approval file ${file}`));
}

/** The approvals $CHURN_APPROVALS holds (one record or a list); [] when unset or blank. */
export function approvalsFromEnv(env: NodeJS.ProcessEnv): Approval[] {
  const text = env[APPROVALS_ENV];
  if (text === undefined || text.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BadInput(`${APPROVALS_ENV} is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((a, i) => underContract(() => contract.validateApproval(a, `${APPROVALS_ENV}[${i}]`)));
}

/** The approver's private key from `--key FILE` or $CHURN_APPROVER_PRIVATE_KEY_FILE. */
export function approverKey(file: string | undefined, env: NodeJS.ProcessEnv): crypto.KeyObject {
  const source = file ?? env[APPROVER_KEY_FILE_ENV];
  if (source === undefined || source.trim() === "") {
    throw new BadInput(
      `approve needs the approver's Ed25519 private key: --key FILE or ${APPROVER_KEY_FILE_ENV}`,
    );
  }
  let pem: string;
  try {
    pem = fs.readFileSync(source, "utf8");
  } catch (err) {
    throw new BadInput(
      `the approver key ${source} cannot be read (${(err as NodeJS.ErrnoException).code ?? "read error"})`,
    );
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new BadInput(`the approver key ${source} is not a private key in PKCS#8 PEM`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new BadInput(
      `the approver key ${source} is a ${key.asymmetricKeyType ?? "other"} key; it must be Ed25519`,
    );
  }
  return key;
}

/** Signs a statement with the approver's key. */
export function signStatement(statement: contract.ApprovalStatement, key: crypto.KeyObject): Approval {
  return underContract(() => contract.signApproval(statement, key));
}

function who(a: Approval): string {
  return `the approval by ${a.statement.approver} (decision ${a.statement.decisionDigest})`;
}

/**
 * What the approvals given for a promotion must be before anything changes, in order:
 * - at least one;
 * - each for this target and a decision that passed the gate and does not differ in outcome
 *   from the current one (checkStillApproved);
 * - when the policy requires signatures: enough distinct approvers whose signatures verify
 *   under the policy's keys (the same check the pack and the program make).
 * Throws ApprovalMissing (exit 4) saying why.
 */
export function checkApprovals(
  approvals: readonly Approval[],
  current: DecisionSubject,
  target: string,
  policy: ApprovalPolicy,
  now: Date,
): void {
  if (approvals.length === 0) {
    throw new ApprovalMissing(`no approval was given for ${current.modelVersion}; nothing was changed`);
  }
  for (const a of approvals) {
    if (a.statement.target !== target) {
      throw new ApprovalMissing(
        `${who(a)} is for stack ${a.statement.target}, not ${target}; nothing was changed`,
      );
    }
    if (!contract.decisionPassed(a.statement.decision)) {
      throw new ApprovalMissing(`${who(a)} approves a decision the gate rejected; nothing was changed`);
    }
  }
  checkStillApproved(approvals, current, now);
  const problems = contract.approvalProblems(
    approvals,
    {
      modelVersion: current.modelVersion,
      image: current.image,
      staging: current.staging,
      createdAt: now.toISOString(),
    },
    policy,
    { target, thresholds: current.thresholds as unknown as Thresholds, label: "the approvals" },
  );
  if (problems.length > 0) {
    throw new ApprovalMissing(
      `the policy config requires signed approvals, and these do not suffice; nothing was changed:\n  - ${problems.join("\n  - ")}`,
    );
  }
}

/**
 * The gate evaluated again must decide as every approval approved (values may move; outcomes
 * may not), and no approval may have expired. Throws ApprovalMissing (exit 4) saying what changed.
 */
export function checkStillApproved(
  approvals: readonly Approval[],
  current: DecisionSubject,
  now: Date,
): void {
  for (const a of approvals) {
    if (Date.parse(a.statement.expiresAt) < now.getTime()) {
      throw new ApprovalMissing(
        `${who(a)} expired at ${a.statement.expiresAt}; nothing was changed: approve the current decision again`,
      );
    }
    const changes = contract.outcomeChanges(a.statement.decision, current);
    if (changes.length > 0) {
      throw new ApprovalMissing(
        `the gate's decision now (${digestOf(current)}) differs in outcome from ${who(a)}; ` +
          `nothing was changed:\n  - ${changes.join("\n  - ")}`,
      );
    }
  }
}
