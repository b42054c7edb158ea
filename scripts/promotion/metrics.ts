/**
 * The gate's numbers from Prometheus: the queries (DESIGN.md's metrics contract by default,
 * overridable from a file), rendered for one label selector and window, evaluated in parallel
 * as of the window's end.
 *
 * Failure policy, in one place:
 * - Prometheus is *unavailable* when not one query got an answer from Prometheus' API:
 *   connection refused or reset, no answer within the deadline, HTTP errors without an API
 *   body, HTML or other non-API bodies. That is a DependencyUnavailable (exit 2): nothing
 *   was measured, so there is no decision to report.
 * - Otherwise every query that failed, and every answer without one finite number (no series,
 *   several series, NaN, ±Inf), fails its own check with the reason (the gate rejects, exit 3).
 */
import * as fs from "fs";
import { BadInput, DependencyUnavailable } from "./errors";
import type { GateMetrics, Measurement } from "./gate";
import { InstantResult, PrometheusClient, QueryFailure } from "./prometheus";
import { LabelSelector, renderMatchers } from "./values";

export type MetricName = keyof GateMetrics;

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
 * The default queries over DESIGN.md's metric names. A counter series that never moved may
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

/** Reads a queries file: a JSON object overriding some or all of the default templates. */
export function loadQueries(file: string): QueryTemplates {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BadInput(`cannot read queries file ${file}: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new BadInput(`queries file ${file} must be a JSON object of ${METRIC_NAMES.join(", ")}`);
  }
  const out: Record<string, string> = { ...DEFAULT_QUERIES };
  for (const [key, value] of Object.entries(parsed)) {
    if (!(METRIC_NAMES as readonly string[]).includes(key)) {
      throw new BadInput(`queries file ${file}: unknown key ${key} (known: ${METRIC_NAMES.join(", ")})`);
    }
    if (typeof value !== "string" || !value.includes("$SELECTOR") || !value.includes("$WINDOW")) {
      throw new BadInput(`queries file ${file}: ${key} must be a PromQL string using $SELECTOR and $WINDOW`);
    }
    out[key] = value;
  }
  return out as QueryTemplates;
}

export function renderQuery(template: string, selector: LabelSelector, windowSeconds: number): string {
  return template
    .replaceAll("$SELECTOR", renderMatchers(selector))
    .replaceAll("$WINDOW", `${windowSeconds}s`);
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
): Promise<GateMetrics[]> {
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
      try {
        return toMeasurement(
          await client.instantQuery(renderQuery(queries[name], req.selector, seconds), req.window.end),
        );
      } catch (err) {
        if (err instanceof QueryFailure) return err;
        throw err;
      }
    }),
  );
  const outcomes = await Promise.all(jobs);
  const failures = outcomes.filter((o): o is QueryFailure => o instanceof QueryFailure);
  if (failures.length === outcomes.length && !failures.some((f) => f.answeredByPrometheus)) {
    const causes = [...new Set(failures.map((f) => f.message))].join("; ");
    throw new DependencyUnavailable(`Prometheus at ${client.baseUrl} is unavailable: ${causes}`);
  }
  return requests.map((_, i) => {
    const entries = METRIC_NAMES.map((name, j) => {
      const o = outcomes[i * METRIC_NAMES.length + j];
      return [name, o instanceof QueryFailure ? { value: null, error: o.message } : o] as const;
    });
    return Object.fromEntries(entries) as unknown as GateMetrics;
  });
}
