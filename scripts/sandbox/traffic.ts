/**
 * The traffic generator: replays the synthetic customer dataset against one or more
 * churn-model services at a fixed rate, and posts each prediction's ground truth back a
 * little later, the way labels arrive in production. It stops by itself after a duration
 * or a number of customers and reports what happened per target.
 *
 * Every customer goes to every target, so two namespaces see the same traffic.
 *
 * CLI: ts-node scripts/sandbox/traffic.ts --url URL [--url URL …] | --services FILE
 *        [--rate 10] (--duration 60s | --count N) [--feedback-share 1] [--feedback-delay-ms 500]
 *        [--state-dir DIR] (the sandbox that started it; only names it)
 *        [--start-index 0]
 */
import * as fs from "fs";
import * as http from "http";
import { DATASET_SEED, generateDataset, LabeledCustomer, mulberry32 } from "./service/dataset";

export interface TrafficOptions {
  /** Base URLs of the services (http://host:port). */
  readonly targets: readonly string[];
  /** Customers per second sent to each target; default 10. */
  readonly ratePerSecond?: number;
  /** Stop sending after this many milliseconds; at least one of durationMs and count is required. */
  readonly durationMs?: number;
  /** Stop after this many customers per target. */
  readonly count?: number;
  /** Share of successful predictions whose ground truth is posted, 0 to 1; default 1. */
  readonly feedbackShare?: number;
  /** Wait between a prediction and its ground truth; default 500 ms. */
  readonly feedbackDelayMs?: number;
  /** Index of the first dataset row to replay (the dataset wraps around); default 0. */
  readonly startIndex?: number;
  /** Timeout of each request; default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /** Rows to replay; default the standard dataset. */
  readonly dataset?: readonly LabeledCustomer[];
}

export interface TargetReport {
  readonly url: string;
  /** Customers sent to /predict. */
  sent: number;
  /** Predictions answered with 200. */
  predicted: number;
  /** Failed predictions by status code, or "network" when no response came. */
  failed: Record<string, number>;
  /** Ground truths accepted by /feedback. */
  feedbackAccepted: number;
  feedbackFailed: number;
  /** Of the predictions whose ground truth was posted: how many were right. */
  correct: number;
  incorrect: number;
}

export interface TrafficReport {
  readonly durationMs: number;
  readonly targets: TargetReport[];
}

export interface TrafficRun {
  /** Resolves once sending ended and every request (and due ground truth) completed. */
  readonly done: Promise<TrafficReport>;
  /** Stops sending now, posts pending ground truths at once and resolves with the report. */
  stop(): Promise<TrafficReport>;
}

interface PredictBody {
  id: string;
  churn: boolean;
}

function post(
  agent: http.Agent,
  url: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        timeout: timeoutMs,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(data);
  });
}

function validate(o: TrafficOptions): void {
  const problems: string[] = [];
  if (o.targets.length === 0) {
    problems.push("targets must name at least one service URL");
  }
  for (const t of o.targets) {
    if (!/^http:\/\/[^/]+/.test(t)) {
      problems.push(`target ${t} must be an http:// URL`);
    }
  }
  const rate = o.ratePerSecond ?? 10;
  if (!(rate > 0 && rate <= 1000)) {
    problems.push(`ratePerSecond (${rate}) must be above 0 and at most 1000`);
  }
  if (o.durationMs === undefined && o.count === undefined) {
    problems.push("durationMs or count must bound the run");
  }
  if (o.durationMs !== undefined && !(o.durationMs > 0)) {
    problems.push(`durationMs (${o.durationMs}) must be above 0`);
  }
  if (o.count !== undefined && !(Number.isInteger(o.count) && o.count > 0)) {
    problems.push(`count (${o.count}) must be a positive integer`);
  }
  const share = o.feedbackShare ?? 1;
  if (!(share >= 0 && share <= 1)) {
    problems.push(`feedbackShare (${share}) must be from 0 to 1`);
  }
  if ((o.feedbackDelayMs ?? 0) < 0) {
    problems.push(`feedbackDelayMs (${o.feedbackDelayMs}) must not be negative`);
  }
  if (problems.length > 0) {
    throw new Error(`traffic: ${problems.join("; ")}`);
  }
}

/** Whether row `index` gets its ground truth posted: a fixed draw per row, so reruns agree. */
function feedbackChosen(index: number, share: number): boolean {
  return share >= 1 || mulberry32(DATASET_SEED ^ Math.imul(index + 1, 0x9e3779b1))() < share;
}

