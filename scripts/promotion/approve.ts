/**
 * `npm run promote -- approve`: an approver evaluates the gate exactly as a dry run does, sees
 * the numbers and their digest, and signs an approval of that decision with their own Ed25519
 * key into a file the promotion takes with `--approval FILE`. See docs/approvals.md.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { approverKey, signStatement, statementFor } from "./approval-records";
import { subjectOf } from "./approval-flow";
import { parseApprover, parsePromoteArgs, PromoteOptions } from "./cli-args";
import { BadInput, GateRejected } from "./errors";
import { evaluateGate, PromotionDeps } from "./promotion";
import { reportDecision } from "./report";
import { loadPolicyConfig } from "./thresholds";
import { parseDurationMs } from "./parsers";

export const APPROVE_USAGE = `Usage: npm run promote -- approve --approver ID [--key FILE] [options]

Evaluates the gate as a dry run does (same options: --from, --to, --staging-outputs,
--prometheus-url, --thresholds, --window, --at, --queries, --baseline-selector,
--query-timeout), shows the decision and its digest, and writes an approval of exactly
that decision, signed with the approver's Ed25519 key, for \`npm run promote -- --approval FILE\`.
Nothing else changes. A rejected decision cannot be approved (exit 3).

Options:
  --approver ID          who approves: the ID the policy config lists with the public key
  --key FILE             the approver's Ed25519 private key, PKCS#8 PEM
                         (default: $CHURN_APPROVER_PRIVATE_KEY_FILE)
  --expires-in DURATION  how long the approval counts; 1m to 7d (default: 24h)
  --out FILE             where to write it, never over an existing file
                         (default: approval-<version>-<approver>-<digest>.json)
  -h, --help             show this help
`;

export interface ApproveOptions {
  readonly gate: PromoteOptions;
  readonly approver?: string;
  readonly key?: string;
  readonly expiresInMs: number;
  readonly out?: string;
  readonly help: boolean;
}

const OWN_FLAGS = ["--approver", "--key", "--expires-in", "--out"];
const REFUSED = [
  "--dry-run",
  "--approved-by",
  "--approval",
  "--bake",
  "--strategy",
  "--take-over-from",
  "--notify",
];
const MAX_EXPIRY_MS = 7 * 24 * 3_600_000;

/** Splits approve's own flags from the gate's; refuses flags that make no sense here. */
export function parseApproveArgs(argv: readonly string[]): ApproveOptions {
  const own = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const name = eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
    if (REFUSED.includes(name)) throw new BadInput(`approve does not take ${name} (see approve --help)`);
    if (!OWN_FLAGS.includes(name)) {
      rest.push(arg);
      continue;
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || /^--?[A-Za-z]/.test(argv[i + 1]))
        throw new BadInput(`${name} needs a value`);
      value = argv[++i];
    }
    if (own.has(name)) throw new BadInput(`${name} is given more than once`);
    own.set(name, value);
  }
  const gate = parsePromoteArgs([...rest, "--dry-run"]);
  const approver = own.get("--approver");
  const expiresInMs = parseDurationMs(own.get("--expires-in") ?? "24h", "--expires-in");
  if (expiresInMs < 60_000 || expiresInMs > MAX_EXPIRY_MS) {
    throw new BadInput(`--expires-in must be from 1m to 7d (got ${own.get("--expires-in")})`);
  }
  return {
    gate,
    approver: approver === undefined ? undefined : parseApprover(approver, "--approver"),
    key: own.get("--key"),
    expiresInMs,
    out: own.get("--out"),
    help: gate.help,
  };
}

/** Writes an approval file (a temporary file, then a link that fails when the file exists). */
function writeApprovalFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new BadInput(`--out ${file} exists; an approval file is never overwritten, nothing was written`);
    }
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Runs `approve`; returns the file written. Throws the typed errors of errors.ts. */
export async function runApprove(
  opts: ApproveOptions,
  deps: PromotionDeps,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  if (opts.approver === undefined) throw new BadInput("approve needs --approver ID");
  const key = approverKey(opts.key, env);
  const gate = await evaluateGate(opts.gate, deps);
  const { subject, digest } = subjectOf(gate);
  reportDecision(opts.gate, deps, gate.decision, digest, gate.dryRunNote);
  if (gate.decision.decision !== "promote") {
    throw new GateRejected(
      `the gate rejected ${gate.decision.modelVersion}: a rejected decision cannot be approved`,
    );
  }
  const listed = loadPolicyConfig(gate.thresholdsFile).approvals.approvers[opts.approver];
  const der = (k: crypto.KeyObject) => k.export({ type: "spki", format: "der" });
  if (listed !== undefined && !der(crypto.createPublicKey(listed)).equals(der(crypto.createPublicKey(key)))) {
    throw new BadInput(
      `the key given is not the one ${gate.thresholdsFile} lists for approver ${opts.approver}; nothing was written`,
    );
  }
  if (listed === undefined) {
    deps.log(
      `Note: ${gate.thresholdsFile} lists no key for ${opts.approver}; the pack will not count this approval.`,
    );
  }
  const statement = statementFor(subject, opts.gate.to, opts.approver, deps.now(), opts.expiresInMs);
  const approval = signStatement(statement, key);
  const safe = opts.approver.replace(/[^A-Za-z0-9._-]/g, "_");
  const file = opts.out ?? `approval-${subject.modelVersion}-${safe}-${digest.slice(7, 19)}.json`;
  writeApprovalFile(file, `${JSON.stringify(approval, null, 2)}\n`);
  deps.log(
    `Approved decision ${digest} (churn-model ${subject.modelVersion} → ${opts.gate.to}) as ${opts.approver}, ` +
      `until ${statement.expiresAt}. Written to ${file}; pass it with --approval ${file}`,
  );
  return file;
}
