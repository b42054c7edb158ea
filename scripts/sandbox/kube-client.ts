/**
 * A small typed Kubernetes API client over Node's https: the kubeconfig's current context
 * (client certificate or bearer token, CA), listing and watching apps/v1 Deployments and
 * listing ReplicaSets, in the namespaces it is given. Only what the sandbox controller uses.
 */
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as yaml from "js-yaml";
import * as path from "path";

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly {
    readonly kind: string;
    readonly name: string;
    readonly uid: string;
  }[];
}

export interface PodTemplate {
  readonly metadata?: { readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: { readonly containers: readonly { readonly name: string; readonly image?: string }[] };
}

export interface Deployment {
  readonly metadata: ObjectMeta;
  readonly spec?: {
    readonly replicas?: number;
    readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
    readonly template?: PodTemplate;
  };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly replicas?: number;
    readonly updatedReplicas?: number;
    readonly readyReplicas?: number;
    readonly availableReplicas?: number;
  };
}

export interface ReplicaSet {
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly replicas?: number; readonly template?: PodTemplate };
  readonly status?: { readonly replicas?: number; readonly readyReplicas?: number };
}

export interface ObjectList<T> {
  readonly resourceVersion: string;
  readonly items: readonly T[];
}

export type WatchEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T }
  | {
      readonly type: "BOOKMARK";
      readonly object: { readonly metadata: { readonly resourceVersion: string } };
    };

export interface WatchHandle {
  /** Resolves when the server ends the stream; rejects on a connection error or an ERROR event. */
  readonly done: Promise<void>;
  /** Ends the stream from this side; `done` then resolves. */
  abort(): void;
}

/** What the controller needs from the Kubernetes API. */
export interface KubeApi {
  listDeployments(namespace: string, labelSelector: string): Promise<ObjectList<Deployment>>;
  watchDeployments(
    namespace: string,
    labelSelector: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent<Deployment>) => void,
  ): WatchHandle;
  listReplicaSets(namespace: string, labelSelector: string): Promise<ObjectList<ReplicaSet>>;
}

/** An API answer that is not a success; `status` 410 on a watch means "relist". */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export interface KubeConnection {
  /** https://host:port (http:// only for local test servers). */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  readonly insecureSkipTlsVerify?: boolean;
}

interface KubeconfigFile {
  "current-context"?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: {
    name: string;
    cluster: {
      server: string;
      "certificate-authority"?: string;
      "certificate-authority-data"?: string;
      "insecure-skip-tls-verify"?: boolean;
    };
  }[];
  users?: {
    name: string;
    user: {
      "client-certificate"?: string;
      "client-certificate-data"?: string;
      "client-key"?: string;
      "client-key-data"?: string;
      token?: string;
    };
  }[];
}

/** Reads the current context of a kubeconfig file (YAML or JSON). */
export function loadKubeconfig(file: string): KubeConnection {
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as KubeconfigFile | undefined;
  const contextName = doc?.["current-context"];
  const context = doc?.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) {
    throw new Error(
      `kubeconfig ${file}: current-context ${JSON.stringify(contextName)} is not among its contexts`,
    );
  }
  const cluster = doc?.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = doc?.users?.find((u) => u.name === context.user)?.user ?? {};
  if (!cluster?.server) {
    throw new Error(`kubeconfig ${file}: cluster ${context.cluster} has no server`);
  }
  const dir = path.dirname(file);
  const material = (data: string | undefined, ref: string | undefined): Buffer | undefined =>
    data !== undefined
      ? Buffer.from(data, "base64")
      : ref !== undefined
        ? fs.readFileSync(path.resolve(dir, ref))
        : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ""),
    ca: material(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: material(user["client-certificate-data"], user["client-certificate"]),
    key: material(user["client-key-data"], user["client-key"]),
    token: user.token,
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"],
  };
}

/** The Kubernetes API over http(s) with the connection's credentials. */
export class HttpKubeApi implements KubeApi {
  private readonly agent: http.Agent;