export function startTraffic(options: TrafficOptions): TrafficRun {
  validate(options);
  const rate = options.ratePerSecond ?? 10;
  const share = options.feedbackShare ?? 1;
  const delayMs = options.feedbackDelayMs ?? 500;
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const dataset = options.dataset ?? generateDataset();
  const startIndex = options.startIndex ?? 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const reports: TargetReport[] = options.targets.map((url) => ({
    url: url.replace(/\/+$/, ""),
    sent: 0,
    predicted: 0,
    failed: {},
    feedbackAccepted: 0,
    feedbackFailed: 0,
    correct: 0,
    incorrect: 0,
  }));
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  const feedbackTimers = new Map<NodeJS.Timeout, () => void>();
  let sentCustomers = 0;
  let stopped = false;
  let tickTimer: NodeJS.Timeout | undefined;
  let finish: (r: TrafficReport) => void = () => undefined;
  const done = new Promise<TrafficReport>((resolve) => (finish = resolve));

  const track = (p: Promise<void>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const sendFeedback = async (report: TargetReport, id: string, row: LabeledCustomer, churn: boolean) => {
    try {
      const res = await post(agent, `${report.url}/feedback`, { id, churned: row.churned }, timeoutMs);
      if (res.status >= 200 && res.status < 300) {
        report.feedbackAccepted++;
        if (churn === row.churned) {
          report.correct++;
        } else {
          report.incorrect++;
        }
      } else {
        report.feedbackFailed++;
      }
    } catch {
      report.feedbackFailed++;
    }
  };

  const sendOne = async (report: TargetReport, index: number) => {
    const row = dataset[index % dataset.length];
    report.sent++;
    let res: { status: number; text: string };
    try {
      res = await post(agent, `${report.url}/predict`, row.features, timeoutMs);
    } catch {
      report.failed.network = (report.failed.network ?? 0) + 1;
      return;
    }
    if (res.status !== 200) {
      report.failed[String(res.status)] = (report.failed[String(res.status)] ?? 0) + 1;
      return;
    }
    report.predicted++;
    const body = JSON.parse(res.text) as PredictBody;
    if (!feedbackChosen(index, share)) {
      return;
    }
    const fire = () => track(sendFeedback(report, body.id, row, body.churn));
    if (stopped) {
      fire();
      return;
    }
    const timer = setTimeout(() => {
      feedbackTimers.delete(timer);
      fire();
    }, delayMs);
    feedbackTimers.set(timer, fire);
  };

  const settle = async (): Promise<void> => {
    // Requests can schedule feedback and feedback can be in flight: drain until nothing is left.
    while (inFlight.size > 0 || feedbackTimers.size > 0) {
      if (inFlight.size > 0) {
        await Promise.allSettled([...inFlight]);
      } else {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    agent.destroy();
    finish({ durationMs: Date.now() - started, targets: reports });
  };

  const endSending = (): void => {
    if (tickTimer) {
      clearTimeout(tickTimer);
      tickTimer = undefined;
    }
  };

  const tick = (): void => {
    const elapsed = Date.now() - started;
    const byTime = Math.floor((elapsed * rate) / 1000) + 1;
    const limit = Math.min(byTime, options.count ?? Infinity);
    while (!stopped && sentCustomers < limit) {
      const index = startIndex + sentCustomers;
      sentCustomers++;
      for (const report of reports) {
        track(sendOne(report, index));
      }
    }
    const outOfTime = options.durationMs !== undefined && elapsed >= options.durationMs;
    const outOfCount = options.count !== undefined && sentCustomers >= options.count;
    if (stopped || outOfTime || outOfCount) {
      endSending();
      void settle();
      return;
    }
    const nextDue = started + (sentCustomers * 1000) / rate;
    tickTimer = setTimeout(tick, Math.max(0, nextDue - Date.now()));
  };

  tick();

  return {
    done,
    stop: () => {
      if (!stopped) {
        stopped = true;
        const wasSending = tickTimer !== undefined;
        endSending();
        for (const [timer, fire] of feedbackTimers) {
          clearTimeout(timer);
          fire();
        }
        feedbackTimers.clear();
        if (wasSending) {
          void settle();
        }
      }
      return done;
    },
  };
}

/** Parses "500ms", "30s", "2m", "1h" or a plain number of seconds into milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new Error(`duration "${text}" must look like 500ms, 30s, 2m or 1h`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000;
  return Number(m[1]) * unit;
}

/** The service URLs of a controller state file (services.json), optionally for some namespaces. */
export function urlsFromServicesFile(file: string, namespaces?: readonly string[]): string[] {
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, { url?: unknown }>;
  const wanted = namespaces ?? Object.keys(state);
  return wanted.map((ns) => {
    const url = state[ns]?.url;
    if (typeof url !== "string") {
      throw new Error(`${file} has no service URL for namespace ${ns}`);
    }
    return url;
  });
}

export function parseTrafficArgs(argv: readonly string[]): TrafficOptions {
  const targets: string[] = [];
  let servicesFile: string | undefined;
  let namespaces: string[] | undefined;
  const o: {
    ratePerSecond?: number;
    durationMs?: number;
    count?: number;
    feedbackShare?: number;
    feedbackDelayMs?: number;
    startIndex?: number;
  } = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const value = m?.[2] ?? argv[i + 1];
    if (!m || value === undefined) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    if (m[2] === undefined) {
      i++;
    }
    const num = (): number => {
      const n = Number(value);
      if (!Number.isFinite(n)) {
        throw new Error(`--${m[1]} (${value}) must be a number`);
      }
      return n;
    };
    switch (m[1]) {
      case "url":
        targets.push(value);
        break;
      case "services":
        servicesFile = value;
        break;
      case "namespaces":
        namespaces = value.split(",").filter((s) => s !== "");
        break;
      case "rate":
        o.ratePerSecond = num();
        break;
      case "duration":
        o.durationMs = parseDurationMs(value);
        break;
      case "count":
        o.count = num();
        break;
      case "feedback-share":
        o.feedbackShare = num();
        break;
      case "feedback-delay-ms":
        o.feedbackDelayMs = num();
        break;
      case "start-index":
        o.startIndex = num();
        break;
      case "state-dir":
        // Names the sandbox directory that started it, so that its `down` knows it as its own.
        break;
      default:
        throw new Error(`unknown option --${m[1]}`);
    }
  }
  if (servicesFile !== undefined) {
    targets.push(...urlsFromServicesFile(servicesFile, namespaces));
  }
  return { targets, ...o };
}

async function main(): Promise<void> {
  const run = startTraffic(parseTrafficArgs(process.argv.slice(2)));
  const stop = (): void => {
    void run.stop();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const report = await run.done;
  console.log(JSON.stringify(report, null, 2));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`traffic: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  });
}
