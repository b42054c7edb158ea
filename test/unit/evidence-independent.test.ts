/**
 * The evidence format verified without this repository's code: the Python 3 canonicalizer and
 * the openssl command of docs/evidence-format.md, taken from the document itself, run against
 * evidence the promotion tools sign.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateEvidenceKeyPair, signEvidence, SignedEvidence } from "../../scripts/promotion/evidence";
import { rollbackRecord } from "../../scripts/promotion/record";
import { canaryPart } from "../fixtures/canary-evidence";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";

const DOC = fs.readFileSync(path.resolve(__dirname, "..", "..", "docs", "evidence-format.md"), "utf8");

function block(lang: string): string {
  const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(DOC);
  if (m === null) throw new Error(`docs/evidence-format.md has no ${lang} block`);
  return m[1];
}

const PYTHON = block("python");
const OPENSSL = block("sh")
  .split("\n")
  .find((l) => l.startsWith("openssl pkeyutl -verify"))!;

const keys = generateEvidenceKeyPair();

function evidence(overrides: Record<string, unknown> = {}): SignedEvidence {
  return signEvidence(
    {
      format: 4,
      target: TEST_TARGET,
      kind: "promotion",
      modelVersion: "1.4.2+b7",
      image: "registry.internal.example.com/ml/churn-model:1.4.2_b7",
      artifact: sandboxArtifact("registry.internal.example.com/ml/churn-model:1.4.2_b7"),
      measured: {
        accuracy: 0.1 + 0.2,
        latencyP99Ms: 1e21,
        errorRate: 1e-7,
        uptime: 1,
        soakHours: 333333333.3333333,
        requests: 50_000,
        labeledPredictions: 4_000,
      },
      window: { start: "2025-05-31T06:00:00.000Z", end: "2025-06-01T06:00:00.000Z" },
      thresholds: { ...DESIGN_THRESHOLDS },
      staging: { stack: "staging", updateVersion: 7, deployedAt: "2025-05-30T00:00:00.000Z" },
      approver: 'ädä "€" \u0001 😀 \u2028',
      createdAt: "2025-06-01T07:00:00.000Z",
      ...overrides,
    },
    keys.privateKeyPem,
  );
}

describe("verifying evidence with the recipe of docs/evidence-format.md (python3 and openssl)", function () {
  this.timeout(60_000);
  let tmp: string;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-evidence-recipe-"));
    fs.writeFileSync(path.join(tmp, "jcs.py"), PYTHON);
    fs.writeFileSync(path.join(tmp, "evidence-public.pem"), keys.publicKeyPem);
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function recipe(json: string): { python: number; openssl: number; output: string } {
    fs.writeFileSync(path.join(tmp, "evidence.json"), json);
    const py = spawnSync("python3", ["jcs.py", "evidence.json"], { cwd: tmp, encoding: "utf8" });
    if (py.status !== 0) return { python: py.status ?? -1, openssl: -1, output: py.stderr };
    const ssl = spawnSync("bash", ["-c", OPENSSL], { cwd: tmp, encoding: "utf8" });
    return { python: 0, openssl: ssl.status ?? -1, output: ssl.stdout + ssl.stderr };
  }

  it("verifies promotion evidence, its numbers and strings written as RFC 8785 requires", function () {
    const result = recipe(JSON.stringify(evidence()));
    expect(result.output).to.contain("Signature Verified Successfully");
    expect(result.openssl).to.equal(0);
  });

  it("verifies evidence carrying the gate's analysis (fractional counts, nulls, a Bonferroni confidence)", function () {
    const interval = (k: number) => ({
      start: new Date(Date.parse("2025-05-31T06:00:00.000Z") + k * 3_600_000).toISOString(),
      end: new Date(Date.parse("2025-05-31T07:00:00.000Z") + k * 3_600_000).toISOString(),
      outcomes: { accuracy: "pass", latency_p99: "pass", error_rate: "pass", uptime: "pass" },
      labeled: k === 0 ? null : 1440,
      correct: k === 0 ? null : 1324.8,
      requests: 7200.000000000001,
      serverErrors: 14.4,
    });
    const analysis = {
      method: {
        method: "clopper-pearson",
        confidence: 0.95,
        intervalConfidence: 1 - 0.05 / 24,
        analysisIntervalMinutes: 60,
        intervals: 24,
        maxFailedIntervals: 0,
        maxStalenessSeconds: 120,
      },
      counts: {
        labeled: 34560,
        correct: 31795.2,
        requests: 172800,
        serverErrors: 345.6,
        latencyRequests: 172800,
        latencyAboveBound: 345.59999999999127,
        latencyBoundMs: 250,
        uptime: 1,
        firstSample: 1748649600,
        lastSample: 1748757595,
      },
      bounds: { accuracy: [0.9171071012345678, 0.9228412345678901], errorRate: [0.0017953, 0.0022223] },
      dryRun: ["baseline_accuracy"],
      intervals: Array.from({ length: 24 }, (_, k) => interval(k)),
    };
    const e = evidence({ analysis });
    expect(e.record.analysis?.intervals).to.have.length(24);
    const result = recipe(JSON.stringify(e));
    expect(result.output).to.contain("Signature Verified Successfully");
    expect(result.openssl).to.equal(0);
  });

  it("verifies the stable's evidence carrying its canary's verdicts (nulls, unbounded edges)", function () {
    const canary = canaryPart("1.4.1");
    const e = evidence({
      canary: {
        ...canary,
        steps: canary.steps.map((s) => ({
          ...s,
          checks: [
            ...s.checks,
            { ...s.checks[0], name: "latency_p99", worseBy: { lower: null, upper: 12.5 }, margin: 50 },
            { ...s.checks[0], name: "accuracy", canary: null, stable: null, worseBy: null },
          ],
        })),
      },
    });
    expect(e.record.canary?.steps).to.have.length(2);
    const result = recipe(JSON.stringify(e));
    expect(result.output).to.contain("Signature Verified Successfully");
    expect(result.openssl).to.equal(0);
  });

  it("verifies the evidence whichever way its JSON is laid out (pretty-printed, keys reordered)", function () {
    const e = evidence();
    const reordered = {
      signature: e.signature,
      record: Object.fromEntries(Object.entries(e.record).reverse()),
    };
    const result = recipe(JSON.stringify(reordered, null, 4));
    expect(result.openssl, result.output).to.equal(0);
  });

  it("refuses evidence whose record was changed after signing", function () {
    const e = evidence();
    const changed = { ...e, record: { ...e.record, modelVersion: "1.4.3" } };
    const result = recipe(JSON.stringify(changed));
    expect(result.python).to.equal(0);
    expect(result.openssl, result.output).to.not.equal(0);
    expect(result.output).to.not.contain("Signature Verified Successfully");
  });

  it("refuses evidence signed by another key", function () {
    const other = generateEvidenceKeyPair();
    const e = evidence();
    const forged = signEvidence(e.record, other.privateKeyPem);
    const result = recipe(JSON.stringify(forged));
    expect(result.openssl, result.output).to.not.equal(0);
  });

  it("refuses evidence of another format before any signature check", function () {
    const e = evidence();
    const result = recipe(JSON.stringify({ ...e, record: { ...e.record, format: 2 } }));
    expect(result.python).to.not.equal(0);
    expect(result.output).to.contain("unknown evidence format");
  });

  it("verifies the promotion evidence a rollback embeds, and the rollback itself", function () {
    const earlier = evidence();
    const rollback = signEvidence(
      rollbackRecord(earlier, "oncall@example.com", new Date("2025-06-02T00:00:00Z"), TEST_TARGET),
      keys.privateKeyPem,
    );
    expect(recipe(JSON.stringify(rollback)).openssl).to.equal(0);
    expect(recipe(JSON.stringify(rollback.record.rollbackOf)).openssl).to.equal(0);
  });
});
