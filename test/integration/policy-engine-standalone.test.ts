/**
 * The policy pack as `pulumi policy publish` ships it: `policy/` alone, copied into an empty
 * directory outside the repository (no node_modules above it to fall back on), its dependencies
 * installed there from its own lock file (`npm ci`, from the local npm cache when it holds
 * them, no install scripts), then a real `pulumi preview --policy-pack <that copy>` of the
 * production stack rendering to YAML. Valid evidence with the gate's analysis passes; forged,
 * tampered, expired, wrong-version, wrong-format evidence and an analysis whose bounds its
 * counts do not give are refused with the pack's own messages.
 *
 * The refused cases are declared by the program that skips its own evidence check
 * (test/helpers/policy-bypass-program.ts), so only the copied pack stands in the way.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { canonicalJson, clopperPearson, EVIDENCE_FORMAT } from "../../policy/contract";
import { loadAnalysisSettings } from "../../scripts/promotion/analysis-config";
import { analysisRecordOf } from "../../scripts/promotion/analysis-evidence";
import { EvidenceRecord, generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { decide, GateMetrics, IntervalMetrics, SpanMetrics } from "../../scripts/promotion/gate";
import { measuredFrom } from "../../scripts/promotion/record";
import { loadThresholds } from "../../scripts/promotion/thresholds";
import type { StackOverrides } from "../../scripts/sandbox/project";
import { writePolicyConfig } from "../fixtures/policy-configs";
import {
  expectPackRefusal,
  expectPass,
  POLICY_DIR,
  PRODUCTION_REGISTRY,
  PRODUCTION_TARGET,
  PRODUCTION_VERSION,
  productionPackConfig,
  PreviewRig,
  violation,
} from "../helpers/policy-preview";
import { imageFor } from "../../policy/contract";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";

const PRODUCTION_CONFIG = path.join(POLICY_DIR, "config", "production.json");
const VERSION = PRODUCTION_VERSION;
const REGISTRY = PRODUCTION_REGISTRY;
const HOUR_S = 3600;
const ON = 'Deployment "churn-model": ';

/** One span of healthy staging data: accuracy 0.92, 0.2 % 5xx, p99 within 250 ms. */
function span(requests: number): SpanMetrics {
  const labeled = requests / 5;
  return {
    labeled: { value: labeled },
    correct: { value: labeled * 0.92 },
    requests: { value: requests },
    serverErrors: { value: requests * 0.002 },
    latency: {
      buckets: [
        { le: 0.1, count: requests * 0.98 },
        { le: 0.25, count: requests * 0.998 },
        { le: Infinity, count: requests },
      ],
    },
    uptime: { value: 1 },
  };
}

/** A 24-hour window ending at `end`, judged by the real gate under production's settings. */
function gatePassed(end: Date): Pick<EvidenceRecord, "measured" | "analysis" | "window" | "thresholds"> {
  const endS = Math.floor(end.getTime() / 1000);
  const intervals: IntervalMetrics[] = Array.from({ length: 24 }, (_, k) => ({
    start: new Date((endS - (24 - k) * HOUR_S) * 1000),
    end: new Date((endS - (23 - k) * HOUR_S) * 1000),
    ...span(7_200),
  }));
  const metrics: GateMetrics = {
    window: span(172_800),
    intervals,
    firstSample: { value: endS - 30 * HOUR_S },
    lastSample: { value: endS - 5 },
    newestSamples: {
      requests: { value: endS - 5 },
      latency: { value: endS - 5 },
      labeled: { value: endS - 5 },
    },
  };
  const thresholds = loadThresholds(PRODUCTION_CONFIG);
  const windowStart = new Date((endS - 24 * HOUR_S) * 1000);
  const decision = decide(metrics, thresholds, {
    modelVersion: VERSION,
    window: { start: windowStart, end: new Date(endS * 1000) },
    deployedAt: new Date((endS - 30 * HOUR_S) * 1000),
    analysis: loadAnalysisSettings(PRODUCTION_CONFIG),
  });
  expect(decision.decision, JSON.stringify(decision.checks)).to.equal("promote");
  return {
    measured: measuredFrom(decision, metrics),
    analysis: analysisRecordOf(decision, metrics, thresholds),
    window: decision.window,
    thresholds,
  };
}

