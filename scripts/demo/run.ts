/**
 * `npm run demo`: the whole staging → production story on the local sandbox.
 *
 *   1. the baseline version goes to staging, soaks, passes the gate and is promoted;
 *   2. the improved version follows the same road and replaces it in production through every
 *      canary step (10 %, then 50 %, each judged against the stable on the same traffic);
 *   3. a version whose accuracy regressed is refused by the gate, production untouched;
 *   4. that version pushed to production by hand — without the policy pack, with it, with
 *      hand-made evidence, and with evidence no approver signed — is refused each time;
 *   5. an error-prone version that passes staging meets 10 % of production as a canary; the
 *      canary analysis aborts it (exit 5), the canary is removed, the stable never changed.
 *
 * Ends with an HTML report (one file, opens offline). Options: --keep leaves the sandbox
 * running; --report FILE; --bake DURATION (default 30s); --rate N requests/s to staging (default
 * 15; production gets twice that).
 * Ctrl-C stops the traffic and tears the sandbox down.
 */
import * as fs from "fs";
import * as path from "path";
import { versionLabel } from "../../policy/contract";
import { readHistory } from "../promotion/history";
import { sandboxDown, sandboxEnv, sandboxUp, SandboxState } from "../sandbox/cli";
import { REPO_ROOT, sourceDir } from "../toolchain/env";
import { CandidateCharts, renderReport, Series } from "./report";
import { VERSIONS } from "../sandbox/driver";
import { Stories } from "./stories";

interface DemoOptions {
  keep: boolean;
  report: string;
  bake: string;
  rate: number;
}

function parseArgs(argv: readonly string[]): DemoOptions {
  const o: DemoOptions = {
    keep: false,
    report: path.join(REPO_ROOT, "reports", `demo-${new Date().toISOString().replace(/[:.]/g, "-")}.html`),
    bake: "30s",
    rate: 15,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--keep") o.keep = true;
    else if (a === "--report") o.report = path.resolve(value());
    else if (a === "--bake") o.bake = value();
    else if (a === "--rate") {
      o.rate = Number(value());
      if (!Number.isFinite(o.rate) || o.rate <= 0 || o.rate > 100)
        throw new Error("--rate must be between 0 and 100");
    } else if (a === "--help" || a === "-h") {
      process.stdout.write(
        fs
          .readFileSync(path.join(sourceDir(__dirname), "run.ts"), "utf8")
          .split("*/")[0]
          .replace(/^\/\*\*?|^ \* ?/gm, ""),
      );
      process.exit(0);
    } else throw new Error(`unknown option ${JSON.stringify(a)} (see --help)`);
  }
  return o;
}

async function rangeSeries(prometheusUrl: string, query: string, start: Date, end: Date): Promise<Series> {
  const url = new URL("/api/v1/query_range", prometheusUrl);
  url.searchParams.set("query", query);
  url.searchParams.set("start", String(start.getTime() / 1000));
  url.searchParams.set("end", String(end.getTime() / 1000));
  url.searchParams.set("step", "5");
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { data?: { result?: { values: [number, string][] }[] } };
  const values = body.data?.result?.[0]?.values ?? [];
  const t0 = start.getTime() / 1000;
  return { points: values.map(([t, v]) => [t - t0, Number(v)] as [number, number]) };
}

export async function candidateCharts(
  prometheusUrl: string,
  version: string,
  start: Date,
  end: Date,
): Promise<CandidateCharts> {
  const sel = `namespace="staging",version="${versionLabel(version)}"`;
  const [accuracy, latencyP99Ms, errorRate] = await Promise.all([
    rangeSeries(
      prometheusUrl,
      `(sum(increase(churn_model_predictions_labeled_total{${sel},correct="true"}[30s])) or vector(0)) / sum(increase(churn_model_predictions_labeled_total{${sel}}[30s]))`,
      start,
      end,
    ),
    rangeSeries(
      prometheusUrl,
      `histogram_quantile(0.99, sum by (le) (rate(churn_model_request_duration_seconds_bucket{${sel}}[30s]))) * 1000`,
      start,
      end,
    ),
    rangeSeries(
      prometheusUrl,
      `(sum(rate(churn_model_requests_total{${sel},code=~"5.."}[30s])) or vector(0)) / sum(rate(churn_model_requests_total{${sel}}[30s]))`,
      start,
      end,
    ),
  ]);
  return { version, accuracy, latencyP99Ms, errorRate };
}

