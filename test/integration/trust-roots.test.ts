/**
 * The program's own trust roots with the real engine (pulumi, the language host, the
 * Kubernetes provider rendering manifests to a directory), without the policy pack: a
 * production stack of the project cannot be pointed at the sandbox's policy config and the
 * committed sandbox key through `churn-model:thresholdsFile`; a sandbox-project stack can.
 */
import { approvalOf } from "../fixtures/approvals";
import { handMadePromotionRecord, SANDBOX_PRODUCTION_TARGET } from "../fixtures/evidence-records";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { upsertStack } from "../../scripts/promotion/engine";
import { signEvidence } from "../../scripts/promotion/evidence";
import { PROJECT, SANDBOX_PROJECT } from "../../scripts/promotion/trust-roots";
import { DEMO_APPROVER, DEMO_APPROVER_KEY_FILE } from "../../scripts/sandbox/cli";
import { makeProjectDir } from "../../scripts/sandbox/project";
import { makeLocalBackend, REPO_ROOT } from "../../scripts/toolchain/env";

const SANDBOX_POLICY = "policy/config/sandbox-production.json";
const DEMO_KEY = fs.readFileSync(path.join(REPO_ROOT, "scripts/sandbox/demo-evidence-key.pem"), "utf8");
const DEMO_APPROVER_KEY = crypto.createPrivateKey(fs.readFileSync(DEMO_APPROVER_KEY_FILE, "utf8"));

/** A promotion of `version` nobody measured, signed with the committed sandbox key. */
function handMadeEvidence(version: string): string {
  const thresholds = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, SANDBOX_POLICY), "utf8"))[
    "promotion-evidence"
  ];
  const record = handMadePromotionRecord({
    target: SANDBOX_PRODUCTION_TARGET,
    version,
    thresholds,
    hours: 1,
    requests: 10_000,
    approver: "nobody",
  });
  // The sandbox's configs require one signed approval: demo-approver's, with its committed key.
  const approvals = [approvalOf(record, DEMO_APPROVER_KEY, DEMO_APPROVER)];
  return JSON.stringify(signEvidence({ ...record, approvals }, DEMO_KEY));
}

describe("the program's trust roots with the real engine (no policy pack)", function () {
  this.timeout(600_000);
  let tmp: string;
  let env: Record<string, string>;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-trust-"));
    fs.mkdirSync(path.join(tmp, "state"));
    env = { PULUMI_BACKEND_URL: makeLocalBackend(path.join(tmp, "state")) };
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** `pulumi preview -s production` of `project` with the redirect; the error text, or "" when it passes. */
  async function previewRedirected(project: string): Promise<string> {
    const dir = makeProjectDir(
      path.join(tmp, project),
      {
        production: {
          renderYamlToDirectory: path.join(tmp, `render-${project}`),
          modelVersion: "1.4.0",
          thresholdsFile: SANDBOX_POLICY,
          evidencePublicKey: crypto
            .createPublicKey(DEMO_KEY)
            .export({ type: "spki", format: "pem" })
            .toString(),
          promotionEvidence: handMadeEvidence("1.4.0"),
        },
      },
      project,
    );
    const stack = await upsertStack("production", { projectDir: dir, env, createProduction: true });
    try {
      await stack.preview({ color: "never" });
      return "";
    } catch (err) {
      return String(err);
    }
  }

  it("refuses a production stack of the project pointed at the sandbox's config and key", async function () {
    const message = await previewRedirected(PROJECT);
    expect(message).to.contain(
      `production refuses model version 1.4.0: churn-model:thresholdsFile ${path.join(REPO_ROOT, SANDBOX_POLICY)} is refused: ` +
        "a production stack of project churn-model trusts only the reviewed policy/config/production.json",
    );
  });

  it("refuses the project's production stack configured as staging, which would need no evidence", async function () {
    const dir = makeProjectDir(
      path.join(tmp, "downgrade"),
      {
        production: {
          renderYamlToDirectory: path.join(tmp, "render-downgrade"),
          environment: "staging",
          modelVersion: "1.4.0",
        },
      },
      PROJECT,
    );
    const stack = await upsertStack("production", { projectDir: dir, env, createProduction: true });
    let message = "";
    try {
      await stack.preview({ color: "never" });
    } catch (err) {
      message = String(err);
    }
    expect(message).to.contain(
      "staging refuses model version 1.4.0: churn-model:environment staging is refused for stack production of project churn-model",
    );
  });

  it("accepts the same stack config in the sandbox project, whose stacks trust the sandbox key", async function () {
    expect(await previewRedirected(SANDBOX_PROJECT)).to.equal("");
  });
});
