/**
 * Numbers from Prometheus: query templates (docs/design.md's metrics contract by default)
 * rendered for one label selector and window, and the point estimates over one window that the
 * bake verification after an update watches. The gate's analysis over the window and its
 * intervals is in analysis-metrics.ts, the search for the first and newest scrape samples in
 * sample-edges.ts; both use the rendering and the failure policy here.
 *
 * Failure policy, in one place:
 * - Prometheus is *unavailable* when not one query got an answer from Prometheus' API:
 *   connection refused or reset, no answer within the deadline, HTTP errors without an API
 *   body, HTML or other non-API bodies. That is a DependencyUnavailable (exit 2): nothing
 *   was measured, so there is no decision to report.
 * - Otherwise every query that failed, and every answer without one finite number (no series,
 *   several series, NaN, ±Inf), fails its own check with the reason (the gate rejects, exit 3).
 */
import { BadInput, DependencyUnavailable } from "./errors";
import type { Measurement } from "./gate";
import { InstantResult, PrometheusClient, QueryFailure } from "./prometheus";
import { LabelSelector, renderMatchers } from "./parsers";

/** Point estimates over one window: what the bake verification after an update watches. */
export interface PointMetrics {
  readonly accuracy: Measurement;
  readonly latencyP99Ms: Measurement;
  readonly errorRate: Measurement;
  readonly uptime: Measurement;
  readonly requests: Measurement;
  readonly labeledPredictions: Measurement;
}

export type MetricName = keyof PointMetrics;

export const METRIC_NAMES: readonly MetricName[] = [
  "accuracy",
  "latencyP99Ms",
  "errorRate",
  "uptime",
  "requests",
  "labeledPredictions",
];

/** PromQL templates; `$SELECTOR` becomes the label matchers and `$WINDOW` the range (`86400s`). */
export type QueryTemplates = Readonly<Record<MetricName, string>>;

/**
 * The default queries over docs/design.md's metric names. A counter series that never moved may
 * not exist at all (no 5xx yet, no wrong prediction yet), so the numerators of the ratios
 * fall back to 0; the denominators do not, so a version without traffic still has no value.
 */
export const DEFAULT_QUERIES: QueryTemplates = {
  accuracy:
    '(sum(increase(churn_model_predictions_labeled_total{$SELECTOR,correct="true"}[$WINDOW])) or vector(0)) / ' +
    "sum(increase(churn_model_predictions_labeled_total{$SELECTOR}[$WINDOW]))",
  latencyP99Ms:
    "histogram_quantile(0.99, sum by (le) (increase(churn_model_request_duration_seconds_bucket{$SELECTOR}[$WINDOW]))) * 1000",
  errorRate:
    '(sum(increase(churn_model_requests_total{$SELECTOR,code=~"5.."}[$WINDOW])) or vector(0)) / ' +
    "sum(increase(churn_model_requests_total{$SELECTOR}[$WINDOW]))",
  uptime: 'avg(avg_over_time(up{job="churn-model",$SELECTOR}[$WINDOW]))',
  requests: "sum(increase(churn_model_requests_total{$SELECTOR}[$WINDOW]))",
  labeledPredictions: "sum(increase(churn_model_predictions_labeled_total{$SELECTOR}[$WINDOW]))",
};

export function renderQuery(
  template: string,
  selector: LabelSelector,
  windowSeconds: number,
  slotSeconds?: number,
): string {
  // Prometheus' ranges include both ends: a subquery over [$WINDOW:$SLOT] runs one second short,
  // so it holds exactly window/slot steps and no slot of the span before.
  const short = `${Math.max(1, windowSeconds - 1)}s`;
  const resolution = slotSeconds === undefined ? undefined : resolutionSeconds(slotSeconds);
  const subquery =
    slotSeconds === undefined
      ? template
      : template
          .replaceAll("[$WINDOW:$SLOT]", `[${short}:${slotSeconds}s]`)
          .replaceAll("[$WINDOW:$RESOLUTION]", `[${short}:${resolution}s]`);
  const out = subquery
    .replaceAll("$SELECTOR", renderMatchers(selector))
    .replaceAll("$WINDOW", `${windowSeconds}s`);
  if (slotSeconds === undefined) return out;
  return out.replaceAll("$SLOT", `${slotSeconds}s`).replaceAll("$RESOLUTION", `${resolution}s`);
}

