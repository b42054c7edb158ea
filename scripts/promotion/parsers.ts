/**
 * Parsers for the values the promotion tools accept from people and files: model versions,
 * RFC 3339 timestamps, durations, label selectors and URLs. Each failure is a BadInput that
 * names where the value came from.
 */
import { modelVersionProblem } from "../../policy/contract";
import { BadInput } from "./errors";

/** A model version the delivery accepts: semver (1.4.2, 1.4.2-rc.1+b7) or sha256:<64 hex>. */
export function parseModelVersion(raw: unknown, source: string): string {
  if (typeof raw !== "string") {
    throw new BadInput(`${source} must be a string holding a model version (got ${JSON.stringify(raw)})`);
  }
  const problem = modelVersionProblem(raw);
  if (problem !== undefined) {
    throw new BadInput(`${source} ${JSON.stringify(raw)} is refused: it ${problem}`);
  }
  return raw;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** An RFC 3339 timestamp with an explicit offset (`2025-03-01T12:00:00Z`). */
export function parseTimestamp(raw: unknown, source: string): Date {
  const shape = "an RFC 3339 timestamp like 2025-03-01T12:00:00Z";
  if (typeof raw !== "string") {
    throw new BadInput(`${source} must be ${shape} (got ${JSON.stringify(raw)})`);
  }
  const m = RFC3339.exec(raw);
  if (m === null) {
    throw new BadInput(`${source} must be ${shape} (got ${JSON.stringify(raw)})`);
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  const inCalendar = calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  const offsetOk = m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  if (!inCalendar || hour > 23 || minute > 59 || second > 59 || !offsetOk) {
    throw new BadInput(`${source} ${JSON.stringify(raw)} is not a valid date and time`);
  }
  const ms = Date.parse(raw.toUpperCase());
  if (!Number.isFinite(ms)) {
    throw new BadInput(`${source} ${JSON.stringify(raw)} is not a valid date and time`);
  }
  return new Date(ms);
}

const DURATION_UNITS_MS: Record<string, number> = {
  w: 604_800_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const DURATION = /^(?:\d+(?:ms|[wdhms]))+$/;

/** A duration in Prometheus' notation (`24h`, `90m`, `1d12h`, `500ms`) in milliseconds, above 0. */
export function parseDurationMs(raw: string, source: string): number {
  if (!DURATION.test(raw)) {
    throw new BadInput(`${source} must be a duration like 24h, 90m or 1d12h (got ${JSON.stringify(raw)})`);
  }
  let ms = 0;
  for (const part of raw.matchAll(/(\d+)(ms|[wdhms])/g)) {
    ms += Number(part[1]) * DURATION_UNITS_MS[part[2]];
  }
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new BadInput(`${source} must be longer than 0 (got ${JSON.stringify(raw)})`);
  }
  return ms;
}

/** A duration as whole seconds, at least 1s (`24h` → 86400). */
export function parseDurationSeconds(raw: string, source: string): number {
  const ms = parseDurationMs(raw, source);
  if (ms % 1000 !== 0) {
    throw new BadInput(`${source} must be whole seconds (got ${JSON.stringify(raw)})`);
  }
  return ms / 1000;
}

/** `24h`, `1h30m`, `45s`: the shortest Prometheus notation of whole seconds. */
export function formatDuration(seconds: number): string {
  let rest = Math.floor(seconds);
  let out = "";
  for (const [unit, size] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out === "" ? "0s" : out;
}

/** A set of Prometheus label matchers: label name → exact value. */
export type LabelSelector = Readonly<Record<string, string>>;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A JSON object of label → value, as in the staging outputs' `metricsSelector`. */
export function parseLabelSelector(raw: unknown, source: string): LabelSelector {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new BadInput(`${source} must be a JSON object of label name → value (got ${JSON.stringify(raw)})`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new BadInput(`${source}: ${JSON.stringify(name)} is not a usable Prometheus label name`);
    }
    if (typeof value !== "string" || value === "") {
      throw new BadInput(`${source}.${name} must be a non-empty string (got ${JSON.stringify(value)})`);
    }
    out[name] = value;
  }
  if (Object.keys(out).length === 0) {
    throw new BadInput(`${source} must name at least one label`);
  }
  return out;
}

/** Renders a selector as PromQL matchers, values escaped: `namespace="staging",version="1.1.0"`. */
export function renderMatchers(selector: LabelSelector): string {
  return Object.keys(selector)
    .sort()
    .map((name) => `${name}=${JSON.stringify(selector[name])}`)
    .join(",");
}

/** An http(s) URL without credentials, query or fragment; the trailing slash is dropped. */
export function parseHttpUrl(raw: unknown, source: string): string {
  if (typeof raw !== "string" || raw.trim() === "") {
    throw new BadInput(`${source} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BadInput(`${source} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BadInput(`${source} must use http or https (got ${JSON.stringify(raw)})`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw new BadInput(
      `${source} must not carry credentials, a query or a fragment (got ${JSON.stringify(raw)})`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}
