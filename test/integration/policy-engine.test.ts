/**
 * The policy pack in the real engine: `pulumi preview --policy-pack policy
 * --policy-pack-config <file>` through the Automation API, with the Kubernetes provider
 * rendering manifests to a directory (no cluster).
 *
 * The program refuses a production update whose evidence it cannot verify before it declares
 * anything, so each evidence case that fails the pack gets the program's check out of the way
 * the two ways someone could: stack config that points the program at another policy-config
 * file (`churn-model:thresholdsFile`: looser thresholds, or a key of one's own), or a program
 * that skips the check (test/helpers/policy-bypass-program.ts). Either way the pack, run with
 * the production thresholds and key, fails the preview with its violation.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { CommandError, EngineEvent } from "@pulumi/pulumi/automation";
import { policies } from "../../policy/pack";
import { upsertStack } from "../../scripts/promotion/engine";
import {
  generateEvidenceKeyPair,
  Measured,
  SignedEvidence,
  signEvidence,
} from "../../scripts/promotion/evidence";
import { rollbackRecord } from "../../scripts/promotion/record";
import { loadThresholds } from "../../scripts/promotion/thresholds";
import { committedStackConfig, makeProjectDir, StackOverrides } from "../../scripts/sandbox/project";
import { makeLocalBackend, REPO_ROOT } from "../../scripts/toolchain/env";

const POLICY_DIR = path.join(REPO_ROOT, "policy");
const PRODUCTION_CONFIG = path.join(POLICY_DIR, "config", "production.json");
const STAGING_CONFIG = path.join(POLICY_DIR, "config", "staging.json");
const HOUR_MS = 3_600_000;

/** The version and registry the committed production stack config deploys. */
const PRODUCTION = committedStackConfig("production");
const VERSION = PRODUCTION["churn-model:modelVersion"] as string;
const REGISTRY = PRODUCTION["churn-model:registry"] as string;

const DEPLOYMENT = "kubernetes:apps/v1:Deployment::churn-model-deployment";

/** The program's entry as the engine names it in an unhandled exception. */
const ENTRY = path.join(REPO_ROOT, "stacks", "index.ts");

interface Violation {
  readonly policy: string;
  readonly level: string;
  /** `<type>::<name>` of the resource the violation is about. */
  readonly resource: string;
  /** The policy's description, which the engine puts before the message. */
  readonly description: string;
  readonly message: string;
}

interface Outcome {
  readonly passed: boolean;
  readonly violations: Violation[];
  /** Error diagnostics of the run (the program's refusal, "preview failed"). */
  readonly errors: string[];
  /** The engine's output, for the assertion messages. */
  readonly output: string;
  readonly seconds: number;
}

type Program = "stacks" | "bypass";

