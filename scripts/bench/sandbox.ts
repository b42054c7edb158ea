/**
 * The benchmarks that need the sandbox, sharing one: a control plane, Prometheus and
 * service processes of its own in a temporary directory, with the bench's own traffic.
 *
 * The road, as the demo drives it (scripts/sandbox/driver.ts): the baseline version goes to
 * staging, soaks and is promoted, so production exists with evidence; then the improved
 * version goes to staging, soaks and is promoted with its phases timed. On that sandbox:
 *   promotion-overhead  everything but the production `pulumi up` against that update;
 *   seed-way            the same version change by `kubectl set image` + `rollout status`
 *                       on a copy of production's Deployment in a namespace of its own;
 *   policy-pack         production previews with and without the policy pack;
 *   dry-run             `promote --dry-run --json` of the candidate staging soaked, before
 *                       the first timed promotion, compiled against ts-node.
 */
import * as path from "path";
import { PRODUCTION_POLICY, SandboxDriver, VERSIONS } from "../sandbox/driver";
import { selectStack } from "../promotion/engine";
import { sandboxDown, sandboxEnv, sandboxUp, SANDBOX_REGISTRY, SandboxState } from "../sandbox/cli";
import { REPO_ROOT } from "../toolchain/env";
import { parseTimelineLine, TimelineFigures } from "../promotion/engine-timeline";
import type { BenchContext } from "./context";
import { BenchmarkResult, figure, formatMs, timed } from "./figures";
import {
  apiWay,
  createSeedDeployment,
  deleteSeedNamespace,
  kubectlVersions,
  kubectlWay,
  SEED_NAMESPACE,
  SeedWay,
} from "./seed";

/** Requests per second to each namespace while the sandbox benchmarks run. */
export const TRAFFIC_RATE = 20;
/** Bake window of the timed promotion: one look at production after the update. */
export const BAKE = "10s";

export const SANDBOX_BENCHMARKS = ["promotion-overhead", "seed-way", "policy-pack", "dry-run"] as const;
export type SandboxBenchmark = (typeof SANDBOX_BENCHMARKS)[number];

/** The phases `npm run promote` prints when it has promoted. */
export interface PromotionTimes {
  readonly wallMs: number;
  readonly gateMs: number;
  readonly approvalMs: number;
  readonly updateMs: number;
  readonly verificationMs: number;
  /** The production `pulumi up` alone, as the rollout reports it. */
  readonly pulumiUpMs: number;
  /** Where that update spent its time, from the engine's events (engine-timeline.ts). */
  readonly engine?: TimelineFigures;
}

/** Reads the phase timings from the promote CLI's stderr; undefined when it did not promote. */
export function parsePromotionTimes(stderr: string, wallMs: number): PromotionTimes | undefined {
  const phases =
    /Time: gate ([\d.]+) s · approval ([\d.]+) s · update ([\d.]+) s · verification ([\d.]+) s/.exec(stderr);
  const up = /promotion: update \d+ succeeded in ([\d.]+)s/.exec(stderr);
  if (!phases || !up) return undefined;
  const ms = (s: string) => Number(s) * 1000;
  const engine = parseTimelineLine(stderr);
  return {
    wallMs,
    gateMs: ms(phases[1]),
    approvalMs: ms(phases[2]),
    updateMs: ms(phases[3]),
    verificationMs: ms(phases[4]),
    pulumiUpMs: ms(up[1]),
    ...(engine !== undefined ? { engine } : {}),
  };
}

/**
 * Deploys `version` to staging, waits out the soak and promotes it; fails unless it was promoted.
 * `beforePromotion` runs between the soak and the promotion (the dry runs).
 */
async function ship(
  ctx: BenchContext,
  driver: SandboxDriver,
  version: string,
  beforePromotion?: () => Promise<void>,
): Promise<PromotionTimes> {
  const deploy = await timed(() => driver.deployStaging(version));
  if (deploy.value.code !== 0) {
    throw new Error(
      `deploying ${version} to staging failed (exit ${deploy.value.code}):\n${tail(deploy.value.stderr)}`,
    );
  }
  ctx.log(`sandbox: staging runs ${version} (${formatMs(deploy.ms)})`);
  await driver.soak(version);
  if (beforePromotion) await beforePromotion();
  // The rollout prints the production update's engine timeline (engine-timeline.ts).
  const { run } = await driver.promote(version, [], { CHURN_ENGINE_TIMELINE: "1" });
  const times = parsePromotionTimes(run.stderr, run.ms);
  if (run.code !== 0 || times === undefined) {
    throw new Error(`promoting ${version} did not succeed (exit ${run.code}):\n${tail(run.stderr)}`);
  }
  ctx.log(
    `sandbox: production runs ${version}: promote took ${formatMs(run.ms)}, its pulumi up ${formatMs(times.pulumiUpMs)}`,
  );
  return times;
}

