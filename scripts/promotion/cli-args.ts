/**
 * The flags of `npm run promote`. Unknown flags, missing or malformed values and repeated
 * flags are refused with a BadInput naming the flag.
 */
import { Strategy, STRATEGIES } from "./canary/config";
import { BadInput } from "./errors";
import {
  LabelSelector,
  parseDurationMs,
  parseDurationSeconds,
  parseHttpUrl,
  parseLabelSelector,
  parseModelVersion,
  parseTimestamp,
} from "./parsers";

export interface PromoteOptions {
  /** The stack whose candidate is promoted. Default "staging". */
  readonly from: string;
  /** The stack promoted to. Default "production". */
  readonly to: string;
  /** The candidate; default: the version staging runs. */
  readonly modelVersion?: string;
  /** Decide only; change nothing. */
  readonly dryRun: boolean;
  /** Dry run only: send its event to the target stack's notification targets (docs/notifications.md). */
  readonly notify: boolean;
  /** Print the decision as JSON on stdout, and nothing else there. */
  readonly json: boolean;
  /** Prometheus to query; default: the staging outputs' prometheusUrl. */
  readonly prometheusUrl?: string;
  /** Staging outputs as a JSON file instead of reading the stack. */
  readonly stagingOutputs?: string;
  /** Thresholds file; default policy/config/<to>.json. */
  readonly thresholds?: string;
  /** Length of the metrics window, seconds. Default 24h. */
  readonly windowSeconds: number;
  /** Evaluation time; default now. */
  readonly at?: Date;
  /** The approver's ID, for runs without a terminal. */
  readonly approvedBy?: string;
  /** `--approval FILE`, repeatable: approval records (docs/approvals.md). */
  readonly approvals: readonly string[];
  /** A JSON file overriding the default PromQL queries. */
  readonly queries?: string;
  /** Labels of production's current version's series, to compare the candidate with. */
  readonly baselineSelector?: LabelSelector;
  /** Deadline of each Prometheus request, milliseconds. Default 10s. */
  readonly queryTimeoutMs: number;
  /** How long production is watched after the update before it counts as good, seconds. Default 5m. */
  readonly bakeSeconds: number;
  /** How production takes the candidate; default the target's first accepted strategy (docs/canary.md). */
  readonly strategy?: Strategy;
  /** A host whose promotion still holds the target's lock and is known to be gone: take it over. */
  readonly takeOverFrom?: string;
  /** Print the usage and exit. */
  readonly help: boolean;
}

export const USAGE = `Usage: npm run promote -- [options]

Promotes the churn-model version that staging runs to production: reads the staging
stack's outputs, measures the version in Prometheus, decides against the thresholds,
asks for approval, records signed evidence and updates production.

  npm run promote -- approve --approver ID --key FILE   sign an approval of the gate's
                                                         decision (see approve --help)
  npm run promote -- history                             who approved which numbers
  npm run promote -- revoke VERSION                      revoke a version in production
                                                         (see revoke --help)

Options:
  --from STACK               stack to promote from (default: staging)
  --to STACK                 stack to promote to (default: production)
  --model-version V          candidate version (default: the version staging runs;
                             another version is refused)
  --dry-run                  decide only; change nothing
  --notify                   with --dry-run: send gate-rejected, or approval-requested when the
                             gate passes, to the notification targets (promotions always do)
  --json                     print the decision as JSON on stdout
  --prometheus-url URL       Prometheus to query (default: staging's prometheusUrl output)
  --staging-outputs FILE     dry run only: staging outputs as JSON instead of reading the stack
  --thresholds FILE          dry run only: thresholds (a promotion uses the target stack's
                             reviewed policy/config/<environment>.json)
  --window DURATION          metrics window, e.g. 24h, 90m, 1d12h; 1m to 31d (default: 24h);
                             a promotion's covers at least minSoakHours
  --at RFC3339               evaluate as of this time, not in the future (default: now;
                             a promotion allows 60 s of clock skew and at most 10 min in
                             the past, a dry run 5 min ahead and any time before)
  --approved-by ID           approver, for runs without a terminal (an unsigned approval)
  --approval FILE            an approval written by \`npm run promote -- approve\` (repeatable;
                             also $CHURN_APPROVALS: approval JSON or a list, e.g. a CI input)
  --queries FILE             dry run only: JSON object overriding the default PromQL queries
  --baseline-selector JSON   labels of production's current version, e.g.
                             '{"namespace":"production","version":"1.0.0"}', to compare with
  --query-timeout DURATION   deadline of each Prometheus request; 100ms to 5m (default: 10s)
  --bake DURATION            watch production this long after the update against the
                             rollback triggers; 10s to 24h (default: 5m)
  --strategy S               canary (steps of live traffic, judged against the stable) or
                             all-at-once; the target's policy config says which it accepts
                             (default: the first it names)
  --take-over-from HOST      the promotion holding the target's lock on HOST is gone for good:
                             take its lock over and recover what it left (not with --dry-run)
  -h, --help                 show this help

Exit codes: 0 promoted (dry run: gate passed) · 2 bad input, config or unreachable
dependency, another promotion running, or (dry run) a recovery pending · 3 gate rejected
· 4 approval missing or denied · 5 deployed but rolled back (or the canary aborted) · 6 production needs a person
now (rollback impossible or failed, production unhealthy after it, or a recovery unable to
read it back) · 1 unexpected.
`;

