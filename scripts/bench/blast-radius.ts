/**
 * `npm run bench -- --only blast-radius`: how much of production a bad version reaches before
 * it is removed, through a canary against all at once, in the same run on the same traffic.
 *
 * On a sandbox of its own: the baseline is promoted (all at once: there is no stable before
 * it), the error-prone 1.4.0 goes to staging, soaks and is approved once; then it is promoted
 * twice to the same production under the same steady traffic —
 *   canary       `--strategy canary`: the 10 % step's analysis aborts it (exit 5);
 *   all-at-once  `--strategy all-at-once`: the bake's error-rate trigger rolls it back (exit 5).
 * For each, Prometheus counts the production requests version 1.4.0 answered during that
 * promotion (from its start until the bad version was gone) and the 5xx among them: the sum
 * over 1.4.0's production series of each counter's largest value in that window (every
 * series starts at zero with its process, and 1.4.0 runs in production only then). The wall
 * time of each promotion is compared too. Nothing is asserted.
 */
import * as path from "path";
import { createPrometheusClient, PrometheusClient } from "../promotion/prometheus";
import { sandboxDown, sandboxUp } from "../sandbox/cli";
import { CliRun, SandboxDriver, VERSIONS } from "../sandbox/driver";
import type { BenchContext } from "./context";
import { BenchmarkResult, figure, formatMs, Quantity } from "./figures";

/** Requests per second to production (and staging) while the promotions run. */
export const BLAST_TRAFFIC_RATE = 20;
/** The all-at-once promotion's bake: the window its rollback triggers watch. */
export const BLAST_BAKE = "60s";

/** What the bad version answered in production during one promotion. */
export interface Exposure {
  readonly requests: number;
  readonly errors: number;
  readonly wallMs: number;
}

async function countAnswered(
  client: PrometheusClient,
  version: string,
  errorsOnly: boolean,
  start: Date,
  end: Date,
): Promise<number> {
  const seconds = Math.max(1, Math.ceil((end.getTime() - start.getTime()) / 1000));
  const selector = `namespace="production",version="${version}"${errorsOnly ? ',code=~"5.."' : ""}`;
  const r = await client.instantQuery(
    `sum(max_over_time(churn_model_requests_total{${selector}}[${seconds}s])) or vector(0)`,
    end,
  );
  if (r.resultType !== "vector" || r.samples.length !== 1) {
    throw new Error(`counting ${version}'s production requests: an unexpected answer (${r.resultType})`);
  }
  return r.samples[0].value;
}

async function exposure(
  client: PrometheusClient,
  run: () => Promise<CliRun>,
  what: string,
): Promise<Exposure> {
  const start = new Date();
  const r = await run();
  if (r.code !== 5) {
    throw new Error(
      `the ${what} promotion of ${VERSIONS.errorProne} ended with exit ${r.code}, not 5:\n${r.stderr}`,
    );
  }
  // Two scrapes past the end, so the last requests the bad version answered are in.
  await new Promise((res) => setTimeout(res, 6_000));
  const end = new Date();
  return {
    requests: await countAnswered(client, VERSIONS.errorProne, false, start, end),
    errors: await countAnswered(client, VERSIONS.errorProne, true, start, end),
    wallMs: r.ms,
  };
}

function ratio(a: number, b: number): number {
  return b === 0 ? NaN : Math.round((a / b) * 1e4) / 1e4;
}

