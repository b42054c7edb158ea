/**
 * What a benchmark reports: figures (a median of samples, in milliseconds) and, where a
 * figure is compared, the baseline it was measured against in the same run and the ratio.
 * Rendering as a text table and as the JSON report lives here too.
 */

/** One measured quantity. */
export interface Figure {
  /** The benchmark it belongs to (`promotion-overhead`, `policy-pack`, …). */
  readonly benchmark: string;
  /** What was measured, as the table shows it. */
  readonly name: string;
  /** The median of `samplesMs`, milliseconds. */
  readonly medianMs: number;
  /** Every sample, milliseconds, in the order taken. */
  readonly samplesMs: readonly number[];
  /** The spread of the samples: the fastest and the slowest, milliseconds. */
  readonly spread: { readonly minMs: number; readonly maxMs: number };
  /** The figure this one is divided by, when it is a comparison. */
  readonly baseline?: { readonly name: string; readonly medianMs: number };
  /** medianMs / baseline.medianMs. */
  readonly ratio?: number;
  /** A detail row (a part of the figure above it) rather than a headline. */
  readonly detail?: boolean;
}

/** A count (not a time) a benchmark reports, with the count it is compared with. */
export interface Quantity {
  readonly name: string;
  readonly value: number;
  readonly baseline?: { readonly name: string; readonly value: number };
  /** value / baseline.value. */
  readonly ratio?: number;
}

export interface BenchmarkResult {
  readonly name: string;
  /** What the benchmark compares, one sentence. */
  readonly description: string;
  readonly figures: Figure[];
  /** How it was measured and anything that bears on reading the figures. */
  readonly notes: string[];
  /** Counts, where a benchmark measures some (blast-radius); printed in its notes. */
  readonly quantities?: readonly Quantity[];
  /** Wall time of the benchmark, milliseconds (setup included). */
  readonly wallMs: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `fn` and returns its result with the elapsed milliseconds (monotonic clock). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** A figure from samples; with `baseline`, also the ratio of the two medians. */
export function figure(
  benchmark: string,
  name: string,
  samplesMs: readonly number[],
  baseline?: { readonly name: string; readonly samplesMs: readonly number[] },
  opts: { detail?: boolean } = {},
): Figure {
  const round = (ms: number) => Math.round(ms * 100) / 100;
  const m = median(samplesMs);
  const spread = { minMs: round(Math.min(...samplesMs)), maxMs: round(Math.max(...samplesMs)) };
  const own = { benchmark, name, medianMs: round(m), samplesMs: samplesMs.map(round), spread, ...opts };
  if (baseline === undefined) return own;
  const b = median(baseline.samplesMs);
  return {
    ...own,
    baseline: { name: baseline.name, medianMs: round(b) },
    ratio: Math.round((m / b) * 1e4) / 1e4,
  };
}

/** `850 ms`, `12.3 s`, `4 min 05 s`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms === 0) return "0 ms";
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

export function formatRatio(r: number | undefined): string {
  if (r === undefined) return "";
  if (!Number.isFinite(r)) return "n/a";
  return r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

/** The final table: one row per figure, grouped by benchmark. */
export function renderTable(results: readonly BenchmarkResult[]): string {
  const header = ["benchmark", "figure", "median", "spread (min–max)", "n", "against", "ratio"];
  const rows: string[][] = [];
  for (const r of results) {
    r.figures.forEach((f, i) => {
      rows.push([
        i === 0 ? r.name : "",
        f.detail ? `  · ${f.name}` : f.name,
        formatMs(f.medianMs),
        f.samplesMs.length > 1 ? `${formatMs(f.spread.minMs)} – ${formatMs(f.spread.maxMs)}` : "",
        String(f.samplesMs.length),
        f.baseline ? `${f.baseline.name} (${formatMs(f.baseline.medianMs)})` : "",
        formatRatio(f.ratio),
      ]);
    });
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const right = new Set([2, 3, 4, 6]);
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