type Flag =
  | "--from"
  | "--to"
  | "--model-version"
  | "--dry-run"
  | "--notify"
  | "--json"
  | "--prometheus-url"
  | "--staging-outputs"
  | "--thresholds"
  | "--window"
  | "--at"
  | "--approved-by"
  | "--approval"
  | "--queries"
  | "--baseline-selector"
  | "--query-timeout"
  | "--bake"
  | "--strategy"
  | "--take-over-from"
  | "--help";

const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(["--dry-run", "--notify", "--json", "--help"]);
const VALUE_FLAGS: ReadonlySet<string> = new Set([
  "--from",
  "--to",
  "--model-version",
  "--prometheus-url",
  "--staging-outputs",
  "--thresholds",
  "--window",
  "--at",
  "--approved-by",
  "--approval",
  "--queries",
  "--baseline-selector",
  "--query-timeout",
  "--bake",
  "--strategy",
  "--take-over-from",
]);

/** Every flag the promote CLI accepts (workflows are checked against this list). */
export const PROMOTE_FLAGS: readonly string[] = [...BOOLEAN_FLAGS, ...VALUE_FLAGS, "-h"];

const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,99}){0,2}$/;
/** Approver IDs: a login, an email or a `provider:login`; no spaces or control characters. */
const APPROVER = /^[A-Za-z0-9][A-Za-z0-9._@+:/-]{0,199}$/;

/** A stack name (`production`, `org/project/production`): letters, digits, `.`, `_`, `-`. */
export function parseStackName(raw: string, flag: string): string {
  if (!STACK_NAME.test(raw)) {
    throw new BadInput(
      `${flag} ${JSON.stringify(raw)} is not a stack name (letters, digits, ".", "_", "-", ` +
        "optionally org/project/ before it)",
    );
  }
  return raw;
}
const stackName = parseStackName;

/** The accepted range of each duration flag, in the notation `--help` shows. */
export const DURATION_BOUNDS: Readonly<Record<string, { readonly min: string; readonly max: string }>> = {
  "--window": { min: "1m", max: "31d" },
  "--query-timeout": { min: "100ms", max: "5m" },
  "--bake": { min: "10s", max: "24h" },
  "--smoke-wait": { min: "1s", max: "1h" },
};

/** A duration flag within its DURATION_BOUNDS, in milliseconds. */
export function boundedDurationMs(raw: string, flag: string): number {
  const bounds = DURATION_BOUNDS[flag];
  const ms = parseDurationMs(raw, flag);
  if (bounds !== undefined) {
    const min = parseDurationMs(bounds.min, "bound");
    const max = parseDurationMs(bounds.max, "bound");
    if (ms < min || ms > max) {
      throw new BadInput(
        `${flag} must be between ${bounds.min} and ${bounds.max} (got ${JSON.stringify(raw)})`,
      );
    }
  }
  return ms;
}

