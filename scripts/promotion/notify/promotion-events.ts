/**
 * A promotion's life as notification events. The promotion reports what it learns (each gate
 * decision, the evidence it signed, a canary step) and how it ended (its result or its typed
 * error); this turns that into the events of docs/notifications.md. It never throws.
 */
import type { StepRecord } from "../canary/run";
import type { SignedEvidence } from "../evidence";
import { ApprovalMissing, ConcurrentUpdate, exitCodeOf, GateRejected, RolledBack } from "../errors";
import type { Decision } from "../gate";
import type { EventInput, EventType } from "./events";
import { EventSink, SILENT } from "./notifier";

export interface PromotionEventContext {
  readonly from: string;
  readonly to: string;
  readonly modelVersion?: string;
}

/**
 * The event a promotion that ended with `err` sends, in this order:
 * - GateRejected after a rejecting decision → gate-rejected;
 * - GateRejected otherwise (staging changed under it), ApprovalMissing (no approval, denied,
 *   or a changed decision) and ConcurrentUpdate → aborted: nothing was changed;
 * - RolledBack → rolled-back;
 * - anything else → failed.
 */
export function eventTypeForError(err: unknown, decision: Decision | undefined): EventType {
  if (err instanceof GateRejected) return decision?.decision === "reject" ? "gate-rejected" : "aborted";
  if (err instanceof ApprovalMissing || err instanceof ConcurrentUpdate) return "aborted";
  if (err instanceof RolledBack) return "rolled-back";
  return "failed";
}

export class PromotionEvents {
  private decision: Decision | undefined;
  private decisionDigest: string | undefined;
  private evidence: SignedEvidence | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly ctx: PromotionEventContext,
  ) {}

  /** Sends nothing (dry runs, tests). */
  static silent(ctx: PromotionEventContext): PromotionEvents {
    return new PromotionEvents(SILENT, ctx);
  }

  private send(type: EventType, extra: Partial<EventInput> = {}): void {
    try {
      this.sink.notify({
        type,
        stack: this.ctx.to,
        from: this.ctx.from,
        modelVersion: this.decision?.modelVersion ?? this.ctx.modelVersion ?? null,
        decision: this.decision,
        decisionDigest: this.decisionDigest,
        evidence: this.evidence,
        ...extra,
      });
    } catch {
      // The sink reports its own problems; nothing reaches the promotion.
    }
  }

  /** The latest gate decision (and, once approvals bind to it, its digest). */
  decided(decision: Decision, digest?: string): void {
    this.decision = decision;
    if (digest !== undefined) this.decisionDigest = digest;
  }

  /** The evidence the update carries. */
  signed(evidence: SignedEvidence): void {
    this.evidence = evidence;
  }

  /** The gate passed and the promotion now needs an approval. */
  approvalRequested(): void {
    this.send("approval-requested");
  }

  /** A canary step was taken (weight, step number, what was measured). */
  canaryStep(reason: string, details: Readonly<Record<string, string | number | boolean | null>>): void {
    this.send("canary-step", { reason, details });
  }

  /** A canary step ended (passed or aborted): its weight, verdict and the replicas of both arms. */
  canaryStepEnded(step: StepRecord): void {
    this.canaryStep(`canary step ${step.index} (${step.weight} %) ended ${step.verdict}: ${step.reason}`, {
      step: step.index,
      weight: step.weight,
      verdict: step.verdict,
      canaryReplicas: step.canaryReplicas,
      stableReplicas: step.stableReplicas,
      analyses: step.analyses,
    });
  }

  /** The promotion went through. */
  promoted(): void {
    this.send("promoted", { details: { exitCode: 0 } });
  }

  /** The promotion ended with `err`. */
  ended(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.send(eventTypeForError(err, this.decision), { reason, details: { exitCode: exitCodeOf(err) } });
  }

  drain(): Promise<void> {
    return this.sink.drain().catch(() => undefined);
  }
}
