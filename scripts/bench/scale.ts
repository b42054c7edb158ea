/**
 * How preview time grows with the number of model services in one stack: the bench-only
 * program scale-program.ts declares N ModelService components (8 resources each in
 * production's shape) rendered to a directory, and `pulumi preview` (Automation API) runs
 * on stacks of 1, 10 and 50 of them, in turn, round after round, on a local file backend.
 */
import * as fs from "fs";
import * as path from "path";
import { upsertStack } from "../promotion/engine";
import { makeLocalBackend, REPO_ROOT, sourceDir } from "../toolchain/env";
import { BenchmarkResult, figure, formatMs, median, timed } from "./figures";
import type { BenchContext } from "./context";

export const SIZES: readonly number[] = [1, 10, 50];
const PROJECT = "churn-model-bench-scale";
const LINKED = ["node_modules", "infra", "scripts", "package.json", "tsconfig.json"];

/** A project directory running scale-program.ts, its sources and dependencies symlinked. */
export function makeScaleProject(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of LINKED) fs.symlinkSync(path.join(REPO_ROOT, entry), path.join(dir, entry));
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    [
      `name: ${PROJECT}`,
      "description: Preview cost of many churn-model services in one stack (benchmark only).",
      "runtime:",
      "  name: nodejs",
      "  options:",
      "    typescript: true",
      `main: ${path.relative(REPO_ROOT, path.join(sourceDir(__dirname), "scale-program.ts"))}`,
      "",
    ].join("\n"),
  );
  return dir;
}

export async function scaleBench(ctx: BenchContext): Promise<BenchmarkResult> {
  const t0 = performance.now();
  const rounds = ctx.quick ? 1 : 4;
  const dir = ctx.tempDir("scale");
  const projectDir = makeScaleProject(path.join(dir, "project"));
  const backend = path.join(dir, "backend");
  fs.mkdirSync(backend);
  const env = { PULUMI_BACKEND_URL: makeLocalBackend(backend) };
  const stacks = new Map<number, Awaited<ReturnType<typeof upsertStack>>>();
  for (const n of SIZES) {
    const stack = await upsertStack(`services-${n}`, { projectDir, env });
    await stack.setConfig(`${PROJECT}:services`, { value: String(n) });
    await stack.setConfig(`${PROJECT}:renderDir`, { value: path.join(dir, `render-${n}`) });
    stacks.set(n, stack);
  }
  const creates = new Map<number, number>();
  const preview = async (n: number) => {
    const result = await stacks
      .get(n)!
      .preview({ color: "never", onOutput: (o) => o.split("\n").forEach((l) => l.trim() && ctx.detail(l)) });
    creates.set(n, result.changeSummary.create ?? 0);
  };
  const warm = await timed(() => preview(SIZES[0]));
  ctx.log(`scale: warm-up preview of the ${SIZES[0]}-service stack in ${formatMs(warm.ms)} (not counted)`);
  const samples = new Map<number, number[]>(SIZES.map((n) => [n, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const n of SIZES) {
      const { ms } = await timed(() => preview(n));
      samples.get(n)!.push(ms);
      ctx.log(
        `scale: round ${round}/${rounds}: preview of ${n} service${n === 1 ? "" : "s"} (${creates.get(n)} resources) ${formatMs(ms)}`,
      );
    }
  }
  const [smallest, largest] = [SIZES[0], SIZES[SIZES.length - 1]];
  const base = { name: `${smallest} service${smallest === 1 ? "" : "s"}`, samplesMs: samples.get(smallest)! };
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    name: "preview-scale",
    description: "pulumi preview of one stack declaring 1, 10 and 50 ModelService components",
    figures: SIZES.map((n) =>
      figure(
        "preview-scale",
        `preview, ${n} service${n === 1 ? "" : "s"} (${creates.get(n)} resources)`,
        samples.get(n)!,
        n === smallest ? undefined : base,
      ),
    ),
    notes: [
      `scripts/bench/scale-program.ts in a temporary project (file backend, manifests rendered to a directory, no cluster); ` +
        `each preview is a fresh stack's plan (all creates), median of ${rounds} round${rounds === 1 ? "" : "s"} after one warm-up`,
      `resources: the preview's creates, the stack and the provider included; time per service beyond the first: ` +
        formatMs((median(samples.get(largest)!) - median(samples.get(smallest)!)) / (largest - smallest)),
    ],
    wallMs: performance.now() - t0,
  };
}
