/**
 * The churn-model service: an HTTP server that scores customers with one model version of
 * the catalog and exposes the metrics contract of docs/design.md.
 *
 *   POST /predict   customer features → { id, churnProbability, churn }
 *   POST /feedback  { id, churned } → the ground truth for an earlier prediction
 *   GET  /healthz   { status, version, namespace }
 *   GET  /metrics   Prometheus text format
 *
 * Every series carries `namespace` and `version` labels. Requests to /predict and
 * /feedback (and to unknown routes) are counted and timed; /metrics and /healthz are not.
 *
 * CLI: ts-node scripts/sandbox/service/server.ts --version V --namespace NS [--port P] [--host H]
 * (or CHURN_MODEL_VERSION / CHURN_MODEL_NAMESPACE / PORT); prints `listening on <url>`. With
 * CHURN_MODEL_PARENT_PID set, the process ends itself when that process is gone.
 */
import { randomUUID } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { Counter, Histogram, Registry } from "prom-client";
import { CONTRACTS, Customer, INTERNET_SERVICES, PAYMENT_METHODS } from "./dataset";
import { ChurnModel, loadModel } from "./models";

/** Latency buckets in seconds, 5 ms to 2 s, with the 250 ms gate threshold as a bound. */
export const LATENCY_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2,
];
/** Predictions kept for their ground truth; the oldest are forgotten first. */
export const MAX_PENDING_PREDICTIONS = 100_000;
const MAX_BODY_BYTES = 64 * 1024;

export interface ServiceOptions {
  /** The version the service runs (its /healthz says it). */
  readonly version: string;
  /**
   * The catalog model it serves; default `version`. An unknown model throws UnknownModelVersion.
   * A version that is not a catalog key (`1.1.0+b7`, a digest) names the build it serves here.
   */
  readonly model?: string;
  /** The `version` label of its series (the metrics contract's label value); default `version`. */
  readonly versionLabel?: string;
  /** The namespace the service belongs to (a label on every series). */
  readonly namespace: string;
}

export interface PredictResponse {
  readonly id: string;
  readonly churnProbability: number;
  readonly churn: boolean;
}

export interface FeedbackRequest {
  readonly id: string;
  readonly churned: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Validates a /predict body; the error names every offending field. */
export function parseCustomer(body: unknown): Customer {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "body must be a JSON object of customer features");
  }
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  const number = (k: string, integer: boolean): void => {
    const v = b[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
      problems.push(`${k} must be a non-negative ${integer ? "integer" : "number"}`);
    }
  };
  const oneOf = (k: string, values: readonly string[]): void => {
    if (typeof b[k] !== "string" || !values.includes(b[k] as string)) {
      problems.push(`${k} must be one of ${values.join(", ")}`);
    }
  };
  const bool = (k: string): void => {
    if (typeof b[k] !== "boolean") {
      problems.push(`${k} must be a boolean`);
    }
  };
  number("tenureMonths", true);
  number("monthlyCharges", false);
  oneOf("contract", CONTRACTS);
  oneOf("internetService", INTERNET_SERVICES);
  oneOf("paymentMethod", PAYMENT_METHODS);
  number("supportCalls", true);
  bool("paperlessBilling");
  bool("seniorCitizen");
  if (problems.length > 0) {
    throw new HttpError(400, problems.join("; "));
  }
  return {
    tenureMonths: b.tenureMonths as number,
    monthlyCharges: b.monthlyCharges as number,
    contract: b.contract as Customer["contract"],
    internetService: b.internetService as Customer["internetService"],
    paymentMethod: b.paymentMethod as Customer["paymentMethod"],
    supportCalls: b.supportCalls as number,
    paperlessBilling: b.paperlessBilling as boolean,
    seniorCitizen: b.seniorCitizen as boolean,
  };
}

