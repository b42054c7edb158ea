/**
 * Real `pulumi preview`s of the churn-model stacks under a policy pack, through the Automation
 * API with the Kubernetes provider rendering manifests to a directory (no cluster), for the
 * integration tests of the pack (test/integration/policy-engine*.test.ts): project directories
 * with stack config overrides, optionally declared by the program that skips the evidence
 * check (test/helpers/policy-bypass-program.ts), and the engine's policy events as violations.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { CommandError, EngineEvent } from "@pulumi/pulumi/automation";
import { policies } from "../../policy/pack";
import { upsertStack } from "../../scripts/promotion/engine";
import { committedStackConfig, makeProjectDir, StackOverrides } from "../../scripts/sandbox/project";
import { makeLocalBackend, REPO_ROOT } from "../../scripts/toolchain/env";
import { PolicyConfigFile, trustingPolicyConfig } from "../fixtures/policy-configs";

export const DEPLOYMENT = "kubernetes:apps/v1:Deployment::churn-model-deployment";
export const POLICY_DIR = path.join(REPO_ROOT, "policy");

/** The version and registry the committed production stack config deploys. */
const PRODUCTION = committedStackConfig("production");
export const PRODUCTION_VERSION = PRODUCTION["churn-model:modelVersion"] as string;
export const PRODUCTION_REGISTRY = PRODUCTION["churn-model:registry"] as string;
/**
 * What evidence for the rig's production binds: the file backend's organization, the sandbox project,
 * the committed namespace, and a production that has recorded no update yet.
 */
export const PRODUCTION_TARGET = {
  stack: "organization/churn-model-sandbox/production",
  namespace: PRODUCTION["churn-model:namespace"] as string,
  follows: 0,
};

/** The production pack config: production.json trusting `publicKeyPem` and the stack's registry. */
export function productionPackConfig(publicKeyPem: string): PolicyConfigFile {
  return trustingPolicyConfig(publicKeyPem, {
    "image-pinning": { allowedRegistries: [PRODUCTION_REGISTRY] },
  });
}

export interface Violation {
  readonly policy: string;
  readonly level: string;
  /** `<type>::<name>` of the resource the violation is about. */
  readonly resource: string;
  /** The policy's description, which the engine puts before the message. */
  readonly description: string;
  readonly message: string;
}

export interface PreviewOutcome {
  readonly passed: boolean;
  readonly violations: Violation[];
  /** Error diagnostics of the run (the program's refusal, "preview failed"). */
  readonly errors: string[];
  /** The engine's output, for the assertion messages. */
  readonly output: string;
  readonly seconds: number;
}

export type Program = "stacks" | "bypass";

function descriptionOf(policy: string): string {
  const found = policies.find((p) => p.name === policy);
  if (found === undefined) throw new Error(`the pack has no policy ${policy}`);
  return found.description;
}

/** A mandatory violation of `policy` on the churn-model Deployment. */
export function violation(policy: string, message: string): Violation {
  return { policy, level: "mandatory", resource: DEPLOYMENT, description: descriptionOf(policy), message };
}

/** A policy event as a violation: the engine's message is the description, a newline, the message. */
function violationOf(e: NonNullable<EngineEvent["policyEvent"]>): Violation {
  const [, , types = "", name = ""] = (e.resourceUrn ?? "").split("::");
  const newline = e.message.indexOf("\n");
  return {
    policy: e.policyName,
    level: e.enforcementLevel,
    resource: `${types.split("$").pop()}::${name}`,
    description: newline < 0 ? "" : e.message.slice(0, newline),
    message: (newline < 0 ? e.message : e.message.slice(newline + 1)).trimEnd(),
  };
}

export function byPolicyAndMessage(a: Violation, b: Violation): number {
  return `${a.policy} ${a.message}`.localeCompare(`${b.policy} ${b.message}`);
}

/** Previews in `tmp`: a local backend, the staging and production stacks, one project per preview. */
export class PreviewRig {
  readonly env: Record<string, string>;
  private readonly salts: Record<string, string> = {};
  private projects = 0;