/** The blast-radius figures from the two exposures (pure). */
export function blastRadiusResult(canary: Exposure, allAtOnce: Exposure, wallMs: number): BenchmarkResult {
  const b = "blast-radius";
  const quantity = (name: string, value: number, base?: { name: string; value: number }): Quantity =>
    base === undefined ? { name, value } : { name, value, baseline: base, ratio: ratio(value, base.value) };
  const allRequests = { name: "all-at-once: requests answered by 1.4.0", value: allAtOnce.requests };
  const allErrors = { name: "all-at-once: 5xx answered by 1.4.0", value: allAtOnce.errors };
  const quantities: Quantity[] = [
    allRequests,
    quantity("canary: requests answered by 1.4.0", canary.requests, allRequests),
    allErrors,
    quantity("canary: 5xx answered by 1.4.0", canary.errors, allErrors),
  ];
  const allWall = { name: "all-at-once promotion", samplesMs: [allAtOnce.wallMs] };
  return {
    name: b,
    description:
      "production requests (and 5xx) the bad version answered before it was removed, canary against all at once, with each promotion's wall time",
    figures: [
      figure(b, "all-at-once promotion", allWall.samplesMs),
      figure(b, "canary promotion", [canary.wallMs], allWall),
    ],
    quantities,
    notes: [
      ...quantities.map(
        (q) =>
          `${q.name}: ${q.value.toFixed(0)}` +
          (q.baseline !== undefined
            ? ` (${Number.isFinite(q.ratio) ? q.ratio!.toFixed(2) : "n/a"}× all at once)`
            : ""),
      ),
      `canary wall ${formatMs(canary.wallMs)} (gate, the 10 % step's update, its analysis until the abort, the removal) ` +
        `against all at once ${formatMs(allAtOnce.wallMs)} (gate, update, bake until the trigger, rollback and its verification; --bake ${BLAST_BAKE})`,
      `same sandbox, same steady traffic (${BLAST_TRAFFIC_RATE} req/s to production), one after the other; counted in Prometheus per promotion window`,
    ],
    wallMs,
  };
}

export async function blastRadiusBench(ctx: BenchContext): Promise<BenchmarkResult> {
  const t0 = performance.now();
  const dir = path.join(ctx.tempDir("blast-radius"), "state");
  ctx.onCleanup("the blast-radius sandbox", () => sandboxDown({ dir, log: ctx.log }));
  const sandbox = await sandboxUp({
    dir,
    trafficRate: 0,
    log: (l) => (l.startsWith("  ") ? ctx.detail(l) : ctx.log(l)),
  });
  const driver = new SandboxDriver(sandbox, (l) => (l.startsWith("  │") ? ctx.detail(l) : ctx.log(l)), {
    bake: BLAST_BAKE,
    trafficRate: BLAST_TRAFFIC_RATE,
  });
  ctx.onCleanup("the blast-radius traffic", () => driver.stopTraffic());
  driver.startTraffic();
  const ship = async (version: string) => {
    const deploy = await driver.deployStaging(version);
    if (deploy.code !== 0) throw new Error(`deploying ${version} to staging failed:\n${deploy.stderr}`);
    await driver.soak(version);
  };
  await ship(VERSIONS.baseline);
  const first = await driver.promote(VERSIONS.baseline, ["--strategy", "all-at-once"]);
  if (first.run.code !== 0) throw new Error(`promoting the baseline failed:\n${first.run.stderr}`);
  await ship(VERSIONS.errorProne);
  const approval = (await driver.approve(VERSIONS.errorProne)).file;
  if (approval === undefined)
    throw new Error(`${VERSIONS.errorProne} was not approved (its gate refused it)`);
  const client = createPrometheusClient({ baseUrl: sandbox.prometheusUrl });
  const promote = (strategy: string) => async () =>
    (await driver.promote(VERSIONS.errorProne, ["--strategy", strategy], {}, { approval })).run;
  ctx.log(`blast-radius: ${VERSIONS.errorProne} as a canary`);
  const canary = await exposure(client, promote("canary"), "canary");
  ctx.log(
    `blast-radius: canary: ${canary.requests} requests, ${canary.errors} 5xx, ${formatMs(canary.wallMs)}`,
  );
  ctx.log(`blast-radius: ${VERSIONS.errorProne} all at once`);
  const allAtOnce = await exposure(client, promote("all-at-once"), "all-at-once");
  ctx.log(
    `blast-radius: all at once: ${allAtOnce.requests} requests, ${allAtOnce.errors} 5xx, ${formatMs(allAtOnce.wallMs)}`,
  );
  return blastRadiusResult(canary, allAtOnce, performance.now() - t0);
}