  constructor(
    private readonly conn: KubeConnection,
    private readonly timeoutMs = 15_000,
  ) {
    this.agent = conn.server.startsWith("https:")
      ? new https.Agent({
          keepAlive: true,
          ca: conn.ca,
          cert: conn.cert,
          key: conn.key,
          rejectUnauthorized: !conn.insecureSkipTlsVerify,
        })
      : new http.Agent({ keepAlive: true });
  }

  /** Closes idle connections. */
  close(): void {
    this.agent.destroy();
  }

  listDeployments(namespace: string, labelSelector: string): Promise<ObjectList<Deployment>> {
    return this.list<Deployment>(`/apis/apps/v1/namespaces/${enc(namespace)}/deployments`, labelSelector);
  }

  listReplicaSets(namespace: string, labelSelector: string): Promise<ObjectList<ReplicaSet>> {
    return this.list<ReplicaSet>(`/apis/apps/v1/namespaces/${enc(namespace)}/replicasets`, labelSelector);
  }

  watchDeployments(
    namespace: string,
    labelSelector: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent<Deployment>) => void,
  ): WatchHandle {
    const query = new URLSearchParams({
      watch: "1",
      resourceVersion,
      labelSelector,
      allowWatchBookmarks: "true",
      timeoutSeconds: "300",
    });
    const urlPath = `/apis/apps/v1/namespaces/${enc(namespace)}/deployments?${query}`;
    let req: http.ClientRequest | undefined;
    let aborted = false;
    const done = new Promise<void>((resolve, reject) => {
      req = this.request(urlPath, (res) => {
        if (res.statusCode !== 200) {
          readAll(res).then(
            (body) =>
              reject(new KubeApiError(res.statusCode ?? 0, `GET ${urlPath}: HTTP ${res.statusCode} ${body}`)),
            reject,
          );
          return;
        }
        let buffered = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line === "") {
              continue;
            }
            const event = JSON.parse(line) as { type: string; object: unknown };
            if (event.type === "ERROR") {
              const status = event.object as { code?: number; message?: string };
              req?.destroy();
              reject(
                new KubeApiError(status.code ?? 0, `watch ${urlPath}: ${status.message ?? "error event"}`),
              );
              return;
            }
            onEvent(event as WatchEvent<Deployment>);
          }
        });
        res.on("end", () => resolve());
        res.on("error", (err) => (aborted ? resolve() : reject(err)));
      });
      // A watch is long-lived: no socket timeout, the server's timeoutSeconds ends it.
      req.setTimeout(0);
      req.on("error", (err) => (aborted ? resolve() : reject(err)));
      req.end();
    });
    return {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
      },
    };
  }

  private async list<T>(urlPath: string, labelSelector: string): Promise<ObjectList<T>> {
    const full = `${urlPath}?${new URLSearchParams({ labelSelector })}`;
    const body = await new Promise<string>((resolve, reject) => {
      const req = this.request(full, (res) => {
        readAll(res).then((text) => {
          if (res.statusCode !== 200) {
            reject(new KubeApiError(res.statusCode ?? 0, `GET ${full}: HTTP ${res.statusCode} ${text}`));
          } else {
            resolve(text);
          }
        }, reject);
      });
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new Error(`GET ${full} timed out after ${this.timeoutMs} ms`)),
      );
      req.on("error", reject);
      req.end();
    });
    const parsed = JSON.parse(body) as { metadata?: { resourceVersion?: string }; items?: T[] };
    return { resourceVersion: parsed.metadata?.resourceVersion ?? "", items: parsed.items ?? [] };
  }

  private request(urlPath: string, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    const url = new URL(urlPath, `${this.conn.server}/`);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.conn.token) {
      headers.authorization = `Bearer ${this.conn.token}`;
    }
    const options: http.RequestOptions = { method: "GET", agent: this.agent, headers };
    return url.protocol === "https:"
      ? https.request(url, options, onResponse)
      : http.request(url, options, onResponse);
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}
