import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { PassThrough } from "stream";
import { main } from "../../scripts/promote";
import { generateEvidenceKeyPair } from "../../scripts/promotion/evidence";
import {
  END,
  PRODUCTION_BASELINE,
  SCENARIOS,
  serviceFamilies,
  stagingOutputs,
} from "../fixtures/gate-scenarios";
import { FakePrometheus, Numbers } from "../helpers/fake-prometheus";
import { freePort, PrometheusServer, startPrometheusWithHistory } from "../helpers/prometheus";
import type { InstantResult } from "../../scripts/promotion/prometheus";

const REPO = path.resolve(__dirname, "..", "..");
const SCRIPT = path.join(REPO, "scripts", "promote.ts");
/** main() with staging's outputs and the policy config from files (test/helpers/promote-entry.ts). */
const ENTRY = path.join(REPO, "test", "helpers", "promote-entry.ts");
const THRESHOLDS = path.join(REPO, "test", "fixtures", "thresholds", "production.json");
const AT = new Date(END * 1000).toISOString();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI as its own process, without a terminal, in a clean environment. */
function promote(args: readonly string[], env: NodeJS.ProcessEnv = {}, script = SCRIPT): Promise<Result> {
  const base = { ...process.env };
  for (const k of ["GITHUB_STEP_SUMMARY", "CHURN_EVIDENCE_PRIVATE_KEY", "CHURN_EVIDENCE_PRIVATE_KEY_FILE"])
    delete base[k];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", script, ...args], {
      cwd: REPO,
      // Through ENTRY the promotion's clock starts at AT, where the synthetic metrics end.
      env: { ...base, NO_COLOR: "1", ...(script === ENTRY ? { PROMOTE_ENTRY_CLOCK: AT } : {}), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** Runs the CLI's main() in this process with real dependencies, capturing its output. */
async function promoteInProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const started = Date.now();
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: new PassThrough(),
    env: { NO_COLOR: "1", ...env },
  });
  return { code, stdout, stderr, ms: Date.now() - started };
}

interface CheckJson {
  name: string;
  value: number | null;
  threshold: number;
  passed: boolean;
  reason: string;
  status: "pass" | "fail" | "inconclusive" | "error";
}

interface DecisionJson {
  decision: "promote" | "reject";
  modelVersion: string;
  window: { start: string; end: string };
  checks: CheckJson[];
}

function decisionOf(stdout: string): DecisionJson {
  return JSON.parse(stdout) as DecisionJson;
}

function failedChecks(stdout: string): CheckJson[] {
  return decisionOf(stdout).checks.filter((c) => !c.passed);
}

/** The default answer to a request: the Prometheus API body a healthy version would get. */
type Answer = (override?: (value: string) => string | null) => string;
type Handler = (query: string, res: http.ServerResponse, answer: Answer) => void;

/** Healthy numbers over 24 h, as the stand-in answers them. */
const GOOD: Numbers = {
  accuracy: 0.91,
  latency: 180,
  errors: 0.002,
  uptime: 1,
  requests: 172_800,
  labeled: 34_560,
};

/** Prometheus API JSON for an instant or range result; `override` may replace each value. */
function apiBody(result: InstantResult, override?: (value: string) => string | null): string {
  const v = (x: number): string | null => (override ? override(String(x)) : String(x));
  if (result.resultType === "matrix") {
    const series = result.series.map((s) => ({
      metric: s.labels,
      values: s.points.flatMap(([t, x]) => {
        const value = v(x);
        return value === null ? [] : [[t, value]];
      }),
    }));
    return JSON.stringify({
      status: "success",
      data: { resultType: "matrix", result: series.filter((s) => s.values.length > 0) },
    });
  }
  const samples = result.resultType === "vector" ? result.samples : [];
  const out = samples.flatMap((s) => {
    const value = v(s.value);
    return value === null ? [] : [{ metric: s.labels, value: [END, value] }];
  });
  return JSON.stringify({ status: "success", data: { resultType: "vector", result: out } });
}