export async function runDemo(o: DemoOptions, log: (l: string) => void): Promise<boolean> {
  const startedAt = new Date();
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s]`;
  const say = (l: string) => log(`${stamp()} ${l}`);
  let sandbox: SandboxState | undefined;
  let stories: Stories | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say("interrupted: stopping traffic and the sandbox…");
    void (async () => {
      await stories?.stopTraffic().catch(() => undefined);
      if (!o.keep) await sandboxDown({ log: say }).catch(() => undefined);
      process.exit(130);
    })();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    say(
      "starting the sandbox (control plane, Prometheus, controller) — each promotion is approved by demo-approver, " +
        "who signs the decision a dry run shows (`promote -- approve`, the sandbox-only approver key)",
    );
    sandbox = await sandboxUp({ log: say, trafficRate: 0 });
    // Production serves twice staging's rate, so a 10 % canary step is decided within its step.
    stories = new Stories(sandbox, say, {
      bake: o.bake,
      trafficRate: o.rate,
      productionTrafficRate: 2 * o.rate,
    });
    stories.startTraffic();
    const windows: { version: string; start: Date; end: Date }[] = [];
    const track = async (version: string, run: () => Promise<unknown>) => {
      const start = new Date();
      await run();
      windows.push({ version, start, end: new Date() });
    };
    await track(VERSIONS.baseline, () => stories!.promoteStory(1, VERSIONS.baseline, "baseline"));
    await track(VERSIONS.improved, () => stories!.promoteStory(2, VERSIONS.improved, "improved", "canary"));
    await track(VERSIONS.regressed, () => stories!.rejectStory(VERSIONS.regressed));
    await stories.manualStory(VERSIONS.regressed);
    await track(VERSIONS.errorProne, () => stories!.canaryAbortStory(VERSIONS.errorProne));
    await stories.stopTraffic();

    say("writing the report");
    const charts = await Promise.all(
      windows.map((w) => candidateCharts(sandbox!.prometheusUrl, w.version, w.start, w.end)),
    );
    const history = await withEnv(sandboxEnv(sandbox), () => readHistory("production", 50));
    const html = renderReport({
      startedAt,
      finishedAt: new Date(),
      thresholds: stories.thresholds,
      stories: stories.results,
      charts,
      history,
    });
    fs.mkdirSync(path.dirname(o.report), { recursive: true });
    fs.writeFileSync(o.report, html);
    const ok = stories.results.every((r) => r.ok);
    say("");
    for (const r of stories.results) say(`${r.ok ? "✔" : "✘"} ${r.title} (${(r.ms / 1000).toFixed(0)}s)`);
    say(`report: ${o.report}`);
    say(`demo ${ok ? "completed" : "FAILED"} in ${((Date.now() - t0) / 60000).toFixed(1)} min`);
    return ok;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stories?.stopTraffic().catch(() => undefined);
    if (o.keep && sandbox) {
      say(
        "--keep: the sandbox stays up; `npm run sandbox -- status`, `source .sandbox/env`, `npm run sandbox -- down`",
      );
    } else if (sandbox) {
      await sandboxDown({ log: say });
    }
  }
}

/** Runs `fn` with environment variables set (the history reader goes through the engine adapter). */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

if (require.main === module) {
  let options: DemoOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    process.exit(2);
  }
  runDemo(options, (l) => process.stdout.write(`${l}\n`)).then(
    (ok) => {
      process.exitCode = ok ? 0 : 1;
    },
    (err: unknown) => {
      process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