function tail(text: string, lines = 12): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Routes the driver's lines: the tools' own output only in verbose mode, the rest as progress. */
function driverLog(ctx: BenchContext): (line: string) => void {
  return (line) => {
    if (/^ {2}(│|gate )/.test(line) && !/Promoted|succeeded in|failed|refus|Rolling|rejected/i.test(line)) {
      ctx.detail(line);
    } else if (line.trim() !== "") {
      ctx.log(line.startsWith("  ") ? line : `sandbox: ${line}`);
    }
  };
}

/** The image production runs for a version (the program's registry/churn-model:<version>). */
const image = (version: string) => `${SANDBOX_REGISTRY}/churn-model:${version}`;

export async function sandboxBenches(
  ctx: BenchContext,
  selected: ReadonlySet<SandboxBenchmark>,
): Promise<BenchmarkResult[]> {
  const dir = path.join(ctx.tempDir("sandbox"), "state");
  ctx.onCleanup("the sandbox", () => sandboxDown({ dir, log: ctx.log }));
  const sandbox = await sandboxUp({
    dir,
    trafficRate: 0,
    log: (l) => (l.startsWith("  ") ? ctx.detail(l) : ctx.log(l)),
  });
  const driver = new SandboxDriver(sandbox, driverLog(ctx), { bake: BAKE, trafficRate: TRAFFIC_RATE });
  ctx.onCleanup("the traffic", () => driver.stopTraffic());
  driver.startTraffic();
  const results: BenchmarkResult[] = [];
  const t0 = performance.now();
  ctx.log(`sandbox: production gets the baseline ${VERSIONS.baseline} first (staging, soak, promotion)`);
  await ship(ctx, driver, VERSIONS.baseline);
  const setupMs = performance.now() - t0;

  const promotions: PromotionTimes[] = [];
  if (selected.has("promotion-overhead") || selected.has("seed-way") || selected.has("dry-run")) {
    const t1 = performance.now();
    const timed = selected.has("promotion-overhead") || selected.has("seed-way");
    const count = ctx.quick || !timed ? 1 : 3;
    for (let i = 0; i < count; i++) {
      // Back and forth between the two versions, ending on the improved one.
      const [from, to] =
        i % 2 === 0 ? [VERSIONS.baseline, VERSIONS.improved] : [VERSIONS.improved, VERSIONS.baseline];
      ctx.log(`sandbox: timed promotion ${i + 1}/${count}: ${from} → ${to}`);
      const dryRuns = i === 0 && selected.has("dry-run") ? () => dryRunBench(ctx, driver, to) : undefined;
      promotions.push(
        await ship(ctx, driver, to, dryRuns && (async () => void results.push(await dryRuns()))),
      );
    }
    if (selected.has("promotion-overhead")) {
      results.push(overheadResult(promotions, performance.now() - t1 + setupMs));
    }
  }
  if (selected.has("seed-way") && promotions.length > 0) {
    results.push(await seedWayBench(ctx, sandbox, promotions));
  }
  if (selected.has("policy-pack")) {
    results.push(await policyPackBench(ctx, sandbox));
  }
  // The traffic and the sandbox are stopped by the run's cleanup (also on Ctrl-C).
  return results;
}

/**
 * The production update's phases (engine-timeline.ts), each against the whole update, when
 * every promotion printed its timeline: the CLI's start to the engine's prelude, the language
 * host and program up to the first step, the steps, the program's end and checkpoint up to the
 * summary, and the CLI's exit; and the longest step (the Deployment's rollout and await).
 */
function engineFigures(b: string, ps: readonly PromotionTimes[]): ReturnType<typeof figure>[] {
  const es = ps.map((p) => p.engine);
  if (es.length === 0 || es.some((e) => e === undefined)) return [];
  const e = es as TimelineFigures[];
  const whole = { name: "the whole update (stack.up)", samplesMs: e.map((x) => x.exitMs) };
  const phase = (name: string, f: (x: TimelineFigures) => number) =>
    figure(b, `update: ${name}`, e.map(f), whole, { detail: true });
  const longest = e.every((x) => x.longest !== undefined)
    ? [phase(`longest step (${e[0].longest!.step})`, (x) => x.longest!.ms)]
    : [];
  return [
    phase("CLI start, backend and config (to the prelude)", (x) => x.preludeMs),
    phase("language host and program (prelude to the first step)", (x) => x.firstStepMs - x.preludeMs),
    phase("the resource steps (first step to the last done)", (x) => x.lastStepMs - x.firstStepMs),
    ...longest,
    phase("program end and checkpoint (to the summary)", (x) => x.summaryMs - x.lastStepMs),
    phase("CLI exit (summary to return)", (x) => x.exitMs - x.summaryMs),
  ];
}

