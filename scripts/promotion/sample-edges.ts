/**
 * The version's first and newest scrape samples, found in bounded work however long the
 * look-back is.
 *
 * One subquery at the resolution R (a fifth of the slot) over the whole look-back L evaluates
 * L/R steps, each a fresh look-up of every `up` series: 25 200 steps for 7 d at R = 24 s, which
 * takes Prometheus minutes. Instead the search has two stages:
 * 1. coarse: one range query of `scrapeSamples` ($WINDOW = C, step C, its last step at the
 *    evaluation time) tells which of ⌈L/C⌉ consecutive spans of C seconds hold any scrape
 *    sample of the version. Range selectors see every sample, so no span is skipped, whatever
 *    Prometheus' look-back delta; the earliest and the latest such span hold the first and the
 *    newest sample;
 * 2. fine: `firstSample` and `lastSample` at resolution R over just that span (C + R seconds).
 *
 * With C = R·⌈√(L/R)⌉ each stage evaluates about √(L/R) points (≈ 160 for 7 d at R = 24 s).
 * The answers are scrape samples' own timestamps, as the single subquery gave: the first
 * sample to within R, never earlier than it was taken (a soak is never over-stated); the newest
 * exactly while it is within Prometheus' look-back delta of the span's end, else to within R,
 * never later than it was taken.
 */
import type { Measurement } from "./gate";
import type { InstantResult, PrometheusClient } from "./prometheus";
import { QueryFailure } from "./prometheus";
import { Answer, renderQuery, resolutionSeconds, toMeasurement } from "./metrics";
import type { LabelSelector } from "./parsers";

/** The templates the search uses (see ANALYSIS_QUERIES in analysis-metrics.ts). */
export interface EdgeQueries {
  /** How many of the version's series have a scrape sample in $WINDOW. */
  readonly scrapeSamples: string;
  /** The earliest sample timestamp over [$WINDOW:$RESOLUTION]. */
  readonly firstSample: string;
  /** The newest sample timestamp over [$WINDOW:$RESOLUTION]. */
  readonly lastSample: string;
}

/** How the look-back is cut: `spans` consecutive spans of `spanSeconds`, a multiple of R. */
export interface EdgePlan {
  readonly resolutionSeconds: number;
  readonly spanSeconds: number;
  readonly spans: number;
}

/** The coarse spans for a look-back of `lookbackSeconds` and the uptime slot `slotSeconds`. */
export function edgePlan(lookbackSeconds: number, slotSeconds: number): EdgePlan {
  if (!(lookbackSeconds > 0) || !(slotSeconds > 0)) {
    throw new Error(`edgePlan: look-back ${lookbackSeconds} s and slot ${slotSeconds} s must be positive`);
  }
  const r = resolutionSeconds(slotSeconds);
  const spanSeconds = r * Math.max(1, Math.ceil(Math.sqrt(lookbackSeconds / r)));
  return { resolutionSeconds: r, spanSeconds, spans: Math.max(1, Math.ceil(lookbackSeconds / spanSeconds)) };
}

export interface EdgeRequest {
  readonly selector: LabelSelector;
  readonly end: Date;
  readonly lookbackSeconds: number;
  readonly slotSeconds: number;
  /**
   * Unix seconds no first sample is placed before (the release record's deployedAt): a subquery
   * step just after it can still see an older sample through Prometheus' look-back delta.
   */
  readonly notBefore?: number;
}

/** One measured edge and every answer it took (for the unavailability rule). */
export interface Edge {
  readonly sample: Measurement;
  readonly answers: readonly Answer[];
}

/** What the coarse stage found: the ends of the earliest and latest spans holding samples. */
export interface EdgeSearch {
  readonly coarse: Answer;
  first(): Promise<Edge>;
  last(): Promise<Edge>;
}

type Ask = (query: () => Promise<InstantResult>) => Promise<Answer>;

