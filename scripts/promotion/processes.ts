/**
 * The processes the delivery tools start, and what reaches them.
 *
 * - **Environment**: every engine process (the pulumi CLI, and through it the language
 *   hosts, the program, the policy pack and the providers) gets an explicit allow-listed
 *   environment, never the whole of ours; the evidence signing key is never in it.
 * - **Lifetime**: each engine command runs in a session of its own (so everything it starts,
 *   plugins included, can be found by session ID in /proc) and gets SIGKILL when the
 *   promotion dies (`setpriv --pdeathsig`). Sessions are recorded in the promotion's
 *   journal; the next run stops what is left of them, matching start times so an unrelated
 *   process that reused a PID is never touched.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** Variables an engine process may receive, by exact name. */
const ALLOWED_NAMES: ReadonlySet<string> = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TERM",
  "NO_COLOR",
  "KUBECONFIG",
  "KUBERNETES_SERVICE_HOST",
  "KUBERNETES_SERVICE_PORT",
  "XDG_CONFIG_HOME",
  "XDG_CACHE_HOME",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "NODE_OPTIONS",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "CHURN_PROJECT_DIR",
  "CHURN_CACHE",
]);
/** Variables an engine process may receive, by prefix (the engine's own, locale, AWS credentials for the AWS provider). */
const ALLOWED_PREFIXES: readonly string[] = ["PULUMI_", "LC_", "AWS_", "TS_NODE_"];
/** Never passed on, whatever else allows it. */
export const SECRET_NAMES: readonly string[] = [
  "CHURN_EVIDENCE_PRIVATE_KEY",
  "CHURN_EVIDENCE_PRIVATE_KEY_FILE",
];

/** The allow-listed part of `env`, without the evidence key. */
export function childEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || SECRET_NAMES.includes(k)) continue;
    if (ALLOWED_NAMES.has(k) || ALLOWED_PREFIXES.some((p) => k.startsWith(p))) out[k] = v;
  }
  return out;
}

/** This boot's ID; "" where /proc does not have it. */
export function bootId(): string {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly session: number;
  /** Clock ticks since boot. */
  readonly startTime: number;
}

/** Fields of /proc/<pid>/stat, or undefined when there is no such process. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice threads itrealvalue starttime …"; comm may hold spaces.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, ppid: Number(rest[1]), session: Number(rest[3]), startTime: Number(rest[19]) };
}

/** The start time of a PID in clock ticks since boot, or undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  return procStat(pid)?.startTime;
}

/** Every process on this machine (from /proc). */
export function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** The command line of a PID, for reports. */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
}

/** A session one engine command ran in: its leader's PID and start time, on a boot. */
export interface SessionRecord {
  readonly pid: number;
  readonly startTime: number;
  readonly bootId: string;
  readonly command: string;
}

/**
 * The processes of recorded sessions still running (same boot, same session, started no
 * earlier). A session whose leader PID runs with another start time than the recorded one is
 * someone else's (the PID was reused, and the new process made a session of its own): none
 * of its processes counts.
 */
export function sessionMembers(sessions: readonly SessionRecord[]): ProcStat[] {
  const boot = bootId();
  const live = sessions.filter((s) => {
    if (s.bootId !== boot) return false;
    const leader = procStat(s.pid);
    return leader === undefined || leader.startTime === s.startTime;
  });
  if (live.length === 0) return [];
  return allProcesses().filter((p) =>
    live.some((s) => p.session === s.pid && p.startTime >= s.startTime && p.pid !== process.pid),
  );
}

/** Stops (SIGKILL) what is left of recorded sessions; returns what was stopped, as "pid command". */
export async function stopSessions(sessions: readonly SessionRecord[]): Promise<string[]> {
  const stopped: string[] = [];
  for (let round = 0; round < 5; round++) {
    const members = sessionMembers(sessions);
    if (members.length === 0) break;
    for (const p of members) {
      const cmd = commandLine(p.pid);
      try {
        process.kill(p.pid, "SIGKILL");
        if (round === 0 || !stopped.some((s) => s.startsWith(`${p.pid} `))) stopped.push(`${p.pid} ${cmd}`);
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return stopped;
}

/** Sessions started and not yet ended by this process, and who wants to hear of new ones. */
const running = new Map<number, SessionRecord>();
export interface SessionListener {
  started(s: SessionRecord): void;
  /** The command ended and what it left in its session was stopped. */
  ended(s: SessionRecord): void;
}
const listeners = new Set<SessionListener>();

/** Tells `listener` of every engine session from now on; returns a function that stops that. */
export function watchSessions(listener: SessionListener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Stops every session this process started that is still running (on SIGTERM/SIGINT). */
export async function stopOwnSessions(): Promise<string[]> {
  return stopSessions([...running.values()]);
}

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => fs.existsSync(p));

export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/**
 * Runs one engine command in a session of its own, with exactly `env`, dying with us.
 * Resolves with its output and exit code; rejects only when it cannot be started.
 */
export function runSession(
  command: string,
  args: readonly string[],
  opts: {
    readonly cwd?: string;
    readonly env: Record<string, string>;
    readonly onStdout?: (chunk: string) => void;
    readonly onStderr?: (chunk: string) => void;
    readonly signal?: AbortSignal;
  },
): Promise<CommandOutput> {
  const [file, argv] = SETPRIV
    ? [SETPRIV, ["--pdeathsig", "KILL", "--", command, ...args]]
    : [command, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let record: SessionRecord | undefined;
    child.once("spawn", () => {
      if (child.pid === undefined) return;
      record = {
        pid: child.pid,
        startTime: processStartTime(child.pid) ?? 0,
        bootId: bootId(),
        command: `${path.basename(command)} ${args.slice(0, 2).join(" ")}`.trim(),
      };
      running.set(child.pid, record);
      for (const l of listeners) l.started(record);
    });
    child.stdout!.on("data", (d: Buffer) => {
      const s = d.toString();
      stdout += s;
      opts.onStdout?.(s);
    });
    child.stderr!.on("data", (d: Buffer) => {
      const s = d.toString();
      stderr += s;
      opts.onStderr?.(s);
    });
    opts.signal?.addEventListener("abort", () => child.kill("SIGINT"));
    child.once("error", (err) => {
      if (child.pid !== undefined) running.delete(child.pid);
      reject(err);
    });
    child.once("close", (code, signal) => {
      if (record !== undefined) {
        const ended = record;
        running.delete(ended.pid);
        // Plugins the command left behind in its session go with it.
        void stopSessions([ended]).finally(() => {
          for (const l of listeners) l.ended(ended);
          resolve({ stdout, stderr, code: code ?? (signal !== null ? 128 + 9 : -1) });
        });
      } else {
        resolve({ stdout, stderr, code: code ?? -1 });
      }
    });
  });
}