function overheadResult(ps: readonly PromotionTimes[], wallMs: number): BenchmarkResult {
  const b = "promotion-overhead";
  const each = (f: (p: PromotionTimes) => number) => ps.map(f);
  const up = { name: "production pulumi up", samplesMs: each((p) => p.pulumiUpMs) };
  const overhead = (p: PromotionTimes) => p.wallMs - p.pulumiUpMs;
  return {
    name: b,
    description: "everything the promote CLI does besides the production pulumi up, against that update",
    figures: [
      figure(b, "production pulumi up", up.samplesMs),
      figure(b, "overhead: all but the pulumi up", each(overhead), up),
      figure(
        b,
        "process start and exit",
        each((p) => p.wallMs - (p.gateMs + p.approvalMs + p.updateMs + p.verificationMs)),
        undefined,
        { detail: true },
      ),
      figure(
        b,
        "gate (evaluated twice)",
        each((p) => p.gateMs),
        undefined,
        { detail: true },
      ),
      figure(
        b,
        "approval (given by flag)",
        each((p) => p.approvalMs),
        undefined,
        { detail: true },
      ),
      figure(
        b,
        "update phase outside pulumi up",
        each((p) => p.updateMs - p.pulumiUpMs),
        undefined,
        {
          detail: true,
        },
      ),
      figure(
        b,
        `verification (--bake ${BAKE})`,
        each((p) => p.verificationMs),
        undefined,
        { detail: true },
      ),
      figure(
        b,
        "overhead without verification",
        each((p) => overhead(p) - p.verificationMs),
        up,
      ),
      ...engineFigures(b, ps),
    ],
    notes: [
      `${ps.length} promotion${ps.length === 1 ? "" : "s"} of the sandbox's production (2 replicas), back and forth between ` +
        `${VERSIONS.baseline} and ${VERSIONS.improved}, each after its own staging deploy and soak; promote runs as its own ` +
        `Node.js process (compiled, as npm run promote) with --window 1h --bake ${BAKE}; ${TRAFFIC_RATE} req/s to each namespace`,
      "phases from the CLI's own timing line (0.1 s resolution); the pulumi up from the rollout's 'update N succeeded in' line; " +
        "process start and exit = wall time − the four phases",
      "the update phase outside pulumi up: reading production's config and evidence, signing, the promotion lock, writing stack config",
    ],
    wallMs,
  };
}

async function seedWayBench(
  ctx: BenchContext,
  s: SandboxState,
  promotions: readonly PromotionTimes[],
): Promise<BenchmarkResult> {
  const t0 = performance.now();
  const b = "seed-way";
  const changes = ctx.quick ? 2 : 6;
  const cacheDir = ctx.tempDir("kubectl-cache");
  const versions = await kubectlVersions(s, cacheDir);
  let way: SeedWay;
  const notes: string[] = [];
  if (versions.ok) {
    way = kubectlWay(s, cacheDir, versions.client);
    notes.push(`kubectl ${versions.client} against the sandbox API server ${versions.server}`);
  } else {
    way = apiWay(s);
    notes.push(
      `kubectl could not be used (${versions.reason}); the seed's way is measured through the API instead: ` +
        "the Deployment's image set by GET + PUT (the API helper sends JSON bodies only, so no PATCH) " +
        "and its rollout status polled by kubectl's rules",
    );
  }
  ctx.log(`seed-way: ${way.method}`);
  ctx.onCleanup("the seed's namespace", () => deleteSeedNamespace(s));
  await createSeedDeployment(s, image(VERSIONS.baseline));
  const samples: number[] = [];
  try {
    for (let i = 1; i <= changes; i++) {
      const [from, to] =
        i % 2 === 1 ? [VERSIONS.baseline, VERSIONS.improved] : [VERSIONS.improved, VERSIONS.baseline];
      const { ms } = await timed(() => way.setImage(image(to)));
      samples.push(ms);
      ctx.log(`seed-way: change ${i}/${changes}: ${from} → ${to} in ${formatMs(ms)}`);
    }
  } finally {
    await deleteSeedNamespace(s);
  }
  const seed = { name: "kubectl set image + rollout status", samplesMs: samples };
  notes.push(
    `the same changes, back and forth between ${VERSIONS.baseline} and ${VERSIONS.improved}, on a copy of production's ` +
      `Deployment (same spec, replicas and rollout strategy) in namespace ${SEED_NAMESPACE}; production's stack and ` +
      `Deployment are not touched`,
    `kubectl side: median of ${changes} changes; our side: median of the ${promotions.length} timed ` +
      `promotion${promotions.length === 1 ? "" : "s"} (wall time of the promote process)`,
  );
  return {
    name: b,
    description:
      "our promotion end to end against kubectl set image + rollout status for the same version change",
    figures: [
      figure(b, "kubectl set image + rollout status", samples),
      figure(
        b,
        "promotion end to end",
        promotions.map((p) => p.wallMs),
        seed,
      ),
      figure(
        b,
        "its production pulumi up alone",
        promotions.map((p) => p.pulumiUpMs),
        seed,
        { detail: true },
      ),
    ],
    notes,
    wallMs: performance.now() - t0,
  };
}