/** The ends (unix seconds) of the spans with at least one sample, or why they are unknown. */
function spansWithSamples(a: Answer): number[] | string {
  if (a instanceof QueryFailure) return a.message;
  if (a.resultType !== "matrix") return `the query returned a ${a.resultType}, not a matrix`;
  if (a.series.length > 1) {
    return `the query returned ${a.series.length} series where one was expected (aggregate it with count or sum)`;
  }
  const out: number[] = [];
  for (const [t, v] of a.series[0]?.points ?? []) {
    if (!Number.isFinite(v))
      return `the query returned ${v} scrape samples at ${new Date(t * 1000).toISOString()}`;
    if (v > 0) out.push(t);
  }
  return out;
}

function atOrAfter(m: Measurement, startS: number | undefined): Measurement {
  return startS !== undefined && m.error === undefined && m.value !== null && m.value < startS
    ? { value: startS }
    : m;
}

function measured(a: Answer, fallback: number): Measurement {
  if (a instanceof QueryFailure) return { value: null, error: a.message };
  const m = toMeasurement(a);
  return m.error === undefined && m.value === null ? { value: fallback } : m;
}

/**
 * Runs the coarse stage; `first()` and `last()` run the fine stages. Both fine stages answer
 * `{value: null}` when the look-back holds no sample of the version, and the coarse failure
 * when it failed.
 */
export async function searchEdges(
  client: PrometheusClient,
  queries: EdgeQueries,
  req: EdgeRequest,
  ask: Ask,
): Promise<EdgeSearch> {
  const plan = edgePlan(req.lookbackSeconds, req.slotSeconds);
  const endS = req.end.getTime() / 1000;
  const c = plan.spanSeconds;
  const r = plan.resolutionSeconds;
  const coarse = await ask(() =>
    client.rangeQuery(
      renderQuery(queries.scrapeSamples, req.selector, c),
      new Date((endS - (plan.spans - 1) * c) * 1000),
      req.end,
      c,
    ),
  );
  const spans = spansWithSamples(coarse);
  // Over one span and a step of R, never reaching further back than the look-back.
  const fine = async (template: string, at: number, fallback: number): Promise<Edge & { empty: boolean }> => {
    const seconds = Math.min(c + r, Math.ceil(at - (endS - req.lookbackSeconds)));
    const a = await ask(() =>
      client.instantQuery(renderQuery(template, req.selector, seconds, req.slotSeconds), new Date(at * 1000)),
    );
    const empty = !(a instanceof QueryFailure) && toMeasurement(a).value === null;
    return { sample: measured(a, fallback), answers: [a], empty };
  };
  const known: Edge | undefined =
    typeof spans === "string"
      ? { sample: { value: null, error: spans }, answers: [] }
      : spans.length === 0
        ? { sample: { value: null }, answers: [] }
        : undefined;
  const found = spans as number[];
  const lookbackStart = endS - req.lookbackSeconds;
  const first = async (): Promise<Edge> => {
    // The span [t − C, t] holds the first sample: a step of R after t still sees it, and no
    // earlier span holds any. Without an answer, t itself is an upper bound.
    const edge = await fine(queries.firstSample, Math.min(endS, found[0] + r), found[0]);
    // Only the earliest span can reach before the look-back's start (the version ran before,
    // was replaced, and was deployed again: its old samples are not this deployment's). The
    // fine search is cut at the start, so when the cut part holds none of the version's
    // samples, the next span with samples holds the first one.
    const cut = found[0] - c < lookbackStart;
    if (cut && edge.empty) {
      // Every sample the coarse stage saw in that span is older than the look-back.
      if (found.length === 1) return { sample: { value: null }, answers: edge.answers };
      const next = await fine(queries.firstSample, Math.min(endS, found[1] + r), found[1]);
      return { sample: atOrAfter(next.sample, req.notBefore), answers: [...edge.answers, ...next.answers] };
    }
    return { sample: atOrAfter(edge.sample, req.notBefore), answers: edge.answers };
  };
  return {
    coarse,
    first: async () => known ?? first(),
    // No sample is newer than t, the latest span's end; without an answer, t − C is a lower bound.
    last: async () => known ?? fine(queries.lastSample, found.at(-1)!, found.at(-1)! - c),
  };
}
