/**
 * Runs churn-model service processes for the sandbox controller: the service's sources are
 * transpiled once to plain CommonJS, then each process is a child of the controller that
 * listens on the port it is given and ends itself when its parent dies.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, sourceDir } from "../toolchain/env";
import * as ts from "typescript";
import { LOOPBACK } from "./ports";

export interface ServiceSpec {
  readonly namespace: string;
  readonly deployment: string;
  readonly version: string;
  /** The catalog model it serves (artifact.ts `sandboxModel`); default `version`. */
  readonly model?: string;
  /** The value of its series' `version` label; default `version`. */
  readonly versionLabel?: string;
  /** Port on 127.0.0.1 the process must listen on. */
  readonly port: number;
}

export interface ServiceProcess {
  readonly pid: number;
  readonly url: string;
  /** Resolves when the process ended, whatever the reason. */
  readonly exited: Promise<void>;
  /** Stops the process and resolves once it ended. */
  stop(): Promise<void>;
}

export interface ServiceRunner {
  /** Starts a service and resolves once it listens; rejects with the reason it could not start. */
  start(spec: ServiceSpec): Promise<ServiceProcess>;
}

const SERVICE_SOURCES = path.join(sourceDir(__dirname), "service");
const NODE_MODULES = path.join(REPO_ROOT, "node_modules");

/**
 * Transpiles the service's sources to CommonJS in `outDir`, so that service processes run
 * on plain Node.js (no TypeScript compiler loaded: a third of the memory, starts in well
 * under a second). Returns the path of server.js.
 */
export function buildService(outDir: string): string {
  fs.mkdirSync(outDir, { recursive: true });
  for (const file of fs.readdirSync(SERVICE_SOURCES).filter((f) => f.endsWith(".ts"))) {
    const { outputText } = ts.transpileModule(fs.readFileSync(path.join(SERVICE_SOURCES, file), "utf8"), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    fs.writeFileSync(path.join(outDir, file.replace(/\.ts$/, ".js")), outputText);
  }
  return path.join(outDir, "server.js");
}

export interface ProcessRunnerOptions {
  /** Where each process logs, as <namespace>-<deployment>-<version>.log. */
  readonly logDir: string;
  /** Where the service is built to before the first start. */
  readonly buildDir: string;
  /** How long a process may take to listen; default 60000 ms. */
  readonly startTimeoutMs?: number;
}

/** Runs each service as a child process of this one; it ends itself if this process dies. */
export function processRunner(opts: ProcessRunnerOptions): ServiceRunner {
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  let server: string | undefined;
  return {
    start: (spec) =>
      new Promise<ServiceProcess>((resolve, reject) => {
        server ??= buildService(opts.buildDir);
        const logDir = opts.logDir;
        fs.mkdirSync(logDir, { recursive: true });
        const logFile = path.join(
          logDir,
          `${spec.namespace}-${spec.deployment}-${spec.versionLabel ?? spec.version}.log`,
        );
        const log = fs.createWriteStream(logFile, { flags: "a" });
        const child: ChildProcess = spawn(
          process.execPath,
          [
            server,
            "--version",
            spec.version,
            ...(spec.model !== undefined ? ["--model", spec.model] : []),
            ...(spec.versionLabel !== undefined ? ["--version-label", spec.versionLabel] : []),
            "--namespace",
            spec.namespace,
            "--port",
            String(spec.port),
            "--host",
            LOOPBACK,
          ],
          {
            env: { ...process.env, NODE_PATH: NODE_MODULES, CHURN_MODEL_PARENT_PID: String(process.pid) },
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        let output = "";
        let ready = false;
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(
            new Error(
              `${spec.namespace}/${spec.deployment} ${spec.version} did not listen within ${startTimeoutMs} ms`,
            ),
          );
        }, startTimeoutMs);
        const onData = (chunk: Buffer): void => {
          log.write(chunk);
          if (ready) {
            return;
          }
          output += chunk.toString("utf8");
          const m = /listening on (http:\/\/\S+)/.exec(output);
          if (m && child.pid !== undefined) {
            ready = true;
            clearTimeout(timer);
            const pid = child.pid;
            resolve({
              pid,
              url: m[1],
              exited,
              stop: async () => {
                if (child.exitCode === null && child.signalCode === null) {
                  child.kill("SIGTERM");
                  const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
                  await exited;
                  clearTimeout(killer);
                }
              },
            });
          }
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        void exited.then(() => {
          log.end();
          if (!ready) {
            clearTimeout(timer);
            reject(
              new Error(output.trim().split("\n").slice(-5).join("\n") || `exited with ${child.exitCode}`),
            );
          }
        });
      }),
  };
}
