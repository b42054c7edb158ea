/**
 * `npm run promote -- history`: past promotions and rollbacks of a stack, read from the
 * engine's own update history (each update records the stack config it ran with, so the
 * signed evidence of every production update is part of Pulumi's audit trail).
 */
import { parseCount, parseStackName } from "./cli-args";
import { BadInput } from "./errors";
import { parseSignedEvidence, SignedEvidence } from "./evidence";
import { CanaryHistory, canaryHistory, formatCanaryHistory } from "./canary/history";

export interface HistoryEntry {
  readonly update: number;
  readonly result: string;
  readonly startedAt: string;
  readonly durationSeconds: number | null;
  readonly modelVersion: string | null;
  readonly kind: "promotion" | "rollback" | "none";
  /** The version the evidence names (differs from modelVersion when an update was refused). */
  readonly evidenceFor: string | null;
  readonly approver: string | null;
  /** Who approved which decision (for a rollback: the approvals of the promotion returned to). */
  readonly approvals: readonly { approver: string; signed: boolean; decisionDigest: string }[];
  readonly returnedFrom?: string;
  readonly measured: SignedEvidence["record"]["measured"] | null;
  readonly evidenceCreatedAt: string | null;
  /** The canary step this update ran, with its verdict, and the canary walk it ended (canary/history.ts). */
  readonly canary?: CanaryHistory;
}

export const HISTORY_USAGE = `Usage: npm run promote -- history [--to STACK] [--json] [--limit N]

Lists the updates of the production stack (default: production) with the promotion or
rollback evidence each ran with: who approved, which version, when, and the measured numbers;
under an update that ran a canary step, its weight and verdict, and under the update that ended
a canary walk, every step with its verdict and both arms' error rates.
`;

export async function readHistory(stackName: string, limit: number): Promise<HistoryEntry[]> {
  // The engine's own CLI (engine-cli.ts), loaded here: `history --help` never needs it.
  const { stackHistory } = await import("./engine-cli");
  const updates = await stackHistory(stackName, limit);
  // A local file backend numbers no updates (every version is 0): count them instead,
  // oldest first, as a service backend does.
  const numbered = updates.some((u) => u.version > 0);
  const canary = canaryHistory(
    updates.map((u) => Object.fromEntries(Object.entries(u.config ?? {}).map(([k, v]) => [k, v.value]))),
  );
  return updates.map((u, i) => {
    const raw = u.config?.["churn-model:promotionEvidence"]?.value;
    let evidence: SignedEvidence | undefined;
    try {
      evidence = raw ? parseSignedEvidence(raw) : undefined;
    } catch {
      evidence = undefined;
    }
    const record = evidence?.record;
    return {
      update: numbered ? u.version : updates.length - i,
      result: `${u.kind} ${u.result}`,
      startedAt: u.startTime.toISOString(),
      durationSeconds: u.endTime ? Math.round((u.endTime.getTime() - u.startTime.getTime()) / 1000) : null,
      modelVersion: u.config?.["churn-model:modelVersion"]?.value ?? null,
      kind: record?.kind ?? "none",
      evidenceFor: record?.modelVersion ?? null,
      approver: record?.approver ?? null,
      approvals: (
        (record?.kind === "rollback" ? record.rollbackOf?.record.approvals : record?.approvals) ?? []
      ).map((a) => ({
        approver: a.statement.approver,
        signed: a.signature !== null,
        decisionDigest: a.statement.decisionDigest,
      })),
      ...(record?.kind === "rollback" && record.rollbackOf
        ? { returnedFrom: record.rollbackOf.record.modelVersion }
        : {}),
      measured: record?.measured ?? null,
      evidenceCreatedAt: record?.createdAt ?? null,
      ...(canary[i].step !== undefined || canary[i].walk !== undefined ? { canary: canary[i] } : {}),
    };
  });
}

export function formatHistory(entries: readonly HistoryEntry[]): string {
  const rows = [
    [
      "update",
      "started (UTC)",
      "result",
      "version",
      "evidence",
      "approver",
      "decision",
      "accuracy",
      "p99 ms",
      "errors",
      "soak h",
    ],
  ];
  for (const e of entries) {
    const m = e.measured;
    rows.push([
      String(e.update),
      e.startedAt.replace("T", " ").slice(0, 19),
      e.result,
      e.modelVersion ?? "-",
      e.evidenceFor ? `${e.kind} of ${e.evidenceFor}` : e.kind,
      e.approvals.length > 0
        ? e.approvals.map((a) => `${a.approver}${a.signed ? " (signed)" : ""}`).join(", ")
        : (e.approver ?? "-"),
      e.approvals.length > 0
        ? [...new Set(e.approvals.map((a) => a.decisionDigest.slice(0, 19)))].join(", ")
        : "-",
      m ? m.accuracy.toFixed(3) : "-",
      m ? m.latencyP99Ms.toFixed(0) : "-",
      m ? m.errorRate.toFixed(4) : "-",
      m ? m.soakHours.toFixed(2) : "-",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  // Each row, then the canary step it ran and the canary walk it ended, if any.
  return (
    rows
      .map((r, i) =>
        [
          r
            .map((c, k) => c.padEnd(widths[k]))
            .join("  ")
            .trimEnd(),
          ...(i > 0 && entries[i - 1].canary ? formatCanaryHistory(entries[i - 1].canary!) : []),
        ].join("\n"),
      )
      .join("\n") + "\n"
  );
}

export function parseHistoryArgs(argv: readonly string[]): {
  to: string;
  json: boolean;
  limit: number;
  help: boolean;
} {
  const o = { to: "production", json: false, limit: 50, help: false };
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json" || a === "--help" || a === "-h") {
      const flag = a === "-h" ? "--help" : a;
      if (given.has(flag)) throw new BadInput(`${flag} was given twice`);
      given.add(flag);
      if (flag === "--json") o.json = true;
      else o.help = true;
    } else if (a === "--to" || a === "--limit") {
      const v = argv[++i];
      if (v === undefined) throw new BadInput(`${a} needs a value`);
      if (given.has(a)) throw new BadInput(`${a} was given twice`);
      given.add(a);
      if (a === "--to") o.to = parseStackName(v, "--to");
      else o.limit = parseCount(v, "--limit", 1, 1000);
    } else throw new BadInput(`unknown option ${JSON.stringify(a)} for history (see --help)`);
  }
  return o;
}