/** A duration flag within its bounds, in whole seconds. */
export function boundedDurationSeconds(raw: string, flag: string): number {
  const seconds = parseDurationSeconds(raw, flag);
  boundedDurationMs(raw, flag);
  return seconds;
}

/** A count written in decimal digits only (no `1e3`, no `0x10`), within min..max. */
export function parseCount(raw: string, flag: string, min: number, max: number): number {
  if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new BadInput(`${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

/** How far `--at` may lie ahead of this machine's clock in a dry run (clock skew between runners). */
export const MAX_AT_AHEAD_MS = 5 * 60_000;
/** How far `--at` may lie ahead of this machine's clock in a promotion. */
export const PROMOTION_AT_AHEAD_MS = 60_000;

/**
 * The flags that choose what a promotion measures and judges by: allowed in a dry run, refused
 * in a promotion, whose evidence is measured by the reviewed queries over the staging stack's
 * own outputs against the target's reviewed policy config (scripts/promotion/trust-roots.ts).
 */
export const DRY_RUN_ONLY: Readonly<Record<string, string>> = {
  "--staging-outputs": "a promotion reads the staging stack's outputs from the engine",
  "--thresholds":
    "a promotion judges by, and gives the policy pack, the reviewed policy config of the target stack (policy/config/<environment>.json)",
  "--queries": "a promotion measures with the reviewed queries (scripts/promotion/metrics.ts)",
};

export function parseApprover(raw: string, source: string): string {
  if (!APPROVER.test(raw)) {
    throw new BadInput(
      `${source} ${JSON.stringify(raw)} is not an approver ID (a login, email or provider:login, ` +
        "without spaces; at most 200 characters)",
    );
  }
  return raw;
}

function nonEmptyPath(raw: string, flag: string): string {
  if (raw.trim() === "") throw new BadInput(`${flag} needs a file path`);
  return raw;
}

export function parsePromoteArgs(argv: readonly string[], now: Date = new Date()): PromoteOptions {
  const seen = new Map<Flag, string | true>();
  const approvals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const name = arg === "-h" ? "--help" : eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq > 0 && arg.startsWith("--")) throw new BadInput(`${name} takes no value`);
      if (seen.has(name as Flag)) throw new BadInput(`${name} is given more than once`);
      seen.set(name as Flag, true);
    } else if (VALUE_FLAGS.has(name)) {
      let value: string;
      if (eq > 0 && arg.startsWith("--")) {
        value = arg.slice(eq + 1);
      } else {
        if (i + 1 >= argv.length || /^--?[A-Za-z]/.test(argv[i + 1])) {
          throw new BadInput(`${name} needs a value`);
        }
        value = argv[++i];
      }
      if (name === "--approval") {
        approvals.push(nonEmptyPath(value, name));
        continue;
      }
      if (seen.has(name as Flag)) throw new BadInput(`${name} is given more than once`);
      seen.set(name as Flag, value);
    } else if (arg.startsWith("-")) {
      throw new BadInput(`unknown option ${JSON.stringify(name)} (see --help)`);
    } else {
      throw new BadInput(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    }
  }
  const str = (flag: Flag): string | undefined => {
    const v = seen.get(flag);
    return typeof v === "string" ? v : undefined;
  };
  const flag = (f: Flag): boolean => seen.get(f) === true;

  const from = stackName(str("--from") ?? "staging", "--from");
  const to = stackName(str("--to") ?? "production", "--to");
  if (from === to) throw new BadInput(`--from and --to must differ (both are ${from})`);

  const modelVersionRaw = str("--model-version");
  const windowRaw = str("--window");
  const atRaw = str("--at");
  const urlRaw = str("--prometheus-url");
  const approverRaw = str("--approved-by");
  const selectorRaw = str("--baseline-selector");
  const timeoutRaw = str("--query-timeout");
  const outputsRaw = str("--staging-outputs");
  const thresholdsRaw = str("--thresholds");
  const queriesRaw = str("--queries");

  let baselineSelector: LabelSelector | undefined;
  if (selectorRaw !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(selectorRaw);
    } catch {
      throw new BadInput(
        `--baseline-selector must be a JSON object of label → value (got ${JSON.stringify(selectorRaw)})`,
      );
    }
    baselineSelector = parseLabelSelector(parsed, "--baseline-selector");
  }

  if (flag("--notify") && !flag("--dry-run")) {
    throw new BadInput("--notify is for dry runs (--dry-run); a promotion always sends its events");
  }
  if (!flag("--dry-run")) {
    for (const [f, why] of Object.entries(DRY_RUN_ONLY)) {
      if (seen.has(f as Flag)) throw new BadInput(`${f} is for dry runs (--dry-run) only: ${why}`);
    }
  }

  const takeOverRaw = str("--take-over-from");
  if (takeOverRaw !== undefined && flag("--dry-run")) {
    throw new BadInput("--take-over-from takes the lock over, and a dry run (--dry-run) takes no lock");
  }

  return {
    from,
    to,
    modelVersion:
      modelVersionRaw === undefined ? undefined : parseModelVersion(modelVersionRaw, "--model-version"),
    dryRun: flag("--dry-run"),
    notify: flag("--notify"),
    json: flag("--json"),
    prometheusUrl: urlRaw === undefined ? undefined : parseHttpUrl(urlRaw, "--prometheus-url"),
    stagingOutputs: outputsRaw === undefined ? undefined : nonEmptyPath(outputsRaw, "--staging-outputs"),
    thresholds: thresholdsRaw === undefined ? undefined : nonEmptyPath(thresholdsRaw, "--thresholds"),
    windowSeconds: boundedDurationSeconds(windowRaw ?? "24h", "--window"),
    at:
      atRaw === undefined
        ? undefined
        : notInTheFuture(parseTimestamp(atRaw, "--at"), atRaw, now, flag("--dry-run")),
    approvedBy: approverRaw === undefined ? undefined : parseApprover(approverRaw, "--approved-by"),
    approvals,
    queries: queriesRaw === undefined ? undefined : nonEmptyPath(queriesRaw, "--queries"),
    baselineSelector,
    queryTimeoutMs: boundedDurationMs(timeoutRaw ?? "10s", "--query-timeout"),
    bakeSeconds: boundedDurationSeconds(str("--bake") ?? "5m", "--bake"),
    ...(str("--strategy") !== undefined ? { strategy: parseStrategy(str("--strategy")!) } : {}),
    ...(takeOverRaw !== undefined ? { takeOverFrom: parseHostName(takeOverRaw, "--take-over-from") } : {}),
    help: flag("--help"),
  };
}

/** A host name as os.hostname() gives it: letters, digits, dots, hyphens and underscores, up to 253. */
function parseHostName(raw: string, flagName: string): string {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/.test(raw)) {
    throw new BadInput(`${flagName} must be a host name (got ${JSON.stringify(raw)})`);
  }
  return raw;
}

function parseStrategy(raw: string): Strategy {
  if (!(STRATEGIES as readonly string[]).includes(raw)) {
    throw new BadInput(`--strategy must be one of ${STRATEGIES.join(", ")} (got ${JSON.stringify(raw)})`);
  }
  return raw as Strategy;
}

function notInTheFuture(at: Date, raw: string, now: Date, dryRun: boolean): Date {
  const ahead = at.getTime() - now.getTime();
  if (ahead > MAX_AT_AHEAD_MS) {
    throw new BadInput(
      `--at ${JSON.stringify(raw)} lies in the future (now is ${now.toISOString()}): ` +
        "metrics can only be judged up to now",
    );
  }
  if (!dryRun && ahead > PROMOTION_AT_AHEAD_MS) {
    throw new BadInput(
      `--at ${JSON.stringify(raw)} lies ${Math.round(ahead / 1000)} s ahead of this machine's clock ` +
        `(now is ${now.toISOString()}): a promotion's window ends at or before its evidence is signed ` +
        `(at most ${PROMOTION_AT_AHEAD_MS / 1000} s of clock skew; later times only with --dry-run)`,
    );
  }
  return at;
}
