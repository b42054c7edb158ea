/**
 * A thin adapter over Prometheus' HTTP API (instant queries), with a per-request deadline,
 * bounded retries with backoff for transient failures only, and typed parsing of every
 * response. It never guesses: anything it cannot read as a Prometheus answer becomes a
 * `QueryFailure` that says why, and whether Prometheus itself answered.
 */
import * as http from "http";
import * as https from "https";

/** One series of an instant vector. */
export interface VectorSample {
  readonly labels: Readonly<Record<string, string>>;
  /** The sample value; "NaN", "+Inf" and "-Inf" become NaN and ±Infinity. */
  readonly value: number;
}

/** One series of a range vector: its labels and [unix seconds, value] points in time order. */
export interface MatrixSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly points: readonly (readonly [number, number])[];
}

export type InstantResult =
  | { readonly resultType: "vector"; readonly samples: readonly VectorSample[] }
  | { readonly resultType: "scalar"; readonly value: number }
  | { readonly resultType: "matrix"; readonly series: readonly MatrixSeries[] }
  | { readonly resultType: "string" };

/**
 * How a query failed:
 * - `unreachable`: no HTTP answer (connection refused or reset, DNS, TLS);
 * - `timeout`: no complete answer within the deadline;
 * - `http`: an HTTP error status without a Prometheus API body;
 * - `not-prometheus`: a body that is not the Prometheus API's JSON (an HTML page, truncated JSON);
 * - `query`: Prometheus answered with `status: "error"` (bad query, execution error, its own timeout).
 */
export type FailureKind = "unreachable" | "timeout" | "http" | "not-prometheus" | "query";

export class QueryFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** Worth another attempt: a reset or refused connection, or HTTP 502/503/504. */
    readonly transient = false,
  ) {
    super(message);
    this.name = "QueryFailure";
  }

  /** True when the answer came from Prometheus' API, so Prometheus itself is up. */
  get answeredByPrometheus(): boolean {
    return this.kind === "query";
  }
}

export interface PrometheusClientOptions {
  /** Base URL of Prometheus (a path prefix is kept). */
  readonly baseUrl: string;
  /** Deadline per request, milliseconds. Default 10000. */
  readonly timeoutMs?: number;
  /** Attempts per query for transient failures, including the first. Default 3. */
  readonly attempts?: number;
  /** Backoff before the second attempt, doubled for each later one, milliseconds. Default 250. */
  readonly backoffMs?: number;
}

export interface PrometheusClient {
  readonly baseUrl: string;
  /** Evaluates `query` at `time` with the instant query API. Throws QueryFailure. */
  instantQuery(query: string, time: Date): Promise<InstantResult>;
  /**
   * Evaluates `query` at start, start + step, … up to end with the range query API; the
   * answer is a matrix. Throws QueryFailure.
   */
  rangeQuery(query: string, start: Date, end: Date, stepSeconds: number): Promise<InstantResult>;
}

const TRANSIENT_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "EAI_AGAIN"]);
const TRANSIENT_STATUS = new Set([502, 503, 504]);

