/**
 * The approval a production update needs: an ID given on the command line (CI passes the
 * approver its own gate recorded), or a person at a terminal who types theirs. Without
 * either, ApprovalMissing: nothing is changed.
 */
import * as readline from "readline";
import { parseApprover } from "./cli-args";
import { ApprovalMissing, BadInput } from "./errors";

/** Asks one question and resolves with the answer line. */
export type Ask = (question: string) => Promise<string>;

export interface ApprovalRequest {
  readonly modelVersion: string;
  readonly to: string;
  /** `--approved-by`, already validated. */
  readonly approvedBy?: string;
  /** How to ask a person, when stdin and stderr are a terminal. */
  readonly ask?: Ask;
  /** The digest of the decision the person approves, shown in the question. */
  readonly decisionDigest?: string;
}

/** Returns the approver's ID, or throws ApprovalMissing. */
export async function obtainApproval(req: ApprovalRequest): Promise<string> {
  if (req.approvedBy !== undefined) return req.approvedBy;
  if (req.ask === undefined) {
    throw new ApprovalMissing(
      `promoting ${req.modelVersion} to ${req.to} needs an approval: run it on a terminal to be asked, ` +
        "or pass --approved-by ID; nothing was changed",
    );
  }
  const answer = (
    await req.ask(
      `Approve promotion of churn-model ${req.modelVersion} to ${req.to}` +
        `${req.decisionDigest !== undefined ? ` (decision ${req.decisionDigest}, the numbers above)` : ""}? ` +
        "Type your approver ID to approve, or press Enter to deny: ",
    )
  ).trim();
  if (answer === "" || /^(n|no)$/i.test(answer)) {
    throw new ApprovalMissing(
      `promotion of ${req.modelVersion} to ${req.to} was denied at the prompt; nothing was changed`,
    );
  }
  try {
    return parseApprover(answer, "the approver ID typed at the prompt");
  } catch (err) {
    if (err instanceof BadInput) throw new ApprovalMissing(`${err.message}; nothing was changed`);
    throw err;
  }
}

/** A question on a terminal: the prompt goes to `output` (stderr, so stdout stays clean). */
export function terminalAsk(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Ask {
  return (question) =>
    new Promise((resolve) => {
      const rl = readline.createInterface({ input, output, terminal: true });
      let answered = false;
      rl.question(question, (answer) => {
        answered = true;
        rl.close();
        resolve(answer);
      });
      rl.on("close", () => {
        if (!answered) resolve("");
      });
    });
}