/** The step first and last samples are found at: a fifth of the slot, at least 1 s. */
export function resolutionSeconds(slotSeconds: number): number {
  return Math.max(1, Math.floor(slotSeconds / 5));
}

/** A query's answer, or how it failed. */
export type Answer = InstantResult | QueryFailure;

/** Runs a query, turning its QueryFailure into the answer (other errors are thrown). */
export async function ask(query: () => Promise<InstantResult>): Promise<Answer> {
  try {
    return await query();
  } catch (err) {
    if (err instanceof QueryFailure) return err;
    throw err;
  }
}

/** The single number of an instant result, or why there is none. */
export function toMeasurement(result: InstantResult): Measurement {
  switch (result.resultType) {
    case "scalar":
      return { value: result.value };
    case "vector":
      if (result.samples.length === 0) return { value: null };
      if (result.samples.length === 1) return { value: result.samples[0].value };
      return {
        value: null,
        error: `the query returned ${result.samples.length} series where one was expected (aggregate it with sum or avg)`,
      };
    default:
      return { value: null, error: `the query returned a ${result.resultType}, not a vector or scalar` };
  }
}

/** Throws DependencyUnavailable when not one of `answers` came from Prometheus' API. */
export function throwIfUnavailable(client: PrometheusClient, answers: readonly unknown[]): void {
  const failures = answers.filter((a): a is QueryFailure => a instanceof QueryFailure);
  if (failures.length === answers.length && !failures.some((f) => f.answeredByPrometheus)) {
    const causes = [...new Set(failures.map((f) => f.message))].join("; ");
    throw new DependencyUnavailable(`Prometheus at ${client.baseUrl} is unavailable: ${causes}`);
  }
}

export interface MetricsRequest {
  /** Labels of the series to count, e.g. {namespace: "staging", version: "1.1.0"}. */
  readonly selector: LabelSelector;
  readonly window: { readonly start: Date; readonly end: Date };
}

/** Whole seconds of the window, the range every query uses. */
export function windowSeconds(window: { readonly start: Date; readonly end: Date }): number {
  return Math.floor((window.end.getTime() - window.start.getTime()) / 1000);
}

/**
 * Measures each request's metrics, all queries in parallel. Throws DependencyUnavailable
 * when Prometheus answered none of them (see the failure policy above).
 */
export async function collectMetrics(
  client: PrometheusClient,
  queries: QueryTemplates,
  requests: readonly MetricsRequest[],
): Promise<PointMetrics[]> {
  for (const req of requests) {
    if (windowSeconds(req.window) < 1) {
      const { start, end } = req.window;
      throw new BadInput(
        `the metrics window ${start.toISOString()} → ${end.toISOString()} is shorter than 1s`,
      );
    }
  }
  const jobs = requests.flatMap((req) =>
    METRIC_NAMES.map(async (name): Promise<Measurement | QueryFailure> => {
      const seconds = windowSeconds(req.window);
      const a = await ask(() =>
        client.instantQuery(renderQuery(queries[name], req.selector, seconds), req.window.end),
      );
      return a instanceof QueryFailure ? a : toMeasurement(a);
    }),
  );
  const outcomes = await Promise.all(jobs);
  throwIfUnavailable(client, outcomes);
  return requests.map((_, i) => {
    const entries = METRIC_NAMES.map((name, j) => {
      const o = outcomes[i * METRIC_NAMES.length + j];
      return [name, o instanceof QueryFailure ? { value: null, error: o.message } : o] as const;
    });
    return Object.fromEntries(entries) as unknown as PointMetrics;
  });
}