/**
 * A local HTTP server standing where Prometheus should be: every request goes to `handler` with
 * the answer a healthy version would get (test/helpers/fake-prometheus.ts, served over HTTP).
 */
async function fakeServer(
  handler: Handler,
): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const fake = new FakePrometheus(GOOD, new Date((END - 30 * 3600) * 1000));
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      hits++;
      const params = new URLSearchParams(req.method === "POST" ? body : (req.url ?? "").split("?")[1]);
      const query = params.get("query") ?? "";
      const seconds = (k: string): Date => new Date(Number(params.get(k) ?? END) * 1000);
      const result = (req.url ?? "").includes("query_range")
        ? fake.rangeQuery(query, seconds("start"), seconds("end"), Number(params.get("step") ?? 60))
        : fake.instantQuery(query, seconds("time"));
      void result.then((r) => handler(query, res, (override) => apiBody(r, override)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(body);
}

/** Which of the gate's queries (scripts/promotion/analysis-metrics.ts ANALYSIS_QUERIES) a request is. */
function metricOf(query: string): string {
  if (query.includes("count(count_over_time(up")) return "scrapeSamples";
  if (query.includes("min(min_over_time(timestamp(")) return "firstSample";
  if (query.includes("max(timestamp(")) return "lastSample";
  if (query.includes("count_over_time(vector(1)")) return "uptime";
  if (query.includes("sum by (le)")) return "latency";
  if (query.includes('correct="true"')) return "accuracy";
  if (query.includes('code=~"5.."')) return "errors";
  if (query.includes("churn_model_requests_total")) return "requests";
  return "labeled";
}

describe("the promote CLI, as a process and in-process with real dependencies", function () {
  this.timeout(120_000);
  let prometheus: PrometheusServer;
  let tmp: string;

  before(async function () {
    this.timeout(180_000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-promote-cli-"));
    const profiles = [
      SCENARIOS.healthy.candidate,
      SCENARIOS.lowAccuracy.candidate,
      SCENARIOS.young.candidate,
      SCENARIOS.idle.candidate,
      ...SCENARIOS.healthyAmongBroken.neighbours,
      SCENARIOS.healthyAmongBroken.candidate,
      PRODUCTION_BASELINE,
    ];
    prometheus = await startPrometheusWithHistory(profiles.flatMap(serviceFamilies));
  });

  after(async function () {
    await prometheus?.stop();
    if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  });

  let fileCount = 0;
  function outputsFile(content: unknown): string {
    const file = path.join(tmp, `outputs-${++fileCount}.json`);
    fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
    return file;
  }

  function scenarioArgs(
    name: keyof typeof SCENARIOS,
    url = prometheus.url,
    thresholds = THRESHOLDS,
  ): string[] {
    return [
      "--staging-outputs",
      outputsFile(stagingOutputs(SCENARIOS[name], url)),
      "--thresholds",
      thresholds,
    ];
  }

  /** The same inputs for a promotion through ENTRY, which a promotion of the CLI refuses as flags. */
  function entryArgs(name: keyof typeof SCENARIOS): string[] {
    return [outputsFile(stagingOutputs(SCENARIOS[name], prometheus.url)), THRESHOLDS];
  }

  describe("against a real Prometheus", function () {
    it("passes a healthy version's dry run with exit 0 and prints only the decision JSON on stdout", async function () {
      const r = await promote([...scenarioArgs("healthy"), "--dry-run", "--json", "--at", AT]);
      console.log(`      (24 h window: the whole CLI process took ${r.ms} ms)`);
      expect(r.code).to.equal(0);
      const d = decisionOf(r.stdout);
      expect(d.decision).to.equal("promote");
      expect(d.modelVersion).to.equal("2.0.0");
      expect(d.window.end).to.equal(AT);
      expect(d.checks.map((c) => c.name)).to.deep.equal([
        "accuracy",
        "latency_p99",
        "error_rate",
        "uptime",
        "soak_time",
        "samples",
        "freshness",
      ]);
      expect(d.checks.every((c) => c.status === "pass")).to.equal(true);
      expect(r.stderr).to.include("Dry run: the gate passed for 2.0.0; nothing was changed.");
    });

    it("runs through the package script, evaluating as of now by default: history that ended before now is stale", async function () {
      const args = scenarioArgs("healthy");
      const r = await new Promise<Result>((resolve, reject) => {
        const started = Date.now();
        const child = spawn("npm", ["run", "-s", "promote", "--", ...args, "--dry-run"], {
          cwd: REPO,
          env: { ...process.env, NO_COLOR: "1", GITHUB_STEP_SUMMARY: "" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
      });
      // The scenario's history ends at END, before now: evaluated as of now, its newest sample is
      // too old, so the same healthy version that passes with --at END is refused on freshness.
      expect(r.code, r.stderr).to.equal(3);
      expect(r.stdout).to.match(
        /^Promotion gate for churn-model 2\.0\.0 \(staging → production\): REJECT \(fail: /,
      );
      expect(r.stdout).to.match(/\naccuracy\s+0\.9\d*\s+\[0\.9\d*, 0\.9\d*\]\s+≥ 0\.85\s+.*\s+pass\s+/);
      expect(r.stdout).to.match(/\nfreshness\s.*\sFAIL\s+newest scrape sample is \d+(\.\d+)? s old/);
      const end = Date.parse(/Window: \S+ → (\S+)/.exec(r.stdout)?.[1] ?? "");
      expect(Math.abs(end - Date.now())).to.be.lessThan(120_000);
    });

    it("rejects a version with low accuracy with exit 3, naming the check on stderr", async function () {
      const r = await promote([...scenarioArgs("lowAccuracy"), "--dry-run", "--at", AT]);
      expect(r.code).to.equal(3);
      expect(r.stdout).to.match(
        /\naccuracy\s+0\.[67]\d*\s.*\s24: 24 fail\s+FAIL\s+accuracy 0\.[67]\d* .*upper bound below the minimum 0\.85\n/,
      );
      expect(r.stderr).to.match(
        /promote: the gate rejected 2\.0\.1-low-accuracy for production; nothing was changed: fail \(the data say the candidate is worse than a threshold\):\n {2}- accuracy \(fail\): /,
      );
    });

    it("rejects a version that went live 2 h ago with exit 3 on soak time", async function () {
      const r = await promoteInProcess([...scenarioArgs("young"), "--dry-run", "--json", "--at", AT]);
      expect(r.code).to.equal(3);
      const d = decisionOf(r.stdout);
      expect(d.checks.filter((c) => !c.passed).map((c) => [c.name, c.status])).to.deep.equal([
        ["soak_time", "inconclusive"],
      ]);
    });

    it("rejects a version without traffic with exit 3: no events is inconclusive, never a pass", async function () {
      const r = await promoteInProcess([...scenarioArgs("idle"), "--dry-run", "--json", "--at", AT]);
      expect(r.code).to.equal(3);
      const d = decisionOf(r.stdout);
      expect(
        d.checks.filter((c) => !c.passed).map((c) => [c.name, c.status, c.value, c.reason]),
      ).to.deep.equal([
        ["accuracy", "inconclusive", null, "no labeled predictions"],
        ["latency_p99", "inconclusive", null, "no requests"],
        ["error_rate", "inconclusive", null, "no requests"],
        [
          "samples",
          "inconclusive",
          0,
          "only 0 requests in the window; 1000 are required; only 0 labeled predictions in the window; 200 are required",
        ],
      ]);
    });

    it("promotes a healthy version whose neighbours in other namespaces and versions are broken", async function () {
      const r = await promoteInProcess([
        ...scenarioArgs("healthyAmongBroken"),
        "--dry-run",
        "--json",
        "--at",
        AT,
      ]);
      expect(r.code).to.equal(0);
      expect(decisionOf(r.stdout).decision).to.equal("promote");
    });

    it("rejects on the baseline margin when production's version is clearly more accurate", async function () {
      const withBaseline = path.join(REPO, "test", "fixtures", "thresholds", "with-baseline.json");
      const r = await promote([
        ...scenarioArgs("healthy", prometheus.url, withBaseline),
        "--baseline-selector",
        JSON.stringify({ namespace: "production", version: PRODUCTION_BASELINE.version }),
        "--dry-run",
        "--json",
        "--at",
        AT,
      ]);
      expect(r.code, r.stderr).to.equal(3);
      const failed = failedChecks(r.stdout);
      expect(failed.map((c) => c.name)).to.deep.equal(["baseline_accuracy"]);
      expect(failed[0].status).to.equal("fail");
      expect(failed[0].reason).to.match(
        /^accuracy 0\.9\d* vs 0\.9\d* for baseline \{namespace="production",version="1\.9\.0"\}/,
      );
      expect(failed[0].reason).to.include("0.02");
    });

    it("appends the Markdown summary to GITHUB_STEP_SUMMARY", async function () {
      const summary = path.join(tmp, "step-summary.md");
      const r = await promoteInProcess([...scenarioArgs("healthy"), "--dry-run", "--at", AT], {
        GITHUB_STEP_SUMMARY: summary,
      });
      expect(r.code).to.equal(0);
      const md = fs.readFileSync(summary, "utf8");
      expect(md).to.match(
        /^### ✅ Promotion gate for churn-model 2\.0\.0 \(staging → production\): PROMOTE\n/,
      );
      expect(md).to.match(/\n\| soak_time \| 24\.\d+ h \| {2}\| ≥ 24 h \| {2}\| ✅ pass \| /);
      expect(md).to.match(/\n\| freshness \| \d+ s \| {2}\| ≤ 120 s \| {2}\| ✅ pass \| /);
    });

    it("refuses a --model-version that staging does not run with exit 2", async function () {
      const r = await promoteInProcess([
        ...scenarioArgs("healthy"),
        "--dry-run",
        "--model-version",
        "2.0.1",
        "--at",
        AT,
      ]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        "promote: --model-version 2.0.1 is not what staging runs (2.0.0); only the version staging runs can be promoted\n",
      );
    });

    it("stops with exit 4 after a passed gate when no terminal and no --approved-by are there", async function () {
      const keys = generateEvidenceKeyPair();
      const r = await promote(
        [...entryArgs("healthy"), "--at", AT],
        { CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem },
        ENTRY,
      );
      expect(r.code).to.equal(4);
      expect(r.stderr).to.include(
        "promote: promoting 2.0.0 to production needs an approval: run it on a terminal to be asked, or pass --approved-by ID; nothing was changed",
      );
      expect(r.stderr).not.to.include("PRIVATE KEY");
    });

    it("asks on a terminal and stops with exit 4 when the person there denies", async function () {
      const keys = generateEvidenceKeyPair();
      const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
      const command = [
        process.execPath,
        "-r",
        "ts-node/register/transpile-only",
        ENTRY,
        ...entryArgs("healthy"),
        "--at",
        AT,
      ]
        .map(quote)
        .join(" ");
      // `script` runs the CLI on a pseudo-terminal, so stdin and stderr are TTYs.
      const r = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn("script", ["-qec", command, "/dev/null"], {
          cwd: REPO,
          env: {
            ...process.env,
            NO_COLOR: "1",
            GITHUB_STEP_SUMMARY: "",
            CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem,
            PROMOTE_ENTRY_CLOCK: AT,
          },
          stdio: ["pipe", "pipe", "pipe"],
        });
        let output = "";
        let answered = false;
        child.stdout.on("data", (c: Buffer) => {
          output += c.toString();
          if (!answered && output.includes("press Enter to deny: ")) {
            answered = true;
            child.stdin.write("no\r");
          }
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, output }));
      });
      expect(r.output).to.include(
        "Approve promotion of churn-model 2.0.0 to production? Type your approver ID to approve, or press Enter to deny: ",
      );
      expect(r.output).to.include(
        "promote: promotion of 2.0.0 to production was denied at the prompt; nothing was changed",
      );
      expect(r.code).to.equal(4);
    });

    it("fails with exit 2 when promoting without a signing key in the environment", async function () {
      const r = await promote(
        [...entryArgs("healthy"), "--at", AT, "--approved-by", "ci:octocat"],
        {},
        ENTRY,
      );
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include("promote: no evidence signing key: set CHURN_EVIDENCE_PRIVATE_KEY");
    });
  });

  describe("bad input", function () {
    it("refuses the runner's own staging outputs and thresholds in a promotion with exit 2, reading neither", async function () {
      const keys = generateEvidenceKeyPair();
      const r = await promote(
        ["--staging-outputs", "/nonexistent", "--thresholds", "/nonexistent", "--approved-by", "ci:octocat"],
        { CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem },
      );
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        "promote: --staging-outputs is for dry runs (--dry-run) only: a promotion reads the staging stack's outputs from the engine\n",
      );
    });

    it("exits 2 naming the missing thresholds key", async function () {
      const r = await promoteInProcess([
        ...scenarioArgs("healthy").slice(0, 2),
        "--thresholds",
        path.join(REPO, "test", "fixtures", "thresholds", "missing-key.json"),
        "--dry-run",
      ]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(
        /^promote: .*missing-key\.json: "promotion-evidence": maxErrorRate is missing\n$/,
      );
    });

    it("exits 2 naming an outputs file that cannot be read", async function () {
      const missing = path.join(tmp, "no-such-outputs.json");
      const r = await promoteInProcess([
        "--staging-outputs",
        missing,
        "--thresholds",
        THRESHOLDS,
        "--dry-run",
      ]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        `promote: cannot read staging outputs file ${missing}: ENOENT: no such file or directory, open '${missing}'\n`,
      );
    });

    it("exits 2 naming an outputs file that is not JSON", async function () {
      const file = outputsFile("modelVersion: 1.0.0\n");
      const r = await promoteInProcess(["--staging-outputs", file, "--thresholds", THRESHOLDS, "--dry-run"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(new RegExp(`^promote: staging outputs file ${file} is not valid JSON: `));
    });

    it("exits 2 naming a staging version with shell metacharacters", async function () {
      const outputs = { ...stagingOutputs(SCENARIOS.healthy, prometheus.url), modelVersion: "2.0.0;curl" };
      const file = outputsFile(outputs);
      const r = await promoteInProcess(["--staging-outputs", file, "--thresholds", THRESHOLDS, "--dry-run"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        `promote: staging outputs file ${file}: modelVersion "2.0.0;curl" is refused: it must not contain shell metacharacters\n`,
      );
    });

    it("exits 2 on --model-version latest, before reading anything", async function () {
      const r = await promote([
        "--model-version",
        "latest",
        "--staging-outputs",
        "/nonexistent",
        "--dry-run",
      ]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        'promote: --model-version "latest" is refused: it must be a pinned version: `latest` is never accepted\n',
      );
    });

    it("exits 2 on a --model-version with a backtick", async function () {
      const r = await promoteInProcess(["--model-version", "1.0.0`id`", "--dry-run"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        'promote: --model-version "1.0.0`id`" is refused: it must not contain shell metacharacters\n',
      );
    });

    it("exits 2 on an unknown flag and prints the usage on --help with exit 0", async function () {
      const bad = await promote(["--dryrun"]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.equal('promote: unknown option "--dryrun" (see --help)\n');
      const help = await promote(["--help"]);
      expect(help.code).to.equal(0);
      expect(help.stdout).to.match(/^Usage: npm run promote -- \[options\]\n/);
      for (const flag of [
        "--from",
        "--to",
        "--model-version",
        "--dry-run",
        "--json",
        "--prometheus-url",
        "--staging-outputs",
        "--thresholds",
        "--window",
        "--at",
        "--approved-by",
      ]) {
        expect(help.stdout).to.include(`  ${flag} `);
      }
    });
  });

  describe("Prometheus faults", function () {
    async function withServer(
      handler: Handler,
      extra: string[] = [],
      run: typeof promote = promoteInProcess,
    ): Promise<Result & { hits: number }> {
      const server = await fakeServer(handler);
      try {
        const r = await run([
          ...scenarioArgs("healthy", server.url),
          "--dry-run",
          "--json",
          "--at",
          AT,
          ...extra,
        ]);
        return { ...r, hits: server.hits() };
      } finally {
        await server.close();
      }
    }

    it("exits 2 when nothing listens on Prometheus' port, after retrying", async function () {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const r = await promote([...scenarioArgs("healthy", url), "--dry-run", "--json", "--at", AT]);
      expect(r.code).to.equal(2);
      expect(r.stdout).to.equal("");
      expect(r.stderr).to.match(
        new RegExp(
          `promote: Prometheus at ${url} is unavailable: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(after 3 attempts\\)\\n$`,
        ),
      );
    });

    it("exits 2 when every query gets HTTP 500 without an API body, without retrying", async function () {
      const r = await withServer((_q, res) => {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end("internal error");
      });
      // The first query (the version's first scrape sample) finds Prometheus unavailable: no other is sent.
      expect(r.code).to.equal(2);
      expect(r.hits).to.equal(1);
      expect(r.stderr).to.match(
        /promote: Prometheus at http:\/\/127\.0\.0\.1:\d+ is unavailable: HTTP 500 with a body that is not JSON\n$/,
      );
    });

    it("retries HTTP 503 with backoff, three attempts per query, then exits 2", async function () {
      const r = await withServer((_q, res) => {
        res.writeHead(503, { "Content-Type": "text/plain" });
        res.end("Service Unavailable");
      });
      expect(r.code).to.equal(2);
      expect(r.hits).to.equal(3);
      expect(r.stderr).to.match(
        /is unavailable: HTTP 503 with a body that is not JSON \(after 3 attempts\)\n$/,
      );
    });

    it("recovers from one 502 on a query and decides", async function () {
      let failedOnce = false;
      const r = await withServer((q, res, answer) => {
        if (!failedOnce && metricOf(q) === "uptime") {
          failedOnce = true;
          res.writeHead(502);
          res.end("bad gateway");
          return;
        }
        json(res, 200, answer());
      });
      // 18 queries (the spans holding scrape samples, the first and the newest sample, six over
      // the window, six over the intervals, the newest sample of the requests, the latency
      // histogram and the labeled predictions) + one retry.
      expect(r.code, r.stderr).to.equal(0);
      expect(r.hits).to.equal(19);
    });

    it("exits 2 when Prometheus answers slower than --query-timeout", async function () {
      // The answers would come after a minute: only the deadline can end the run before that.
      const timers: NodeJS.Timeout[] = [];
      const r = await withServer(
        (_q, res, answer) => {
          timers.push(setTimeout(() => json(res, 200, answer()), 60_000));
        },
        ["--query-timeout", "300ms"],
        promote,
      );
      timers.forEach(clearTimeout);
      expect(r.code).to.equal(2);
      expect(r.stdout).to.equal("");
      expect(r.stderr).to.match(/is unavailable: no answer within 300 ms\n$/);
    });

    it("fails only the slow query's check with exit 3 when the others answer in time", async function () {
      const timers: NodeJS.Timeout[] = [];
      const r = await withServer(
        (q, res, answer) => {
          const send = (): void => json(res, 200, answer());
          if (metricOf(q) === "latency") timers.push(setTimeout(send, 60_000));
          else send();
        },
        ["--query-timeout", "300ms"],
      );
      timers.forEach(clearTimeout);
      expect(r.code).to.equal(3);
      const failed = failedChecks(r.stdout);
      expect(failed.map((c) => [c.name, c.status, c.value, c.reason])).to.deep.equal([
        ["latency_p99", "error", null, "latency histogram: query failed: no answer within 300 ms"],
      ]);
    });

    it("exits 2 when the URL serves an HTML page instead of the Prometheus API", async function () {
      const r = await withServer(
        (_q, res) => {
          res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
          res.end("<!doctype html><html><body>Grafana</body></html>");
        },
        [],
        promote,
      );
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(
        /is unavailable: answered with an HTML\/XML page \(text\/html; charset=utf-8\), not the Prometheus API\n$/,
      );
    });

    it("exits 3 when every query returns an empty vector: no data fails every metric check", async function () {
      const r = await withServer((_q, res, answer) =>
        json(
          res,
          200,
          answer(() => null),
        ),
      );
      expect(r.code).to.equal(3);
      const d = decisionOf(r.stdout);
      expect(d.checks.filter((c) => !c.passed).map((c) => c.name)).to.deep.equal([
        "accuracy",
        "latency_p99",
        "error_rate",
        "uptime",
        "soak_time",
        "samples",
        "freshness",
      ]);
      expect(d.checks.some((c) => c.status === "pass")).to.equal(false);
    });

    it("exits 3 naming the checks whose vectors are empty when the answer is partial", async function () {
      const r = await withServer((q, res, answer) => {
        const m = metricOf(q);
        json(res, 200, m === "uptime" || m === "labeled" ? answer(() => null) : answer());
      });
      expect(r.code).to.equal(3);
      const failed = failedChecks(r.stdout);
      expect(failed.map((c) => [c.name, c.status, c.reason])).to.deep.equal([
        ["accuracy", "inconclusive", "labeled predictions: no data (no series)"],
        ["uptime", "inconclusive", "uptime: no data (no series)"],
        ["samples", "inconclusive", "labeled predictions: no data (no series)"],
      ]);
    });

    it("exits 3 when Prometheus returns NaN and +Inf strings", async function () {
      const r = await withServer((q, res, answer) => {
        const m = metricOf(q);
        json(
          res,
          200,
          answer((v) => (m === "accuracy" ? "NaN" : m === "latency" ? "+Inf" : v)),
        );
      });
      expect(r.code).to.equal(3);
      const failed = failedChecks(r.stdout);
      expect(failed.map((c) => [c.name, c.status, c.value, c.reason])).to.deep.equal([
        ["accuracy", "inconclusive", null, "correct predictions: NaN (no events)"],
        ["latency_p99", "error", null, "latency histogram: bucket le=0.1 has count Infinity"],
      ]);
    });

    it("exits 3 when one answer is truncated JSON and one is a Prometheus query error", async function () {
      const r = await withServer((q, res, answer) => {
        const m = metricOf(q);
        if (m === "errors") return json(res, 200, answer().slice(0, 40));
        if (m === "uptime") {
          return json(
            res,
            422,
            JSON.stringify({ status: "error", errorType: "execution", error: "query timed out" }),
          );
        }
        json(res, 200, answer());
      });
      expect(r.code).to.equal(3);
      const failed = failedChecks(r.stdout);
      expect(failed.map((c) => [c.name, c.status, c.reason])).to.deep.equal([
        [
          "error_rate",
          "error",
          "5xx responses: query failed: answered with a body that is not JSON, not the Prometheus API",
        ],
        [
          "uptime",
          "error",
          "uptime: query failed: Prometheus refused the query (execution): query timed out",
        ],
      ]);
    });

    it("exits 3 when a value is not a number at all", async function () {
      const r = await withServer((q, res, answer) => {
        const m = metricOf(q);
        json(
          res,
          200,
          answer((v) => (m === "requests" ? "lots" : v)),
        );
      });
      expect(r.code).to.equal(3);
      const failed = failedChecks(r.stdout);
      expect(failed.map((c) => [c.name, c.status, c.reason])).to.deep.equal([
        ["error_rate", "error", 'requests: query failed: sample value "lots" is not a number'],
        ["samples", "error", 'requests: query failed: sample value "lots" is not a number'],
      ]);
    });

    it("uses --prometheus-url over the outputs' prometheusUrl", async function () {
      const port = await freePort();
      const args = scenarioArgs("healthy", `http://127.0.0.1:${port}`);
      const r = await promoteInProcess([
        ...args,
        "--prometheus-url",
        prometheus.url,
        "--dry-run",
        "--json",
        "--at",
        AT,
      ]);
      expect(r.code).to.equal(0);
      expect(r.stderr).to.include(`Measuring 2.0.0 in ${prometheus.url} over `);
    });
  });
});