function descriptionOf(policy: string): string {
  const found = policies.find((p) => p.name === policy);
  if (found === undefined) throw new Error(`the pack has no policy ${policy}`);
  return found.description;
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

function byPolicyAndMessage(a: Violation, b: Violation): number {
  return `${a.policy} ${a.message}`.localeCompare(`${b.policy} ${b.message}`);
}

describe("the policy pack on real previews of the churn-model stacks (manifests rendered to a directory)", function () {
  this.timeout(600_000);
  const keys = generateEvidenceKeyPair();
  const thresholds = loadThresholds(PRODUCTION_CONFIG);
  const salts: Record<string, string> = {};
  const times: { withPack?: number; withoutPack?: number } = {};
  let tmp: string;
  let env: Record<string, string>;
  /** The production pack config: production.json with the test key and the stack's registry. */
  let packConfig: string;
  /** The same with looser thresholds (accuracy 0.5, 1000-hour evidence), for the program only. */
  let loosenedConfig: string;
  let projects = 0;

  function promotion(
    opts: { version?: string; createdAt?: Date; measured?: Partial<Measured>; privateKeyPem?: string } = {},
  ): SignedEvidence {
    const version = opts.version ?? VERSION;
    const createdAt = opts.createdAt ?? new Date();
    return signEvidence(
      {
        format: 2,
        kind: "promotion",
        modelVersion: version,
        image: `${REGISTRY}/churn-model:${version}`,
        measured: {
          accuracy: 0.91,
          latencyP99Ms: 120,
          errorRate: 0.002,
          uptime: 1,
          soakHours: 30,
          requests: 50_000,
          labeledPredictions: 4_000,
          ...opts.measured,
        },
        window: {
          start: new Date(createdAt.getTime() - 24 * HOUR_MS).toISOString(),
          end: createdAt.toISOString(),
        },
        thresholds,
        staging: {
          stack: "staging",
          updateVersion: 7,
          deployedAt: new Date(createdAt.getTime() - 30 * HOUR_MS).toISOString(),
        },
        approver: "release-manager@example.com",
        createdAt: createdAt.toISOString(),
      },
      opts.privateKeyPem ?? keys.privateKeyPem,
    );
  }

  /**
   * A project directory whose `stack` config is the committed one plus `overrides`, running
   * the real program or the one that skips its evidence check.
   */
  function project(stack: string, overrides: StackOverrides, program: Program = "stacks"): string {
    const dir = makeProjectDir(path.join(tmp, `project-${++projects}`), {
      [stack]: { renderYamlToDirectory: path.join(tmp, `render-${stack}`), ...overrides },
    });
    fs.appendFileSync(path.join(dir, `Pulumi.${stack}.yaml`), yaml.dump({ encryptionsalt: salts[stack] }));
    if (program === "bypass") {
      fs.symlinkSync(path.join(REPO_ROOT, "test"), path.join(dir, "test"));
      const file = path.join(dir, "Pulumi.yaml");
      const doc = yaml.load(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
      fs.writeFileSync(file, yaml.dump({ ...doc, main: "test/helpers/policy-bypass-program.ts" }));
    }
    return dir;
  }

  /** `pulumi preview` of `stack` in `dir`, with the pack under `config` when given. */
  async function preview(dir: string, stackName: string, config?: string): Promise<Outcome> {
    const stack = await upsertStack(stackName, { projectDir: dir, env, createProduction: true });
    const violations: Violation[] = [];
    const errors: string[] = [];
    const onEvent = (e: EngineEvent) => {
      if (e.policyEvent) violations.push(violationOf(e.policyEvent));
      if (e.diagnosticEvent?.severity === "error") errors.push(e.diagnosticEvent.message);
    };
    const pack = config === undefined ? {} : { policyPacks: [POLICY_DIR], policyPackConfigs: [config] };
    const started = Date.now();
    let passed = true;
    let output: string;
    try {
      const result = await stack.preview({ color: "never", onEvent, ...pack });
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

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-policy-engine-"));
    fs.mkdirSync(path.join(tmp, "state"));
    env = { PULUMI_BACKEND_URL: makeLocalBackend(path.join(tmp, "state")) };

    const file = JSON.parse(fs.readFileSync(PRODUCTION_CONFIG, "utf8")) as Record<
      string,
      Record<string, unknown>
    >;
    file["promotion-evidence"].publicKey = keys.publicKeyPem;
    file["image-pinning"].allowedRegistries = [REGISTRY];
    packConfig = path.join(tmp, "production-pack.json");
    fs.writeFileSync(packConfig, JSON.stringify(file, null, 2));
    loosenedConfig = path.join(tmp, "loosened-policy-config.json");
    fs.writeFileSync(
      loosenedConfig,
      JSON.stringify({
        ...file,
        "promotion-evidence": { ...file["promotion-evidence"], minAccuracy: 0.5, maxEvidenceAgeHours: 1000 },
      }),
    );

    const base = makeProjectDir(path.join(tmp, "project-0"), { staging: {}, production: {} });
    for (const stackName of ["staging", "production"]) {
      await upsertStack(stackName, { projectDir: base, env, createProduction: true });
      const doc = yaml.load(fs.readFileSync(path.join(base, `Pulumi.${stackName}.yaml`), "utf8")) as {
        encryptionsalt: string;
      };
      salts[stackName] = doc.encryptionsalt;
    }
  });

  after(function () {
    if (times.withPack !== undefined && times.withoutPack !== undefined) {
      console.log(
        `      preview of production: ${times.withPack.toFixed(1)} s with the pack, ` +
          `${times.withoutPack.toFixed(1)} s without`,
      );
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Stack config that has the program verify evidence with the key and thresholds of `file`. */
  function programTrusts(file: string, publicKeyPem = keys.publicKeyPem): StackOverrides {
    return { thresholdsFile: file, evidencePublicKey: publicKeyPem };
  }

  /** A mandatory violation of `policy` on the churn-model Deployment. */
  function violation(policy: string, message: string): Violation {
    return { policy, level: "mandatory", resource: DEPLOYMENT, description: descriptionOf(policy), message };
  }

  function expectPackRefusal(outcome: Outcome, expected: Violation[]): void {
    expect(outcome.violations, outcome.output).to.deep.equal([...expected].sort(byPolicyAndMessage));
    // The program declared everything: the only error is the engine's verdict on the violations.
    expect(outcome.errors, outcome.output).to.deep.equal(["preview failed\n"]);
    expect(outcome.passed, outcome.output).to.equal(false);
  }

  function expectPass(outcome: Outcome): void {
    expect(outcome.violations, outcome.output).to.deep.equal([]);
    expect(outcome.errors, outcome.output).to.deep.equal([]);
    expect(outcome.passed, outcome.output).to.equal(true);
  }

  /** The program's unhandled exception, as the engine reports it, begins with `text`. */
  function expectProgramRefusal(outcome: Outcome, text: string): void {
    expect(outcome.violations, outcome.output).to.deep.equal([]);
    expect(outcome.errors, outcome.output).to.have.length(1);
    expect(outcome.errors[0]).to.satisfy(
      (e: string) =>
        e.startsWith(`Running program '${ENTRY}' failed with an unhandled exception:\n${text}\n`),
      `the program's refusal ${JSON.stringify(text)}, got ${JSON.stringify(outcome.errors[0])}`,
    );
    expect(outcome.passed, outcome.output).to.equal(false);
  }

  describe("the production stack under the pack with production.json (test key, the stack's registry)", function () {
    it("passes the preview with valid evidence, which the program and the pack both verify", async function () {
      const dir = project("production", {
        ...programTrusts(packConfig),
        promotionEvidence: JSON.stringify(promotion()),
      });
      const outcome = await preview(dir, "production", packConfig);
      times.withPack = outcome.seconds;
      console.log(`      preview of production with the pack: ${outcome.seconds.toFixed(1)} s`);
      expectPass(outcome);
    });

    it("passes the same preview without the pack, the program verifying the evidence alone", async function () {
      const dir = project("production", {
        ...programTrusts(packConfig),
        promotionEvidence: JSON.stringify(promotion()),
      });
      const outcome = await preview(dir, "production");
      times.withoutPack = outcome.seconds;
      console.log(`      preview of production without the pack: ${outcome.seconds.toFixed(1)} s`);
      expectPass(outcome);
    });

    it("passes a rollback whose rollbackOf is the version's earlier promotion evidence, 10 days old", async function () {
      const earlier = promotion({ createdAt: new Date(Date.now() - 240 * HOUR_MS) });
      const rollback = signEvidence(
        rollbackRecord(earlier, "oncall@example.com", new Date()),
        keys.privateKeyPem,
      );
      expect(rollback.record.rollbackOf).to.deep.equal(earlier);
      const dir = project("production", {
        ...programTrusts(packConfig),
        promotionEvidence: JSON.stringify(rollback),
      });
      expectPass(await preview(dir, "production", packConfig));
    });

    it("fails the preview with the age violation for 100-hour-old evidence the program accepts under looser thresholds in its churn-model:thresholdsFile", async function () {
      // 100 hours less 3 minutes: the age reads "100.0 hours" for the first 6 minutes.
      const createdAt = new Date(Date.now() - 100 * HOUR_MS + 180_000);
      const dir = project("production", {
        ...programTrusts(loosenedConfig),
        promotionEvidence: JSON.stringify(promotion({ createdAt })),
      });
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "promotion-evidence",
          `Deployment "churn-model": promotion evidence was created at ${createdAt.toISOString()}, ` +
            "100.0 hours ago, older than the maximum 72 hours (maxEvidenceAgeHours)",
        ),
      ]);
    });

    it("fails the preview with the accuracy violation for accuracy 0.80 the program accepts under looser thresholds in its churn-model:thresholdsFile", async function () {
      const dir = project("production", {
        ...programTrusts(loosenedConfig),
        promotionEvidence: JSON.stringify(promotion({ measured: { accuracy: 0.8 } })),
      });
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "promotion-evidence",
          'Deployment "churn-model": promotion evidence reports accuracy 0.8, below the minimum 0.85 (minAccuracy)',
        ),
      ]);
    });

    it("fails the preview with the signature violation for evidence signed by a key the program is pointed at through churn-model:thresholdsFile", async function () {
      const forger = generateEvidenceKeyPair();
      const forgedConfig = path.join(tmp, "forged-policy-config.json");
      const file = JSON.parse(fs.readFileSync(packConfig, "utf8")) as Record<string, Record<string, unknown>>;
      file["promotion-evidence"].publicKey = forger.publicKeyPem;
      fs.writeFileSync(forgedConfig, JSON.stringify(file));
      const dir = project("production", {
        ...programTrusts(forgedConfig, forger.publicKeyPem),
        promotionEvidence: JSON.stringify(promotion({ privateKeyPem: forger.privateKeyPem })),
      });
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "promotion-evidence",
          'Deployment "churn-model": promotion evidence carries a signature that does not verify under the configured public key',
        ),
      ]);
    });

    it("fails the preview with the program's refusal for tampered evidence before the pack sees a resource", async function () {
      const tampered = JSON.stringify(promotion()).replace('"accuracy":0.91', '"accuracy":0.97');
      const dir = project("production", {
        ...programTrusts(packConfig),
        promotionEvidence: tampered,
      });
      expectProgramRefusal(
        await preview(dir, "production", packConfig),
        `Error: production refuses model version ${VERSION}: the promotion evidence is not valid:\n` +
          "  - promotion evidence carries a signature that does not verify under the configured public key",
      );
    });

    it("fails the preview with the stack config's refusal for modelVersion latest", async function () {
      const dir = project("production", {
        ...programTrusts(packConfig),
        promotionEvidence: JSON.stringify(promotion()),
        modelVersion: "latest",
      });
      expectProgramRefusal(
        await preview(dir, "production", packConfig),
        "ConfigError: invalid stack configuration:\n" +
          '  - churn-model:modelVersion must be a pinned version: `latest` is never accepted (got "latest")',
      );
    });
  });

  describe("the production stack under the pack, declared by a program that skips the evidence check", function () {
    it("fails the preview with the missing-evidence violation when no evidence is configured", async function () {
      const dir = project("production", programTrusts(packConfig), "bypass");
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "promotion-evidence",
          'Deployment "churn-model" runs in production without promotion evidence: the annotation ' +
            "churn-model/promotion-evidence must hold the signed evidence the promotion wrote",
        ),
      ]);
    });

    it("fails the preview with the signature violation when one byte of valid evidence is changed", async function () {
      const valid = JSON.stringify(promotion());
      const tampered = valid.replace('"accuracy":0.91', '"accuracy":0.97');
      expect(tampered).to.have.length(valid.length).and.not.equal(valid);
      const dir = project(
        "production",
        { ...programTrusts(packConfig), promotionEvidence: tampered },
        "bypass",
      );
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "promotion-evidence",
          'Deployment "churn-model": promotion evidence carries a signature that does not verify under the configured public key',
        ),
      ]);
    });

    it("fails the preview with the malformed-evidence violation when the signature is removed", async function () {
      const { record } = promotion();
      const dir = project(
        "production",
        { ...programTrusts(packConfig), promotionEvidence: JSON.stringify({ record }) },
        "bypass",
      );
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "promotion-evidence",
          'Deployment "churn-model": promotion evidence is malformed: evidence.signature must be the base64 ' +
            "encoding of a 64-byte Ed25519 signature",
        ),
      ]);
    });

    it("fails the preview with the version violation for valid evidence of another version", async function () {
      const dir = project(
        "production",
        {
          ...programTrusts(packConfig),
          promotionEvidence: JSON.stringify(promotion({ version: "1.1.0" })),
        },
        "bypass",
      );
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "promotion-evidence",
          `Deployment "churn-model": promotion evidence names version 1.1.0 but the container image runs ${VERSION}`,
        ),
      ]);
    });

    it("fails the preview with the image-pinning and version violations for the image tag latest", async function () {
      const image = `${REGISTRY}/churn-model:latest`;
      const dir = project(
        "production",
        {
          ...programTrusts(packConfig),
          promotionEvidence: JSON.stringify(promotion()),
          "churn-model-bypass:image": image,
        },
        "bypass",
      );
      expectPackRefusal(await preview(dir, "production", packConfig), [
        violation(
          "image-pinning",
          `container "churn-model" in Deployment "churn-model" has image "${image}": the tag "latest" is not ` +
            "a semantic version; pin it to a semantic version tag or a sha256 digest",
        ),
        violation(
          "promotion-evidence",
          `Deployment "churn-model": promotion evidence names version ${VERSION} but the container image runs latest`,
        ),
      ]);
    });
  });

  describe("the staging stack under the pack with staging.json", function () {
    it("passes the preview without promotion evidence", async function () {
      expect(committedStackConfig("staging")).not.to.have.property("churn-model:promotionEvidence");
      const dir = project("staging", {});
      expectPass(await preview(dir, "staging", STAGING_CONFIG));
    });
  });
});