async function policyPackBench(ctx: BenchContext, s: SandboxState): Promise<BenchmarkResult> {
  const t0 = performance.now();
  const b = "policy-pack";
  const rounds: number = ctx.quick ? 2 : 5;
  const stack = await selectStack("production", { projectDir: s.projectDir, env: sandboxEnv(s) });
  const policy = { policyPacks: [path.join(REPO_ROOT, "policy")], policyPackConfigs: [PRODUCTION_POLICY] };
  const onOutput = (o: string) => o.split("\n").forEach((l) => l.trim() && ctx.detail(`  ${l}`));
  const preview = async (withPack: boolean) => {
    const r = await stack.preview({ color: "never", onOutput, ...(withPack ? policy : {}) });
    const changes = Object.entries(r.changeSummary)
      .filter(([k, n]) => k !== "same" && (n ?? 0) > 0)
      .map(([k, n]) => `${n} ${k}`);
    if (changes.length > 0) ctx.log(`policy-pack: the preview plans changes (${changes.join(", ")})`);
  };
  const warm = await timed(() => preview(false));
  ctx.log(`policy-pack: warm-up preview in ${formatMs(warm.ms)} (not counted)`);
  const without: number[] = [];
  const withPack: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    // Alternate which goes first so neither always follows the other.
    const order = round % 2 === 1 ? [true, false] : [false, true];
    for (const pack of order) {
      const { ms } = await timed(() => preview(pack));
      (pack ? withPack : without).push(ms);
    }
    ctx.log(
      `policy-pack: round ${round}/${rounds}: with the pack ${formatMs(withPack.at(-1)!)} · without ${formatMs(without.at(-1)!)}`,
    );
  }
  return {
    name: b,
    description: "production pulumi preview with the policy pack against without",
    figures: [
      figure(b, "preview without the pack", without),
      figure(b, "preview with the pack", withPack, { name: "without", samplesMs: without }),
      figure(
        b,
        "the pack's own cost (per round: with − without)",
        withPack.map((w, i) => w - without[i]),
        undefined,
        { detail: true },
      ),
    ],
    notes: [
      `Automation API stack.preview() of the sandbox's production stack (nothing to change), with ` +
        `policyPacks [policy/] and policyPackConfigs [${path.relative(REPO_ROOT, PRODUCTION_POLICY)}] against without; ` +
        `median of ${rounds} round${rounds === 1 ? "" : "s"} after one warm-up, order alternating`,
    ],
    wallMs: performance.now() - t0,
  };
}

/** `promote --dry-run --json` of the soaked candidate, whole process, compiled against ts-node. */
async function dryRunBench(
  ctx: BenchContext,
  driver: SandboxDriver,
  version: string,
): Promise<BenchmarkResult> {
  const t0 = performance.now();
  const b = "dry-run";
  const runs = ctx.quick ? 3 : 7;
  const compiled: number[] = [];
  const tsNode: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const runtime of i % 2 === 0
      ? (["compiled", "ts-node"] as const)
      : (["ts-node", "compiled"] as const)) {
      const { run, decision } = await driver.promote(version, ["--dry-run"], {}, { approval: null, runtime });
      if (decision === undefined) {
        throw new Error(
          `the dry run of ${version} printed no decision (exit ${run.code}):\n${tail(run.stderr)}`,
        );
      }
      (runtime === "compiled" ? compiled : tsNode).push(run.ms);
    }
    ctx.log(
      `dry-run: round ${i + 1}/${runs}: compiled ${formatMs(compiled.at(-1)!)} · ts-node ${formatMs(tsNode.at(-1)!)}`,
    );
  }
  return {
    name: b,
    description:
      "promote --dry-run --json against the sandbox's real Prometheus, whole process, compiled against ts-node",
    figures: [
      figure(b, "dry run through ts-node", tsNode, undefined, { detail: true }),
      figure(b, "dry run, compiled", compiled, { name: "through ts-node", samplesMs: tsNode }),
    ],
    notes: [
      `${runs} dry runs of each of ${version} (soaked on staging; production runs the previous version), alternating; ` +
        "staging's outputs and last update read through the engine's CLI, the gate's queries against the sandbox's Prometheus, " +
        "the production stack's promotion lock checked read-only; wall time of the promote process",
    ],
    wallMs: performance.now() - t0,
  };
}