/** Parses a Prometheus sample value string. */
export function parseSampleValue(raw: unknown): number {
  if (raw === "NaN") return NaN;
  if (raw === "+Inf" || raw === "Inf") return Infinity;
  if (raw === "-Inf") return -Infinity;
  if (typeof raw === "string" && /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(raw)) {
    return Number(raw);
  }
  throw new QueryFailure("not-prometheus", `sample value ${JSON.stringify(raw)} is not a number`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parsePair(raw: unknown, what: string): number {
  return parsePoint(raw, what)[1];
}

function parsePoint(raw: unknown, what: string): [number, number] {
  if (!Array.isArray(raw) || raw.length !== 2 || typeof raw[0] !== "number") {
    throw new QueryFailure("not-prometheus", `${what} is not a [timestamp, "value"] pair`);
  }
  return [raw[0], parseSampleValue(raw[1])];
}

function parseLabels(raw: unknown): Record<string, string> {
  if (!isRecord(raw)) {
    throw new QueryFailure("not-prometheus", "a vector sample has no label set");
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") {
      throw new QueryFailure("not-prometheus", `label ${k} of a vector sample is not a string`);
    }
    out[k] = v;
  }
  return out;
}

/** Types the body of an instant query answer; `status` is the HTTP status it came with. */
export function parseQueryResponse(status: number, contentType: string, body: string): InstantResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    const what = /^\s*</.test(body)
      ? `an HTML/XML page (${contentType || "no content type"})`
      : "a body that is not JSON";
    throw new QueryFailure(
      status >= 400 ? "http" : "not-prometheus",
      status >= 400 ? `HTTP ${status} with ${what}` : `answered with ${what}, not the Prometheus API`,
    );
  }
  if (!isRecord(parsed) || (parsed.status !== "success" && parsed.status !== "error")) {
    throw new QueryFailure(
      status >= 400 ? "http" : "not-prometheus",
      `${status >= 400 ? `HTTP ${status}: ` : ""}the JSON body is not a Prometheus API response (no "status")`,
    );
  }
  if (parsed.status === "error") {
    const errorType = typeof parsed.errorType === "string" ? parsed.errorType : "unknown";
    const error = typeof parsed.error === "string" ? parsed.error : "no message";
    throw new QueryFailure("query", `Prometheus refused the query (${errorType}): ${error}`);
  }
  if (status !== 200) {
    throw new QueryFailure("http", `HTTP ${status} with a success body`);
  }
  const data = parsed.data;
  if (!isRecord(data) || typeof data.resultType !== "string") {
    throw new QueryFailure("not-prometheus", 'the response has no "data.resultType"');
  }
  switch (data.resultType) {
    case "vector": {
      if (!Array.isArray(data.result)) {
        throw new QueryFailure("not-prometheus", "the vector result is not an array");
      }
      const samples = data.result.map((s: unknown) => {
        if (!isRecord(s)) {
          throw new QueryFailure("not-prometheus", "a vector sample is not an object");
        }
        return { labels: parseLabels(s.metric), value: parsePair(s.value, "a vector sample's value") };
      });
      return { resultType: "vector", samples };
    }
    case "scalar":
      return { resultType: "scalar", value: parsePair(data.result, "the scalar result") };
    case "matrix": {
      if (!Array.isArray(data.result)) {
        throw new QueryFailure("not-prometheus", "the matrix result is not an array");
      }
      const series = data.result.map((s: unknown) => {
        if (!isRecord(s) || !Array.isArray(s.values)) {
          throw new QueryFailure("not-prometheus", "a matrix series is not an object with values");
        }
        return {
          labels: parseLabels(s.metric),
          points: s.values.map((p: unknown) => parsePoint(p, "a matrix point")),
        };
      });
      return { resultType: "matrix", series };
    }
    case "string":
      return { resultType: data.resultType };
    default:
      throw new QueryFailure("not-prometheus", `unknown resultType ${JSON.stringify(data.resultType)}`);
  }
}

/** The API path under the base URL, which may carry a path prefix of its own (`…/prometheus`). */
export function apiUrl(baseUrl: string, apiPath: string): URL {
  return new URL(`${baseUrl.replace(/\/+$/, "")}/${apiPath.replace(/^\/+/, "")}`);
}

interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/**
 * One form POST with Node's own HTTP client (no proxy from the environment, no redirect
 * followed), its whole answer read as text within `timeoutMs`. Rejects with the socket's error,
 * or an AbortError when the deadline passes first.
 */
function post(url: URL, form: string, timeoutMs: number): Promise<HttpAnswer> {
  const client = url.protocol === "https:" ? https : url.protocol === "http:" ? http : undefined;
  if (client === undefined) {
    return Promise.reject(
      Object.assign(new Error(`unsupported protocol ${url.protocol}`), { code: "EPROTO" }),
    );
  }
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Accept: "application/json",
          "Content-Length": Buffer.byteLength(form),
        },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(form);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 250;
  async function once(apiPath: string, params: Record<string, string>): Promise<InstantResult> {
    let res: HttpAnswer;
    try {
      res = await post(apiUrl(options.baseUrl, apiPath), new URLSearchParams(params).toString(), timeoutMs);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.name === "AbortError" || e.name === "TimeoutError" || e.code === "ETIMEDOUT") {
        throw new QueryFailure("timeout", `no answer within ${timeoutMs} ms`);
      }
      const code = e.code ?? (e.cause as NodeJS.ErrnoException | undefined)?.code;
      const transient = code !== undefined && TRANSIENT_CODES.has(code);
      const what = code !== undefined && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
      throw new QueryFailure("unreachable", what || "the connection failed", transient);
    }
    try {
      return parseQueryResponse(res.status, res.contentType, res.body);
    } catch (err) {
      if (err instanceof QueryFailure && TRANSIENT_STATUS.has(res.status)) {
        throw new QueryFailure(err.kind, err.message, true);
      }
      throw err;
    }
  }

  async function withRetries(apiPath: string, params: Record<string, string>): Promise<InstantResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(apiPath, params);
      } catch (err) {
        if (!(err instanceof QueryFailure)) throw err;
        if (!err.transient || attempt >= attempts) {
          throw attempt > 1 ? new QueryFailure(err.kind, `${err.message} (after ${attempt} attempts)`) : err;
        }
        await sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  const seconds = (d: Date): string => (d.getTime() / 1000).toFixed(3);
  return {
    baseUrl: options.baseUrl,
    instantQuery(query: string, time: Date): Promise<InstantResult> {
      return withRetries("/api/v1/query", { query, time: seconds(time) });
    },
    rangeQuery(query: string, start: Date, end: Date, stepSeconds: number): Promise<InstantResult> {
      return withRetries("/api/v1/query_range", {
        query,
        start: seconds(start),
        end: seconds(end),
        step: String(stepSeconds),
      });
    },
  };
}
