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
import * as os from "os";
import * as path from "path";
import {
  generateEvidenceKeyPair,
  Measured,
  SignedEvidence,
  signEvidence,
} from "../../scripts/promotion/evidence";
import { rollbackRecord } from "../../scripts/promotion/record";
import { loadThresholds } from "../../scripts/promotion/thresholds";
import { committedStackConfig, StackOverrides } from "../../scripts/sandbox/project";
import { REPO_ROOT } from "../../scripts/toolchain/env";
import {
  expectPackRefusal,
  expectPass,
  POLICY_DIR,
  PRODUCTION_REGISTRY,
  PRODUCTION_VERSION,
  productionPackConfig,
  PreviewOutcome,
  PreviewRig,
  Program,
  violation,
  PRODUCTION_TARGET,
} from "../helpers/policy-preview";
import { changedPolicyConfig, writePolicyConfig } from "../fixtures/policy-configs";
import { recentPromotionRecord } from "../fixtures/recent-promotion";
import { imageFor } from "../../policy/contract";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";

const PRODUCTION_CONFIG = path.join(POLICY_DIR, "config", "production.json");
const STAGING_CONFIG = path.join(POLICY_DIR, "config", "staging.json");
const HOUR_MS = 3_600_000;
const VERSION = PRODUCTION_VERSION;
const REGISTRY = PRODUCTION_REGISTRY;

/** The program's entry as the engine names it in an unhandled exception. */
/** The program the engine runs: compiled (Pulumi.yaml `main`). */
const ENTRY = path.join(REPO_ROOT, "dist", "stacks", "index.js");

describe("the policy pack on real previews of the churn-model stacks (manifests rendered to a directory)", function () {
  this.timeout(600_000);
  const keys = generateEvidenceKeyPair();
  const thresholds = loadThresholds(PRODUCTION_CONFIG);
  const times: { withPack?: number; withoutPack?: number } = {};
  let tmp: string;
  let rig: PreviewRig;
  /** The production pack config: production.json with the test key and the stack's registry. */
  let packConfig: string;
  /** The same with looser thresholds (accuracy 0.5, 1000-hour evidence), for the program only. */
  let loosenedConfig: string;

  function promotion(
    opts: { version?: string; createdAt?: Date; measured?: Partial<Measured>; privateKeyPem?: string } = {},
  ): SignedEvidence {
    // The analysis is the healthy values'; `opts.measured` changes only what the record reports.
    const healthy = recentPromotionRecord({
      version: opts.version ?? VERSION,
      registry: REGISTRY,
      thresholds,
      createdAt: opts.createdAt,
      target: PRODUCTION_TARGET,
    });
    return signEvidence(
      { ...healthy, measured: { ...healthy.measured, ...opts.measured } },
      opts.privateKeyPem ?? keys.privateKeyPem,
    );
  }

  const project = (stack: string, overrides: StackOverrides, program: Program = "stacks") =>
    rig.project(stack, overrides, program);
  const preview = (dir: string, stackName: string, config?: string): Promise<PreviewOutcome> =>
    rig.preview(dir, stackName, config === undefined ? undefined : { dir: POLICY_DIR, config });

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-policy-engine-"));

    const file = productionPackConfig(keys.publicKeyPem);
    packConfig = writePolicyConfig(path.join(tmp, "production-pack.json"), file);
    loosenedConfig = writePolicyConfig(
      path.join(tmp, "loosened-policy-config.json"),
      changedPolicyConfig(file, { "promotion-evidence": { minAccuracy: 0.5, maxEvidenceAgeHours: 1000 } }),
    );

    rig = await PreviewRig.create(tmp);
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

  /** The program's unhandled exception, as the engine reports it, begins with `text`. */
  function expectProgramRefusal(outcome: PreviewOutcome, text: string): void {
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

    it("refuses a rollback to a valid 10-day-old promotion that production never recorded (rollback provenance)", async function () {
      // A rollback that passes is in promotion-target.test.ts: it needs the promotion in
      // production's history, which this fresh stack does not have.
      const earlier = promotion({ createdAt: new Date(Date.now() - 240 * HOUR_MS) });
      const rollback = signEvidence(
        rollbackRecord(earlier, "oncall@example.com", new Date(), PRODUCTION_TARGET),
        keys.privateKeyPem,
      );
      expect(rollback.record.rollbackOf).to.deep.equal(earlier);
      const dir = project("production", {
        ...programTrusts(packConfig),
        promotionEvidence: JSON.stringify(rollback),
      });
      const outcome = await preview(dir, "production", packConfig);
      expect(outcome.passed, outcome.output).to.equal(false);
      expect(outcome.errors, outcome.output).to.have.length(1);
      expect(outcome.errors[0]).to.contain(
        "production refuses model version 1.0.0: the promotion evidence is not valid",
      );
      expect(outcome.errors[0]).to.contain(
        "that is not the one that promoted 1.0.0 to organization/churn-model-sandbox/production (production records none)",
      );
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
      const forgedConfig = writePolicyConfig(
        path.join(tmp, "forged-policy-config.json"),
        productionPackConfig(forger.publicKeyPem),
      );
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

  describe("the production stack under the pack: the image is the artifact the evidence binds", function () {
    const OTHER = "999999999999.dkr.ecr.eu-west-1.amazonaws.com/ml";
    const digest = () => sandboxArtifact(imageFor(`${REGISTRY}/churn-model`, VERSION)).digest;
    /** The bypass program's preview of production with valid evidence and `overrides`, timed. */
    async function refusedPreview(overrides: StackOverrides, config: string): Promise<PreviewOutcome> {
      const dir = project(
        "production",
        { ...programTrusts(packConfig), promotionEvidence: JSON.stringify(promotion()), ...overrides },
        "bypass",
      );
      const started = Date.now();
      const outcome = await preview(dir, "production", config);
      console.log(`      the refused preview took ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return outcome;
    }

    it("fails the preview with the registry binding for valid evidence and churn-model:registry set to another allowed account's", async function () {
      // Both accounts are allowed (a mirror, say), so image-pinning passes: only the evidence refuses.
      const file = JSON.parse(fs.readFileSync(packConfig, "utf8")) as Record<string, Record<string, unknown>>;
      file["image-pinning"].allowedRegistries = [REGISTRY, OTHER];
      const twoAccounts = path.join(tmp, "two-accounts.json");
      fs.writeFileSync(twoAccounts, JSON.stringify(file));
      expectPackRefusal(await refusedPreview({ registry: OTHER }, twoAccounts), [
        violation(
          "promotion-evidence",
          `Deployment "churn-model": promotion evidence binds registry registry.internal.example.com, but the image ` +
            `${OTHER}/churn-model:${VERSION}@${digest()} comes from 999999999999.dkr.ecr.eu-west-1.amazonaws.com`,
        ),
      ]);
    });

    it("fails the preview with the digest binding for the version's tag without the evidence's digest (a tag pushed again)", async function () {
      const image = `${REGISTRY}/churn-model:${VERSION}`;
      expectPackRefusal(await refusedPreview({ "churn-model-bypass:image": image }, packConfig), [
        violation(
          "promotion-evidence",
          `Deployment "churn-model": promotion evidence binds digest ${digest()}, but the image ${image} is not ` +
            "pinned by a digest (production runs the digest staging ran)",
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
