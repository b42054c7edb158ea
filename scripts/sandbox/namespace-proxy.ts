/**
 * The stable per-namespace URL of the sandbox: a reverse proxy on 127.0.0.1 that forwards
 * each request to one of the service processes the controller points it at, in proportion
 * to their Deployments' ready replicas (scripts/sandbox/backend-weights.ts).
 */
import * as http from "http";
import { WeightedBackend, WeightedRandom } from "./backend-weights";
import { LOOPBACK } from "./ports";

/** Forwards every request to one of the namespace's service processes; 503 when none serves. */
export class NamespaceProxy {
  private readonly backends = new WeightedRandom();
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

  constructor(readonly namespace: string) {
    this.server = http.createServer((req, res) => this.forward(req, res));
  }

  /** The processes taking traffic and their weights. */
  get backendList(): readonly WeightedBackend[] {
    return this.backends.list();
  }

  setBackends(backends: readonly WeightedBackend[]): void {
    this.backends.set(backends);
  }

  /** The port it listens on (after `listen`). */
  get port(): number {
    const addr = this.server.address();
    if (addr === null || typeof addr === "string")
      throw new Error(`the ${this.namespace} proxy is not listening`);
    return addr.port;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, LOOPBACK, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.agent.destroy();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const backend = this.backends.next()?.url;
    if (!backend) {
      const body = JSON.stringify({ error: `no churn-model process serves namespace ${this.namespace}` });
      res.writeHead(503, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const upstream = http.request(
      new URL(req.url ?? "/", backend),
      { method: req.method, headers: { ...req.headers, host: new URL(backend).host }, agent: this.agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) {
        const body = JSON.stringify({ error: `backend ${backend} of ${this.namespace}: ${err.message}` });
        res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.destroy(err);
      }
    });
    req.pipe(upstream);
  }
}
