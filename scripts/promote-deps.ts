/**
 * The real dependencies of `npm run promote` (scripts/promote.ts), loaded only on the paths that
 * run a gate or a promotion: Prometheus' client, the engine, the notifier and the signing key.
 */
import type { KeyObject } from "crypto";
import type { CliIO } from "./promote";
import { terminalAsk } from "./promotion/approval";
import { privateKeyFromEnv } from "./promotion/evidence";
import { readStagingOutputsFile, readStagingOutputsFromStack } from "./promotion/outputs";
import { createPrometheusClient } from "./promotion/prometheus";
import type { PromotionDeps } from "./promotion/promotion";
import { SECRET_NAMES } from "./promotion/processes";
import { stackRollout } from "./promotion/rollout";
import { targetPolicyConfig } from "./promotion/trust-roots";
import { REPO_ROOT } from "./toolchain/env";
import { openNotifier, readStackConfig } from "./promotion/notify";

/**
 * Takes the evidence signing key's variables out of `env` (and out of this process's own
 * environment, which every child would otherwise inherit) and returns a reader that parses
 * the key once, when signing first needs it. No child process ever sees the key.
 */
export function takeSigningKey(env: NodeJS.ProcessEnv): () => KeyObject {
  const held: NodeJS.ProcessEnv = {};
  for (const name of SECRET_NAMES) {
    if (env[name] !== undefined) held[name] = env[name];
    delete env[name];
    delete process.env[name];
  }
  let key: KeyObject | undefined;
  return () => (key ??= privateKeyFromEnv(held));
}

/** The real dependencies; `overrides` replace any of them (tests, other entry points). */
export function defaultDeps(io: CliIO, overrides: Partial<PromotionDeps> = {}): PromotionDeps {
  const interactive = io.stdin.isTTY === true && io.stderr.isTTY === true;
  const signingKey = takeSigningKey(io.env);
  return {
    readStaging: (o) =>
      o.stagingOutputs !== undefined
        ? Promise.resolve(readStagingOutputsFile(o.stagingOutputs, o.from))
        : readStagingOutputsFromStack(o.from),
    // The project directory the engine runs in (engine.ts `projectDir`): its Pulumi.yaml and stack files.
    policyConfig: (stack) => targetPolicyConfig(stack, process.env.CHURN_PROJECT_DIR ?? REPO_ROOT),
    prometheus: (baseUrl, timeoutMs) => createPrometheusClient({ baseUrl, timeoutMs }),
    signingKey,
    deployer: (options) => stackRollout(options),
    ask: interactive ? terminalAsk(io.stdin, io.stderr as NodeJS.WritableStream) : undefined,
    now: () => new Date(),
    out: (text) => io.stdout.write(text),
    log: (line) => io.stderr.write(`${line}\n`),
    outIsTty: io.stdout.isTTY === true && io.env.NO_COLOR === undefined,
    stepSummaryFile: io.env.GITHUB_STEP_SUMMARY,
    env: io.env,
    notifications: (stack) =>
      openNotifier(stack, {
        readConfig: readStackConfig,
        warn: (line) => io.stderr.write(`${line}\n`),
        env: io.env,
      }),
    ...overrides,
  };
}
