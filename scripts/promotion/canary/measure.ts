/**
 * The canary's and the stable's counts from Prometheus, over one window that ends at one
 * instant, so both arms are measured on the same traffic over the same minutes. A thin adapter:
 * the judgement is `compareArms` (verdict.ts). The series are the metrics contract's
 * (docs/canary.md), selected by namespace and each arm's `version` label.
 *
 * Failure policy: Prometheus answering none of the queries is DependencyUnavailable (exit 2);
 * any other failed query becomes that count's `error`, which the verdict reports as `error`.
 */
import { DependencyUnavailable } from "../errors";
import { InstantResult, PrometheusClient, QueryFailure } from "../prometheus";
import type { Bucket } from "../../../policy/contract";
import { LabelSelector, renderMatchers } from "../parsers";
import type { ArmCounts, Observed } from "./verdict";

type CountName = "requests" | "errors" | "labeledPredictions" | "correctPredictions";

/** `$SELECTOR` becomes the arm's label matchers, `$WINDOW` the range in seconds. */
export const ARM_QUERIES: Readonly<Record<CountName, string>> = {
  requests: "sum(increase(churn_model_requests_total{$SELECTOR}[$WINDOW]))",
  errors: 'sum(increase(churn_model_requests_total{$SELECTOR,code=~"5.."}[$WINDOW]))',
  labeledPredictions: "sum(increase(churn_model_predictions_labeled_total{$SELECTOR}[$WINDOW]))",
  correctPredictions:
    'sum(increase(churn_model_predictions_labeled_total{$SELECTOR,correct="true"}[$WINDOW]))',
};

export const LATENCY_BUCKETS_QUERY =
  "sum by (le) (increase(churn_model_request_duration_seconds_bucket{$SELECTOR}[$WINDOW]))";

const COUNT_NAMES = Object.keys(ARM_QUERIES) as CountName[];

export interface ArmSelector {
  /** The model version the arm runs (reported). */
  readonly version: string;
  /** Labels of its series, e.g. {namespace: "production", version: "1.1.0"}. */
  readonly selector: LabelSelector;
}

function render(template: string, selector: LabelSelector, seconds: number): string {
  return template.replaceAll("$SELECTOR", renderMatchers(selector)).replaceAll("$WINDOW", `${seconds}s`);
}

function single(result: InstantResult): Observed<number> {
  if (result.resultType === "scalar") return { value: result.value };
  if (result.resultType !== "vector")
    return { value: null, error: `the query returned a ${result.resultType}` };
  if (result.samples.length === 0) return { value: null };
  if (result.samples.length > 1)
    return { value: null, error: `the query returned ${result.samples.length} series` };
  return { value: result.samples[0].value };
}

/** The cumulative buckets of a `sum by (le)` answer; no series is null. */
export function bucketsOf(result: InstantResult): Observed<readonly Bucket[]> {
  if (result.resultType !== "vector")
    return { value: null, error: `the query returned a ${result.resultType}` };
  if (result.samples.length === 0) return { value: null };
  const buckets: Bucket[] = [];
  for (const s of result.samples) {
    const raw = s.labels.le;
    const le = raw === "+Inf" ? Infinity : Number(raw);
    if (raw === undefined || Number.isNaN(le))
      return { value: null, error: `a bucket has the le label ${JSON.stringify(raw)}` };
    buckets.push({ le, count: s.value });
  }
  return { value: buckets.sort((a, b) => a.le - b.le) };
}

type Outcome<T> = Observed<T> | QueryFailure;

async function ask<T>(
  client: PrometheusClient,
  query: string,
  at: Date,
  read: (r: InstantResult) => Observed<T>,
): Promise<Outcome<T>> {
  try {
    return read(await client.instantQuery(query, at));
  } catch (err) {
    if (err instanceof QueryFailure) return err;
    throw err;
  }
}

/**
 * Measures both arms over `window` (whole seconds, evaluated at its end), all queries in
 * parallel. Throws DependencyUnavailable when Prometheus answered none of them.
 */
export async function measureArms(
  client: PrometheusClient,
  arms: { readonly canary: ArmSelector; readonly stable: ArmSelector },
  window: { readonly start: Date; readonly end: Date },
): Promise<{ canary: ArmCounts; stable: ArmCounts }> {
  const seconds = Math.max(1, Math.floor((window.end.getTime() - window.start.getTime()) / 1000));
  const measureOne = async (arm: ArmSelector) => {
    const counts = COUNT_NAMES.map((name) =>
      ask(client, render(ARM_QUERIES[name], arm.selector, seconds), window.end, single),
    );
    const buckets = ask(client, render(LATENCY_BUCKETS_QUERY, arm.selector, seconds), window.end, bucketsOf);
    return { counts: await Promise.all(counts), buckets: await buckets };
  };
  const [c, s] = await Promise.all([measureOne(arms.canary), measureOne(arms.stable)]);
  const all = [...c.counts, c.buckets, ...s.counts, s.buckets];
  const failures = all.filter((o): o is QueryFailure => o instanceof QueryFailure);
  if (failures.length === all.length && !failures.some((f) => f.answeredByPrometheus)) {
    const causes = [...new Set(failures.map((f) => f.message))].join("; ");
    throw new DependencyUnavailable(`Prometheus at ${client.baseUrl} is unavailable: ${causes}`);
  }
  const observed = <T>(o: Outcome<T>): Observed<T> =>
    o instanceof QueryFailure ? { value: null, error: o.message } : o;
  const toArm = (arm: ArmSelector, m: typeof c): ArmCounts => {
    const [requests, errors, labeledPredictions, correctPredictions] = m.counts.map(observed);
    return {
      version: arm.version,
      requests,
      errors,
      labeledPredictions,
      correctPredictions,
      latencyBuckets: observed(m.buckets),
    };
  };
  return { canary: toArm(arms.canary, c), stable: toArm(arms.stable, s) };
}
