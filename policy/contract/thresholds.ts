/**
 * The promotion thresholds: one table that gives each key its meaning, its accepted values
 * and its default, from which come the validator, the policy's config schema and the
 * defaults. See docs/design.md ("Thresholds").
 *
 * To add a key: add it to `Thresholds` (with a doc comment and its unit in the name) and to
 * `THRESHOLD_SPECS`; the compiler refuses one without the other. A key with `optional: true`
 * takes its default when a config file leaves it out, so older config files stay valid.
 */
import { ContractError } from "./errors";
import { EVIDENCE_POLICY } from "./names";

export interface Thresholds {
  /** Lowest accepted accuracy (fraction of labeled predictions that were correct), 0..1. */
  readonly minAccuracy: number;
  /** Highest accepted p99 request latency, milliseconds. */
  readonly maxLatencyP99Ms: number;
  /** Highest accepted share of 5xx responses, 0..1. */
  readonly maxErrorRate: number;
  /** Lowest accepted mean of `up` over the window, 0..1. */
  readonly minUptime: number;
  /** Hours the candidate must have run in staging at evaluation time. */
  readonly minSoakHours: number;
  /** Fewest requests in the window for the numbers to count. */
  readonly minRequests: number;
  /** Fewest labeled predictions in the window for accuracy to count. */
  readonly minLabeledPredictions: number;
  /** Oldest promotion evidence the policy accepts at update time, hours. */
  readonly maxEvidenceAgeHours: number;
}

/** What a threshold key accepts. */
export type ThresholdKind =
  /** A finite number in [0, 1]. */
  | "fraction"
  /** A finite number ≥ 0. */
  | "nonNegative"
  /** A finite number > 0. */
  | "positive"
  /** An integer ≥ 0. */
  | "count";

export interface ThresholdSpec<V = number> {
  readonly kind: ThresholdKind | { readonly oneOf: readonly V[] };
  /** The value of docs/design.md's production thresholds; the policy's schema default. */
  readonly default: V;
  /** Leaving the key out of a config file gives the default (else it is a problem). */
  readonly optional?: boolean;
  /** One sentence for the policy's config schema. */
  readonly description: string;
}

export type ThresholdSpecs = { readonly [K in keyof Thresholds]: ThresholdSpec<Thresholds[K]> };

export const THRESHOLD_SPECS: ThresholdSpecs = {
  minAccuracy: { kind: "fraction", default: 0.85, description: "Lowest accepted staging accuracy, 0..1." },
  maxLatencyP99Ms: {
    kind: "nonNegative",
    default: 250,
    description: "Highest accepted staging p99 latency, milliseconds.",
  },
  maxErrorRate: {
    kind: "fraction",
    default: 0.01,
    description: "Highest accepted share of 5xx responses, 0..1.",
  },
  minUptime: { kind: "fraction", default: 0.999, description: "Lowest accepted mean of `up`, 0..1." },
  minSoakHours: {
    kind: "nonNegative",
    default: 24,
    description: "Hours the version must have run in staging, and the shortest window evidence may cover.",
  },
  minRequests: { kind: "nonNegative", default: 1000, description: "Fewest requests in the window." },
  minLabeledPredictions: {
    kind: "nonNegative",
    default: 200,
    description: "Fewest labeled predictions in the window.",
  },
  maxEvidenceAgeHours: {
    kind: "nonNegative",
    default: 72,
    description: "Oldest evidence accepted at update time, hours.",
  },
};

/** Every threshold key, in the table's order. */
export const THRESHOLD_KEYS = Object.keys(THRESHOLD_SPECS) as readonly (keyof Thresholds)[];

/** The production thresholds of docs/design.md: every key at its default. */
export const DEFAULT_THRESHOLDS: Thresholds = Object.freeze(
  Object.fromEntries(THRESHOLD_KEYS.map((k) => [k, THRESHOLD_SPECS[k].default])) as unknown as Thresholds,
);

function kindProblem(spec: ThresholdSpec<unknown>, v: unknown): string | undefined {
  const kind = spec.kind;
  if (typeof kind === "object") {
    return kind.oneOf.includes(v)
      ? undefined
      : `must be one of ${kind.oneOf.map((o) => JSON.stringify(o)).join(", ")}`;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) {
    return kind === "positive" ? "must be a finite number > 0" : "must be a finite number ≥ 0";
  }
  switch (kind) {
    case "fraction":
      return v < 0 ? "must be a finite number ≥ 0" : v > 1 ? "must be a fraction between 0 and 1" : undefined;
    case "nonNegative":
      return v >= 0 ? undefined : "must be a finite number ≥ 0";
    case "positive":
      return v > 0 ? undefined : "must be a finite number > 0";
    case "count":
      return Number.isInteger(v) && v >= 0 ? undefined : "must be an integer ≥ 0";
  }
}

/**
 * Every problem of a `promotion-evidence` config section as a sentence naming the key;
 * [] means valid. Keys outside the table (publicKey, the trust settings) are not its concern.
 */
export function thresholdProblems(section: unknown): string[] {
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    return [`"${EVIDENCE_POLICY}" must be an object holding ${THRESHOLD_KEYS.join(", ")}`];
  }
  const obj = section as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of THRESHOLD_KEYS) {
    const spec = THRESHOLD_SPECS[key] as ThresholdSpec<unknown>;
    const v = obj[key];
    if (v === undefined) {
      if (spec.optional !== true) problems.push(`${key} is missing`);
      continue;
    }
    const problem = kindProblem(spec, v);
    if (problem !== undefined) problems.push(`${key} ${problem} (got ${JSON.stringify(v)})`);
  }
  return problems;
}

/**
 * The thresholds of a `promotion-evidence` config section; throws ContractError listing every
 * problem, prefixed by `source` (the file or object it came from).
 */
export function parseThresholds(section: unknown, source: string): Thresholds {
  const problems = thresholdProblems(section);
  if (problems.length > 0) {
    throw new ContractError(`${source}: "${EVIDENCE_POLICY}": ${problems.join("; ")}`, problems);
  }
  const obj = section as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of THRESHOLD_KEYS) {
    out[key] = obj[key] ?? THRESHOLD_SPECS[key].default;
  }
  return out as unknown as Thresholds;
}

/** The policy's JSON-schema properties for the threshold keys, defaults included. */
export function thresholdSchemaProperties(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const key of THRESHOLD_KEYS) {
    const spec = THRESHOLD_SPECS[key] as ThresholdSpec<unknown>;
    const base: Record<string, unknown> =
      typeof spec.kind === "object"
        ? { enum: [...spec.kind.oneOf] }
        : spec.kind === "fraction"
          ? { type: "number", minimum: 0, maximum: 1 }
          : spec.kind === "positive"
            ? { type: "number", exclusiveMinimum: 0 }
            : spec.kind === "count"
              ? { type: "integer", minimum: 0 }
              : { type: "number", minimum: 0 };
    out[key] = { ...base, default: spec.default, description: spec.description };
  }
  return out;
}
