/**
 * Approvals through the promote CLI, with fake Prometheus and production: `approve` signs the
 * decision a dry run shows (same digest), a promotion takes it (`--approval FILE` or
 * $CHURN_APPROVALS) and carries it in the evidence; it stops with exit 4 and changes nothing
 * for an approval replayed on other numbers, an expired one, a forged one, a quorum not met, and
 * when the gate evaluated just before the update differs in outcome from the approved decision.
 */
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateApproval } from "../../policy/contract";
import { generateEvidenceKeyPair, verifyEvidence } from "../../scripts/promotion/evidence";
import type { PromotionDeps } from "../../scripts/promotion/promotion";
import { loadPolicyConfig } from "../../scripts/promotion/thresholds";
import { spkiPem } from "../fixtures/approvals";
import { FakePrometheus } from "../helpers/fake-prometheus";
import {
  FakeDeployer,
  GOOD,
  NOW,
  Run,
  runPromote,
  snapshot,
  THRESHOLDS_FILE,
} from "../helpers/promote-harness";

describe("approvals bound to the numbers, through the promote CLI", function () {
  const evidenceKeys = generateEvidenceKeyPair();
  const evidenceKey = crypto.createPrivateKey(evidenceKeys.privateKeyPem);
  const alice = crypto.generateKeyPairSync("ed25519");
  const bob = crypto.generateKeyPairSync("ed25519");
  const mallory = crypto.generateKeyPairSync("ed25519");
  let tmp: string;
  let strict: string;
  let two: string;
  const keyFile: Record<string, string> = {};
  let files = 0;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-approval-flow-"));
    const config = JSON.parse(fs.readFileSync(THRESHOLDS_FILE, "utf8"));
    const section = {
      ...config["promotion-evidence"],
      publicKey: evidenceKeys.publicKeyPem,
      approvers: { alice: spkiPem(alice.publicKey), bob: spkiPem(bob.publicKey) },
      minApprovals: 1,
      signaturesRequired: true,
    };
    strict = path.join(tmp, "strict.json");
    fs.writeFileSync(strict, JSON.stringify({ ...config, "promotion-evidence": section }));
    two = path.join(tmp, "two.json");
    fs.writeFileSync(
      two,
      JSON.stringify({ ...config, "promotion-evidence": { ...section, minApprovals: 2 } }),
    );
    for (const [name, pair] of Object.entries({ alice, bob, mallory })) {
      keyFile[name] = path.join(tmp, `${name}.pem`);
      fs.writeFileSync(keyFile[name], pair.privateKey.export({ type: "pkcs8", format: "pem" }));
    }
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function run(argv: string[], over: Partial<PromotionDeps> = {}, env: NodeJS.ProcessEnv = {}): Promise<Run> {
    return runPromote(argv, { policyConfig: () => strict, signingKey: () => evidenceKey, ...over }, env);
  }

  function production(): FakeDeployer {
    return new FakeDeployer({ modelVersion: null, evidence: null });
  }

  /** `approve` as `who` with `key` (default their own); returns the run and the file. */
  async function approve(
    who = "alice",
    extra: string[] = [],
    over: Partial<PromotionDeps> = {},
    key = keyFile[who],
  ): Promise<Run & { file: string }> {
    const file = path.join(tmp, `approval-${++files}.json`);
    const r = await run(["approve", "--approver", who, "--key", key, "--out", file, ...extra], over);
    return { ...r, file };
  }

  it("signs the decision a dry run shows: the same digest, the checks' values and outcomes", async function () {
    const dry = await run(["--dry-run"]);
    expect(dry.code, dry.stderr).to.equal(0);
    const digest = /Decision digest: (sha256:[0-9a-f]{64})/.exec(dry.stdout)?.[1];
    expect(digest).to.be.a("string");
    const a = await approve();
    expect(a.code, a.stderr).to.equal(0);
    expect(a.stdout).to.include(`Decision digest: ${digest}`);
    const approval = validateApproval(JSON.parse(fs.readFileSync(a.file, "utf8")), "file");
    expect(approval.statement).to.deep.include({
      decisionDigest: digest,
      approver: "alice",
      target: "production",
      approvedAt: NOW.toISOString(),
      expiresAt: "2025-03-03T12:00:00.000Z",
    });
    expect(approval.statement.decision.checks.find((c) => c.name === "accuracy")).to.deep.include({
      status: "pass",
      mode: "enforce",
    });
  });

  it("promotes with a signed approval; the evidence carries it and the pack's check passes", async function () {
    const a = await approve();
    const deployer = production();
    const r = await run(["--approval", a.file], { deployer: () => deployer });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.include("Approved by alice (signed, sha256:");
    const evidence = deployer.deployed[0];
    expect(evidence.record.approver).to.equal("alice");
    expect(evidence.record.approvals).to.have.length(1);
    const policy = loadPolicyConfig(strict);
    const verify = (e: unknown) =>
      verifyEvidence(e, {
        publicKeyPem: evidenceKeys.publicKeyPem,
        thresholds: policy.thresholds,
        analysis: policy.analysis,
        imageVersion: "1.1.0",
        now: NOW,
        approvals: policy.approvals,
        target: "production",
      });
    expect(verify(evidence)).to.deep.equal([]);
  });

  it("takes approvals from $CHURN_APPROVALS (a CI input) as from a file", async function () {
    const a = await approve();
    const deployer = production();
    const r = await run(
      [],
      { deployer: () => deployer },
      { CHURN_APPROVALS: fs.readFileSync(a.file, "utf8") },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(deployer.deployed[0].record.approvals?.[0].statement.approver).to.equal("alice");
    const bad = await run([], { deployer: () => production() }, { CHURN_APPROVALS: "{not json" });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include("CHURN_APPROVALS is not valid JSON");
  });

  it("refuses --approved-by alone (the evidence key alone) with exit 4 when signatures are required", async function () {
    const deployer = production();
    const r = await run(["--approved-by", "alice"], { deployer: () => deployer });
    expect(r.code).to.equal(4);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stderr).to.include("the policy config requires signed approvals, and these do not suffice");
    expect(r.stderr).to.include("approval 1 (alice) is not signed");
  });

  it("stops with exit 4, nothing changed, when the outcome changes between approval and update", async function () {
    const a = await approve();
    const prometheus = new FakePrometheus(GOOD);
    const deployer = production();
    const r = await run(["--approval", a.file], {
      prometheus: () => prometheus,
      deployer: () => deployer,
      signingKey: () => {
        prometheus.numbers = { ...GOOD, errors: 0.2 }; // read after the approval, before the update
        return evidenceKey;
      },
    });
    expect(r.code, r.stderr).to.equal(4);
    expect(deployer.deployed).to.deep.equal([]);
    expect(r.stderr).to.include("differs in outcome from the approval by alice");
    expect(r.stderr).to.match(/check error_rate is now fail at 0\.2; the approval is for pass at 0\.002/);
    expect(r.stdout.match(/Decision digest: /g)).to.have.length(2);
  });

  it("refuses an approval replayed on other numbers: another staging deployment or version", async function () {
    const a = await approve();
    const redeployed = await run(["--approval", a.file], {
      readStaging: async () => snapshot({ deployedAt: new Date("2025-03-01T07:00:00Z") }),
      deployer: () => production(),
    });
    expect(redeployed.code).to.equal(4);
    expect(redeployed.stderr).to.include("staging's deployment is staging at 2025-03-01T07:00:00.000Z");
    const other = await run(["--approval", a.file], {
      readStaging: async () =>
        snapshot({
          modelVersion: "1.2.0",
          image: "registry.local/churn-model:1.2.0",
          metricsSelector: { namespace: "staging", version: "1.2.0" },
        }),
      deployer: () => production(),
    });
    expect(other.code).to.equal(4);
    expect(other.stderr).to.include("the version is 1.2.0, the approval is for 1.1.0");
  });

  it("stops with exit 4 for an approval that expired", async function () {
    const a = await approve("alice", ["--expires-in", "1m"]);
    const deployer = production();
    const r = await run(["--approval", a.file], {
      now: () => new Date(NOW.getTime() + 120_000),
      deployer: () => deployer,
    });
    expect(r.code).to.equal(4);
    expect(deployer.calls).to.deep.equal([]);
    expect(r.stderr).to.include("expired at 2025-03-02T12:01:00.000Z");
  });

  it("refuses a forged approval (another key under alice's name) and an unknown approver with exit 4", async function () {
    // approve refuses a key other than the listed one; a forger signs by hand with the contract.
    const wrong = await approve("alice", [], {}, keyFile.mallory);
    expect(wrong.code).to.equal(2);
    expect(wrong.stderr).to.include("the key given is not the one");
    expect(fs.existsSync(wrong.file)).to.equal(false);
    const good = JSON.parse(fs.readFileSync((await approve()).file, "utf8"));
    const forged = path.join(tmp, "forged.json");
    const sig = crypto.sign(null, Buffer.from("x"), mallory.privateKey).toString("base64");
    fs.writeFileSync(forged, JSON.stringify({ ...good, signature: sig }));
    const r = await run(["--approval", forged], { deployer: () => production() });
    expect(r.code).to.equal(4);
    expect(r.stderr).to.include(
      "approval 1 (alice) carries a signature that does not verify under alice's key",
    );
    const stranger = await approve("mallory");
    expect(stranger.stderr).to.include("lists no key for mallory");
    const s = await run(["--approval", stranger.file], { deployer: () => production() });
    expect(s.code).to.equal(4);
    expect(s.stderr).to.include("approval 1 (mallory) is by an approver the policy config does not list");
  });

  it("needs minApprovals distinct approvers: alice twice is not a quorum of two, alice and bob are", async function () {
    const viaTwo = { policyConfig: () => two };
    const a1 = await approve("alice", [], viaTwo);
    const a2 = await approve("alice", [], viaTwo);
    const short = await run(["--approval", a1.file, "--approval", a2.file], {
      ...viaTwo,
      deployer: () => production(),
    });
    expect(short.code).to.equal(4);
    expect(short.stderr).to.include(
      "carries 1 verifying signed approval from distinct approvers; the policy config requires 2",
    );
    const b = await approve("bob", [], viaTwo);
    const deployer = production();
    const ok = await run(["--approval", a1.file, "--approval", b.file], {
      ...viaTwo,
      deployer: () => deployer,
    });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(deployer.deployed[0].record.approver).to.equal("alice, bob");
  });

  it("refuses to approve a rejected decision, to overwrite a file, and flags that make no sense", async function () {
    const rejected = await approve("alice", [], {
      prometheus: () => new FakePrometheus({ ...GOOD, accuracy: 0.5 }),
    });
    expect(rejected.code).to.equal(3);
    expect(fs.existsSync(rejected.file)).to.equal(false);
    const once = await approve();
    const again = await run(["approve", "--approver", "alice", "--key", keyFile.alice, "--out", once.file]);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.include("exists; an approval file is never overwritten");
    const flag = await run(["approve", "--approver", "alice", "--approved-by", "bob"]);
    expect(flag.code).to.equal(2);
    expect(flag.stderr).to.include("approve does not take --approved-by");
  });

  it("refuses an approval for another stack with exit 4", async function () {
    const a = await approve("alice", ["--to", "canary"], { policyConfig: () => strict });
    expect(a.code, a.stderr).to.equal(0);
    const r = await run(["--approval", a.file], { deployer: () => production() });
    expect(r.code).to.equal(4);
    expect(r.stderr).to.include("is for stack canary, not production");
  });
});