describe("the policy pack published on its own: policy/ copied out, its own dependencies, a real preview", function () {
  this.timeout(900_000);
  const keys = generateEvidenceKeyPair();
  let tmp: string;
  let packDir: string;
  let packConfig: string;
  let rig: PreviewRig;

  function record(opts: { version?: string; createdAt?: Date } = {}): EvidenceRecord {
    const version = opts.version ?? VERSION;
    const createdAt = opts.createdAt ?? new Date();
    return {
      format: EVIDENCE_FORMAT,
      kind: "promotion",
      modelVersion: version,
      image: imageFor(`${REGISTRY}/churn-model`, version),
      artifact: sandboxArtifact(imageFor(`${REGISTRY}/churn-model`, version)),
      ...gatePassed(createdAt),
      staging: {
        stack: "staging",
        updateVersion: 7,
        deployedAt: new Date(createdAt.getTime() - 30 * HOUR_S * 1000).toISOString(),
      },
      target: PRODUCTION_TARGET,
      approver: "release-manager@example.com",
      createdAt: createdAt.toISOString(),
    };
  }

  /** The production stack, declared without the program's own check, carrying `evidence`. */
  function production(evidence: string, program: "stacks" | "bypass" = "bypass"): string {
    const trusts: StackOverrides = { thresholdsFile: packConfig, evidencePublicKey: keys.publicKeyPem };
    return rig.project("production", { ...trusts, promotionEvidence: evidence }, program);
  }

  const preview = (dir: string) => rig.preview(dir, "production", { dir: packDir, config: packConfig });

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-pack-standalone-"));
    for (let dir = tmp; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      expect(
        fs.existsSync(path.join(path.dirname(dir), "node_modules")),
        `node_modules above ${dir}`,
      ).to.equal(false);
    }
    packDir = path.join(tmp, "churn-model-policy");
    // What the publish tarball holds: the pack's directory without installed packages.
    fs.cpSync(POLICY_DIR, packDir, {
      recursive: true,
      filter: (src) => path.relative(POLICY_DIR, src).split(path.sep)[0] !== "node_modules",
    });
    const started = Date.now();
    execFileSync("npm", ["ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], {
      cwd: packDir,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, npm_config_loglevel: "error" },
    });
    console.log(`      npm ci of the copied pack: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const policyModule = require.resolve("@pulumi/policy", { paths: [packDir] });
    expect(policyModule.startsWith(path.join(packDir, "node_modules") + path.sep), policyModule).to.equal(
      true,
    );

    packConfig = writePolicyConfig(
      path.join(tmp, "production-pack.json"),
      productionPackConfig(keys.publicKeyPem),
    );
    rig = await PreviewRig.create(path.join(tmp, "engine"));
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("passes the preview of the real program with valid evidence carrying the gate's analysis", async function () {
    const evidence = signEvidence(record(), keys.privateKeyPem);
    expect(evidence.record.analysis?.intervals).to.have.length(24);
    const outcome = await preview(production(JSON.stringify(evidence), "stacks"));
    console.log(`      preview of production with the copied pack: ${outcome.seconds.toFixed(1)} s`);
    expectPass(outcome);
  });

  it("refuses evidence with one byte changed after signing", async function () {
    const valid = JSON.stringify(signEvidence(record(), keys.privateKeyPem));
    const tampered = valid.replace(
      '"approver":"release-manager@example.com"',
      '"approver":"release-managex@example.com"',
    );
    expect(tampered).to.have.length(valid.length).and.not.equal(valid);
    expectPackRefusal(await preview(production(tampered)), [
      violation(
        "promotion-evidence",
        `${ON}promotion evidence carries a signature that does not verify under the configured public key`,
      ),
    ]);
  });

  it("refuses evidence signed by a key of one's own", async function () {
    const forged = signEvidence(record(), generateEvidenceKeyPair().privateKeyPem);
    expectPackRefusal(await preview(production(JSON.stringify(forged))), [
      violation(
        "promotion-evidence",
        `${ON}promotion evidence carries a signature that does not verify under the configured public key`,
      ),
    ]);
  });

  it("refuses evidence older than maxEvidenceAgeHours", async function () {
    // 100 hours less 3 minutes: the age reads "100.0 hours" for the first 6 minutes.
    const createdAt = new Date(Date.now() - 100 * HOUR_S * 1000 + 180_000);
    const old = signEvidence(record({ createdAt }), keys.privateKeyPem);
    expectPackRefusal(await preview(production(JSON.stringify(old))), [
      violation(
        "promotion-evidence",
        `${ON}promotion evidence was created at ${createdAt.toISOString()}, 100.0 hours ago, older than ` +
          "the maximum 72 hours (maxEvidenceAgeHours)",
      ),
    ]);
  });

  it("refuses valid evidence of another version than the image runs", async function () {
    const other = signEvidence(record({ version: "9.9.9" }), keys.privateKeyPem);
    expectPackRefusal(await preview(production(JSON.stringify(other))), [
      violation(
        "promotion-evidence",
        `${ON}promotion evidence names version 9.9.9 but the container image runs ${VERSION}`,
      ),
    ]);
  });

  it("refuses signed evidence of another format, naming it", async function () {
    // signEvidence writes format 4 only, so the older record is signed by hand, like a verifier would read it.
    const oldRecord = { ...record(), format: 2 };
    const bytes = Buffer.from(canonicalJson(oldRecord), "utf8");
    const older = {
      record: oldRecord,
      signature: crypto.sign(null, bytes, keys.privateKeyPem).toString("base64"),
    };
    expectPackRefusal(await preview(production(JSON.stringify(older))), [
      violation(
        "promotion-evidence",
        `${ON}promotion evidence has format 2, which this verifier does not read; it reads evidence format 4 only`,
      ),
    ]);
  });

  it("refuses signed evidence whose recorded accuracy bounds its counts do not give (re-derived by the pack)", async function () {
    const r = record();
    const analysis = r.analysis!;
    const claimed: [number, number] = [0.95, 0.99];
    const signed = signEvidence(
      { ...r, analysis: { ...analysis, bounds: { ...analysis.bounds, accuracy: claimed } } },
      keys.privateKeyPem,
    );
    const derived = clopperPearson(
      analysis.counts.correct,
      analysis.counts.labeled,
      analysis.method.confidence,
    );
    expectPackRefusal(await preview(production(JSON.stringify(signed))), [
      violation(
        "promotion-evidence",
        `${ON}promotion evidence: records accuracy bounds [0.95, 0.99] that its counts do not give ` +
          `([${derived.lower}, ${derived.upper}])`,
      ),
    ]);
  });
});