  private constructor(readonly tmp: string) {
    fs.mkdirSync(path.join(tmp, "state"), { recursive: true });
    this.env = { PULUMI_BACKEND_URL: makeLocalBackend(path.join(tmp, "state")) };
  }

  /** Creates both stacks once, so each project reuses their encryption salts. */
  static async create(tmp: string): Promise<PreviewRig> {
    const rig = new PreviewRig(tmp);
    const base = makeProjectDir(path.join(tmp, "project-0"), { staging: {}, production: {} });
    for (const stackName of ["staging", "production"]) {
      await upsertStack(stackName, { projectDir: base, env: rig.env, createProduction: true });
      const doc = yaml.load(fs.readFileSync(path.join(base, `Pulumi.${stackName}.yaml`), "utf8")) as {
        encryptionsalt: string;
      };
      rig.salts[stackName] = doc.encryptionsalt;
    }
    return rig;
  }

  /**
   * A project directory whose `stack` config is the committed one plus `overrides`, running
   * the real program or the one that skips its evidence check.
   */
  project(stack: string, overrides: StackOverrides, program: Program = "stacks"): string {
    const dir = makeProjectDir(path.join(this.tmp, `project-${++this.projects}`), {
      [stack]: { renderYamlToDirectory: path.join(this.tmp, `render-${stack}`), ...overrides },
    });
    fs.appendFileSync(
      path.join(dir, `Pulumi.${stack}.yaml`),
      yaml.dump({ encryptionsalt: this.salts[stack] }),
    );
    if (program === "bypass") {
      fs.symlinkSync(path.join(REPO_ROOT, "test"), path.join(dir, "test"));
      const file = path.join(dir, "Pulumi.yaml");
      const doc = yaml.load(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
      // TypeScript run by the language host, unlike the compiled program (Pulumi.yaml `main`).
      const runtime = { name: "nodejs", options: { typescript: true } };
      fs.writeFileSync(file, yaml.dump({ ...doc, runtime, main: "test/helpers/policy-bypass-program.ts" }));
    }
    return dir;
  }

  /** `pulumi preview` of `stack` in `dir`, with the pack in `pack.dir` under `pack.config` when given. */
  async preview(
    dir: string,
    stackName: string,
    pack?: { readonly dir: string; readonly config: string },
  ): Promise<PreviewOutcome> {
    const stack = await upsertStack(stackName, { projectDir: dir, env: this.env, createProduction: true });
    const violations: Violation[] = [];
    const errors: string[] = [];
    const onEvent = (e: EngineEvent) => {
      if (e.policyEvent) violations.push(violationOf(e.policyEvent));
      if (e.diagnosticEvent?.severity === "error") errors.push(e.diagnosticEvent.message);
    };
    const packs = pack === undefined ? {} : { policyPacks: [pack.dir], policyPackConfigs: [pack.config] };
    const started = Date.now();
    let passed = true;
    let output: string;
    try {
      const result = await stack.preview({ color: "never", onEvent, ...packs });
      output = result.stdout + result.stderr;
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      passed = false;
      output = err.message;
    }
    const seconds = (Date.now() - started) / 1000;
    violations.sort(byPolicyAndMessage);
    return { passed, violations, errors, output, seconds };
  }
}

/** The pack refused with exactly `expected`; the program declared everything. */
export function expectPackRefusal(outcome: PreviewOutcome, expected: Violation[]): void {
  expect(outcome.violations, outcome.output).to.deep.equal([...expected].sort(byPolicyAndMessage));
  // The only error is the engine's verdict on the violations.
  expect(outcome.errors, outcome.output).to.deep.equal(["preview failed\n"]);
  expect(outcome.passed, outcome.output).to.equal(false);
}

export function expectPass(outcome: PreviewOutcome): void {
  expect(outcome.violations, outcome.output).to.deep.equal([]);
  expect(outcome.errors, outcome.output).to.deep.equal([]);
  expect(outcome.passed, outcome.output).to.equal(true);
}
