import { approvalOf } from "../fixtures/approvals";
import { handMadePromotionRecord } from "../fixtures/evidence-records";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { installMocks, recorded, settle } from "../helpers/pulumi-mocks";
import { REPO, source, stackConfigMap } from "../helpers/stack-config";
import { BadInput } from "../../scripts/promotion/errors";
import { isSandboxKey, keyFingerprint, SANDBOX_KEY_FINGERPRINTS } from "../../policy/contract";
import {
  PROJECT,
  reviewedPolicyConfig,
  SANDBOX_PROJECT,
  targetPolicyConfig,
  trustRootProblem,
} from "../../scripts/promotion/trust-roots";

const SANDBOX_POLICY = path.join(REPO, "policy", "config", "sandbox-production.json");
const DEMO_KEY = fs.readFileSync(path.join(REPO, "scripts", "sandbox", "demo-evidence-key.pem"), "utf8");
const DEMO_APPROVER_KEY = fs.readFileSync(
  path.join(REPO, "scripts", "sandbox", "demo-approver-key.pem"),
  "utf8",
);
const publicPem = (pem: string) =>
  crypto.createPublicKey(pem).export({ type: "spki", format: "pem" }).toString();

describe("trust roots: which policy config and key a stack trusts", function () {
  let tmp: string;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-trust-"));
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("refuses the sandbox's policy config for a production stack of the project", function () {
    const problem = trustRootProblem({
      project: PROJECT,
      environment: "production",
      policyConfigFile: SANDBOX_POLICY,
    });
    expect(problem).to.equal(
      `churn-model:thresholdsFile ${SANDBOX_POLICY} is refused: a production stack of project churn-model ` +
        "trusts only the reviewed policy/config/production.json (thresholds and evidence key); other policy " +
        "configs, such as the sandbox's, are trusted only by stacks of project churn-model-sandbox",
    );
  });

  it("trusts the reviewed file of the environment in the project, and any named file in the sandbox project", function () {
    for (const environment of ["staging", "production"]) {
      expect(
        trustRootProblem({
          project: PROJECT,
          environment,
          policyConfigFile: reviewedPolicyConfig(environment),
        }),
      ).to.equal(undefined);
    }
    expect(
      trustRootProblem({
        project: SANDBOX_PROJECT,
        environment: "production",
        policyConfigFile: SANDBOX_POLICY,
      }),
    ).to.equal(undefined);
  });

  it("refuses the stack named production configured as staging (no evidence needed) in the project", function () {
    const input = { environment: "staging", policyConfigFile: reviewedPolicyConfig("staging") };
    expect(trustRootProblem({ ...input, project: PROJECT, stack: "acme/churn-model/production" })).to.equal(
      "churn-model:environment staging is refused for stack acme/churn-model/production of project churn-model: " +
        "the production stack is production (its evidence, key and policy config are production's)",
    );
    expect(trustRootProblem({ ...input, project: PROJECT, stack: "staging" })).to.equal(undefined);
  });

  it("refuses a reviewed production config that names the sandbox key", function () {
    const root = path.join(tmp, "checkout");
    fs.mkdirSync(path.join(root, "policy", "config"), { recursive: true });
    fs.copyFileSync(SANDBOX_POLICY, path.join(root, "policy", "config", "sandbox-production.json"));
    fs.copyFileSync(SANDBOX_POLICY, path.join(root, "policy", "config", "production.json"));
    const problem = trustRootProblem({
      project: PROJECT,
      environment: "production",
      policyConfigFile: path.join(root, "policy", "config", "production.json"),
      repoRoot: root,
    });
    expect(problem).to.equal(
      `policy/config/production.json names the sandbox's evidence key (fingerprint ${SANDBOX_KEY_FINGERPRINTS[0]}): ` +
        "a production stack of project churn-model never trusts a sandbox key (sandbox keys are for stacks of " +
        "project churn-model-sandbox)",
    );
  });

  it("refuses a reviewed production config that lists the sandbox's demo approver key", function () {
    const root = path.join(tmp, "approver-checkout");
    fs.mkdirSync(path.join(root, "policy", "config"), { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(REPO, "policy", "config", "production.json"), "utf8"));
    cfg["promotion-evidence"].approvers = {
      alice: publicPem(
        crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      ),
      "demo-approver": publicPem(DEMO_APPROVER_KEY),
    };
    fs.writeFileSync(path.join(root, "policy", "config", "production.json"), JSON.stringify(cfg));
    const problem = trustRootProblem({
      project: PROJECT,
      environment: "production",
      policyConfigFile: path.join(root, "policy", "config", "production.json"),
      repoRoot: root,
    });
    expect(problem).to.equal(
      "policy/config/production.json lists approver demo-approver with the sandbox's demo approver key: " +
        "a production stack of project churn-model never trusts a sandbox key (sandbox keys are for stacks of " +
        "project churn-model-sandbox)",
    );
  });

  it("knows the sandbox key by its pinned fingerprint, not by the sandbox's files beside the config", function () {
    // A checkout whose policy/config holds no sandbox-*.json: nothing to read the sandbox key from.
    const root = path.join(tmp, "no-sandbox-files");
    fs.mkdirSync(path.join(root, "policy", "config"), { recursive: true });
    fs.copyFileSync(SANDBOX_POLICY, path.join(root, "policy", "config", "production.json"));
    const problem = trustRootProblem({
      project: PROJECT,
      environment: "production",
      policyConfigFile: path.join(root, "policy", "config", "production.json"),
      repoRoot: root,
    });
    expect(problem).to.match(/^policy\/config\/production\.json names the sandbox's evidence key/);
  });

  it("pins the fingerprint of the demo key that the sandbox's policy configs name", function () {
    const demoPublic = crypto.createPublicKey(DEMO_KEY).export({ type: "spki", format: "pem" }).toString();
    expect(keyFingerprint(demoPublic)).to.equal(SANDBOX_KEY_FINGERPRINTS[0]);
    for (const f of ["sandbox-staging.json", "sandbox-production.json"]) {
      const cfg = JSON.parse(fs.readFileSync(path.join(REPO, "policy", "config", f), "utf8"));
      expect(isSandboxKey(cfg["promotion-evidence"].publicKey), f).to.equal(true);
    }
    for (const f of ["staging.json", "production.json"]) {
      const cfg = JSON.parse(fs.readFileSync(path.join(REPO, "policy", "config", f), "utf8"));
      expect(isSandboxKey(cfg["promotion-evidence"].publicKey), f).to.equal(false);
    }
  });

  it("pins the demo approver key the sandbox's policy configs list (and require), and no other config lists", function () {
    expect(keyFingerprint(publicPem(DEMO_APPROVER_KEY))).to.equal(SANDBOX_KEY_FINGERPRINTS[1]);
    for (const f of ["sandbox-staging.json", "sandbox-production.json"]) {
      const cfg = JSON.parse(fs.readFileSync(path.join(REPO, "policy", "config", f), "utf8"));
      const evidence = cfg["promotion-evidence"];
      expect(Object.keys(evidence.approvers), f).to.deep.equal(["demo-approver"]);
      expect(isSandboxKey(evidence.approvers["demo-approver"]), f).to.equal(true);
      expect([evidence.minApprovals, evidence.signaturesRequired], f).to.deep.equal([1, true]);
    }
    for (const f of ["staging.json", "production.json"]) {
      const cfg = JSON.parse(fs.readFileSync(path.join(REPO, "policy", "config", f), "utf8"));
      const approvers: Record<string, string> = cfg["promotion-evidence"].approvers ?? {};
      expect(
        Object.values(approvers).filter((k) => isSandboxKey(k)),
        f,
      ).to.deep.equal([]);
    }
  });

  it("makes a stack in production's namespace production, whatever its name and environment say", function () {
    const input = { environment: "staging", policyConfigFile: reviewedPolicyConfig("staging") };
    expect(trustRootProblem({ ...input, project: PROJECT, stack: "prod", namespace: "production" })).to.equal(
      "churn-model:environment staging is refused for stack prod of project churn-model: its namespace production " +
        "is production's (Pulumi.production.yaml), so it is production whatever its name (its evidence, key and " +
        "policy config are production's)",
    );
    expect(trustRootProblem({ ...input, project: PROJECT, stack: "prod", namespace: "staging" })).to.equal(
      undefined,
    );
    expect(
      trustRootProblem({ ...input, project: SANDBOX_PROJECT, stack: "prod", namespace: "production" }),
      "the sandbox project's stacks are not the real production",
    ).to.equal(undefined);
  });

  describe("the promotion's policy config for its target stack", function () {
    function projectDir(name: string, project: string, config: Record<string, string>): string {
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${project}\nruntime: nodejs\n`);
      const lines = Object.entries(config).map(([k, v]) => `  churn-model:${k}: ${v}`);
      fs.writeFileSync(path.join(dir, "Pulumi.production.yaml"), `config:\n${lines.join("\n")}\n`);
      return dir;
    }

    it("is the reviewed production config for the project's production stack", function () {
      const dir = projectDir("plain", PROJECT, { environment: "production" });
      expect(targetPolicyConfig("production", dir)).to.equal(reviewedPolicyConfig("production"));
    });

    it("refuses a production stack of the project whose config names the sandbox's file, with exit 2", function () {
      const dir = projectDir("redirect", PROJECT, {
        environment: "production",
        thresholdsFile: "policy/config/sandbox-production.json",
      });
      expect(() => targetPolicyConfig("production", dir))
        .to.throw(BadInput)
        .with.property("message")
        .that.matches(
          /^stack production: churn-model:thresholdsFile .*sandbox-production\.json is refused: /,
        );
    });

    it("refuses a promotion to a stack configured as staging in production's namespace, with exit 2", function () {
      const dir = projectDir("prod-namespace", PROJECT, { environment: "staging", namespace: "production" });
      fs.renameSync(path.join(dir, "Pulumi.production.yaml"), path.join(dir, "Pulumi.prod.yaml"));
      expect(() => targetPolicyConfig("prod", dir))
        .to.throw(BadInput)
        .with.property("message")
        .that.matches(
          /^stack prod: churn-model:environment staging is refused for stack prod of project churn-model: its namespace production/,
        );
    });

    it("is the file a sandbox stack names", function () {
      const dir = projectDir("sandbox", SANDBOX_PROJECT, {
        environment: "production",
        thresholdsFile: "policy/config/sandbox-production.json",
      });
      expect(targetPolicyConfig("production", dir)).to.equal(SANDBOX_POLICY);
    });
  });

  describe("the program", function () {
    type ProgramModule = typeof import("../../stacks/program");
    type ConfigModule = typeof import("../../stacks/config");
    let program: ProgramModule;
    let config: ConfigModule;
    let sign: typeof import("../../scripts/promotion/evidence").signEvidence;

    before(async function () {
      installMocks();
      program = await import("../../stacks/program");
      config = await import("../../stacks/config");
      sign = (await import("../../scripts/promotion/evidence")).signEvidence;
    });

    beforeEach(function () {
      recorded.length = 0;
    });

    /** A hand-made promotion of 1.0.0 approved by demo-approver, signed with the committed sandbox keys, under the sandbox's thresholds. */
    function redirected() {
      const now = new Date();
      const thresholds = JSON.parse(fs.readFileSync(SANDBOX_POLICY, "utf8"))["promotion-evidence"];
      const record = handMadePromotionRecord({
        version: "1.0.0",
        thresholds,
        hours: 1,
        requests: 10_000,
        approver: "demo-approver",
        now,
      });
      // The sandbox's configs require demo-approver's signed approval (docs/approvals.md).
      const approved = {
        ...record,
        // The mocks' stack is "unit": the approval is for the stack being updated.
        approvals: [
          approvalOf(record, crypto.createPrivateKey(DEMO_APPROVER_KEY), "demo-approver", { target: "unit" }),
        ],
      };
      const map = stackConfigMap("production");
      map.set("thresholdsFile", "policy/config/sandbox-production.json");
      map.set(
        "evidencePublicKey",
        crypto.createPublicKey(DEMO_KEY).export({ type: "spki", format: "pem" }).toString(),
      );
      map.set("promotionEvidence", JSON.stringify(sign(approved, DEMO_KEY)));
      return config.readStackConfig(source(map), REPO);
    }

    it("refuses production evidence checked against the sandbox's config in the project, declaring nothing", async function () {
      let message = "";
      try {
        await program.program(redirected(), PROJECT);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).to.match(
        /^production refuses model version 1\.0\.0: churn-model:thresholdsFile .*sandbox-production\.json is refused: /,
      );
      expect(recorded).to.have.length(0);
    });

    it("refuses stack prod configured as staging in production's namespace, declaring nothing (it needs evidence)", async function () {
      const map = stackConfigMap("staging");
      map.set("namespace", "production");
      let message = "";
      try {
        await program.program(config.readStackConfig(source(map), REPO), PROJECT, "acme/churn-model/prod");
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).to.match(
        /^staging refuses model version .*: churn-model:environment staging is refused for stack acme\/churn-model\/prod of project churn-model: its namespace production is production's/,
      );
      expect(recorded).to.have.length(0);
    });

    it("accepts the same evidence in the sandbox project (the evidence itself verifies)", async function () {
      const outputs = await settle(await program.program(redirected(), SANDBOX_PROJECT));
      expect(outputs.modelVersion).to.equal("1.0.0");
    });
  });
});