function parseFeedback(body: unknown): FeedbackRequest {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof b.id !== "string" || b.id === "") {
    problems.push("id must be the id of an earlier prediction");
  }
  if (typeof b.churned !== "boolean") {
    problems.push("churned must be a boolean");
  }
  if (problems.length > 0) {
    throw new HttpError(400, problems.join("; "));
  }
  return { id: b.id as string, churned: b.churned as boolean };
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new HttpError(400, "body is not valid JSON"));
      }
    });
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export class ChurnModelService {
  readonly registry = new Registry();
  readonly server: http.Server;
  private readonly model: ChurnModel;
  private readonly pending = new Map<string, boolean>();
  private readonly requests: Counter<"code">;
  private readonly duration: Histogram<string>;
  private readonly labeled: Counter<"correct">;

  constructor(readonly options: ServiceOptions) {
    this.model = loadModel(options.model ?? options.version);
    this.registry.setDefaultLabels({
      namespace: options.namespace,
      version: options.versionLabel ?? options.version,
    });
    this.requests = new Counter({
      name: "churn_model_requests_total",
      help: "HTTP requests to the prediction API, by status code.",
      labelNames: ["code"],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: "churn_model_request_duration_seconds",
      help: "Time to answer a request to the prediction API, in seconds.",
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.labeled = new Counter({
      name: "churn_model_predictions_labeled_total",
      help: "Predictions whose ground truth arrived, by whether the prediction was correct.",
      labelNames: ["correct"],
      registers: [this.registry],
    });
    // Series exist from the first scrape, so increase() over a window counts the first requests.
    this.requests.inc({ code: "200" }, 0);
    this.requests.inc({ code: "500" }, 0);
    this.labeled.inc({ correct: "true" }, 0);
    this.labeled.inc({ correct: "false" }, 0);
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  /** Listens on host:port (0 = any free port) and resolves to the base URL. */
  listen(port: number, host = "127.0.0.1"): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        const addr = this.server.address() as AddressInfo;
        resolve(`http://${host}:${addr.port}`);
      });
    });
  }

  /** Stops accepting connections, lets requests in flight finish for up to `graceMs`, then closes. */
  close(graceMs = 2000): Promise<void> {
    return new Promise((resolve, reject) => {
      const force = setTimeout(() => this.server.closeAllConnections(), graceMs);
      this.server.close((err) => {
        clearTimeout(force);
        if (err) {
          reject(err);
        } else {
          resolve();
        }
      });
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const route = `${req.method ?? "GET"} ${(req.url ?? "/").split("?")[0]}`;
    if (route === "GET /metrics") {
      const text = await this.registry.metrics();
      res.writeHead(200, { "content-type": this.registry.contentType });
      res.end(text);
      return;
    }
    if (route === "GET /healthz") {
      send(res, 200, { status: "ok", version: this.options.version, namespace: this.options.namespace });
      return;
    }
    const endTimer = this.duration.startTimer();
    res.on("finish", () => {
      endTimer();
      this.requests.inc({ code: String(res.statusCode) });
    });
    try {
      if (route === "POST /predict") {
        send(res, 200, await this.predict(await readJson(req)));
      } else if (route === "POST /feedback") {
        this.feedback(parseFeedback(await readJson(req)));
        res.writeHead(204);
        res.end();
      } else {
        throw new HttpError(404, `no route ${route}`);
      }
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      send(res, status, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async predict(body: unknown): Promise<PredictResponse> {
    const customer = parseCustomer(body);
    const prediction = await this.model.predict(customer);
    const id = randomUUID();
    this.pending.set(id, prediction.churn);
    if (this.pending.size > MAX_PENDING_PREDICTIONS) {
      const oldest = this.pending.keys().next();
      if (!oldest.done) {
        this.pending.delete(oldest.value);
      }
    }
    return { id, churnProbability: prediction.churnProbability, churn: prediction.churn };
  }

  private feedback(f: FeedbackRequest): void {
    const predicted = this.pending.get(f.id);
    if (predicted === undefined) {
      throw new HttpError(
        404,
        `no pending prediction with id ${f.id} (unknown, already labeled or forgotten)`,
      );
    }
    this.pending.delete(f.id);
    this.labeled.inc({ correct: String(predicted === f.churned) });
  }
}

export interface ServiceArgs {
  version: string;
  model?: string;
  versionLabel?: string;
  namespace: string;
  port: number;
  host: string;
}

/** Parses the CLI flags, falling back to the environment; throws naming a missing flag. */
export function parseServiceArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServiceArgs {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(version|model|version-label|namespace|port|host)(?:=(.*))?$/.exec(argv[i]);
    if (!m) {
      throw new Error(
        `unknown argument ${argv[i]}; usage: --version V [--model M] [--version-label L] --namespace NS [--port P] [--host H]`,
      );
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) {
      throw new Error(`--${m[1]} needs a value`);
    }
    flags.set(m[1], value);
  }
  const version = flags.get("version") ?? env.CHURN_MODEL_VERSION;
  const namespace = flags.get("namespace") ?? env.CHURN_MODEL_NAMESPACE;
  if (!version) {
    throw new Error("--version (or CHURN_MODEL_VERSION) is required");
  }
  if (!namespace) {
    throw new Error("--namespace (or CHURN_MODEL_NAMESPACE) is required");
  }
  const portText = flags.get("port") ?? env.PORT ?? "0";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port (${portText}) must be an integer from 0 to 65535`);
  }
  return {
    version,
    ...(flags.has("model") ? { model: flags.get("model") } : {}),
    ...(flags.has("version-label") ? { versionLabel: flags.get("version-label") } : {}),
    namespace,
    port,
    host: flags.get("host") ?? "127.0.0.1",
  };
}

async function main(): Promise<void> {
  const args = parseServiceArgs(process.argv.slice(2));
  const service = new ChurnModelService({
    version: args.version,
    model: args.model,
    versionLabel: args.versionLabel,
    namespace: args.namespace,
  });
  const url = await service.listen(args.port, args.host);
  console.log(`listening on ${url}`);
  const stop = (): void => {
    service.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const parent = Number(process.env.CHURN_MODEL_PARENT_PID ?? "0");
  if (parent > 0) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        stop();
      }
    }, 1000).unref();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`churn-model service: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
