/**
 * The promote CLI's promotion after a passed gate, as its own process: the approval (none
 * given without a terminal, denied at a terminal's prompt) and the evidence signing key.
 */
import { expect } from "chai";
import { spawn } from "child_process";
import { generateEvidenceKeyPair } from "../../scripts/promotion/evidence";
import { SCENARIOS } from "../fixtures/gate-scenarios";
import { AT, cliSuite, ENTRY, promote, REPO } from "../helpers/promote-cli";

describe("the promote CLI's approval and signing key after a passed gate", function () {
  this.timeout(120_000);
  const suite = cliSuite("promote-cli-approval", [SCENARIOS.healthy.candidate]);

  before(async function () {
    this.timeout(180_000);
    await suite.up();
  });

  after(() => suite.down());

  it("stops with exit 4 after a passed gate when no terminal and no --approved-by are there", async function () {
    const keys = generateEvidenceKeyPair();
    const r = await promote(
      [...suite.entryArgs("healthy"), "--at", AT],
      { CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem },
      ENTRY,
    );
    expect(r.code).to.equal(4);
    expect(r.stderr).to.include(
      "promote: promoting 2.0.0 to production needs an approval: run it on a terminal to be asked, or pass --approved-by ID; nothing was changed",
    );
    expect(r.stderr).not.to.include("PRIVATE KEY");
  });

  it("asks on a terminal and stops with exit 4 when the person there denies", async function () {
    const keys = generateEvidenceKeyPair();
    const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
    const command = [
      process.execPath,
      "-r",
      "ts-node/register/transpile-only",
      ENTRY,
      ...suite.entryArgs("healthy"),
      "--at",
      AT,
    ]
      .map(quote)
      .join(" ");
    // `script` runs the CLI on a pseudo-terminal, so stdin and stderr are TTYs.
    const r = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn("script", ["-qec", command, "/dev/null"], {
        cwd: REPO,
        env: {
          ...process.env,
          NO_COLOR: "1",
          GITHUB_STEP_SUMMARY: "",
          CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem,
          PROMOTE_ENTRY_CLOCK: AT,
        },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let output = "";
      let answered = false;
      child.stdout.on("data", (c: Buffer) => {
        output += c.toString();
        if (!answered && output.includes("press Enter to deny: ")) {
          answered = true;
          child.stdin.write("no\r");
        }
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, output }));
    });
    // The question names the decision by the digest printed beside the numbers above it.
    const shown = /Decision digest: (sha256:[0-9a-f]{64})/.exec(r.output);
    expect(shown, r.output).to.not.equal(null);
    expect(r.output).to.include(
      `Approve promotion of churn-model 2.0.0 to production (decision ${shown![1]}, the numbers above)? ` +
        "Type your approver ID to approve, or press Enter to deny: ",
    );
    expect(r.output.indexOf(shown![0])).to.be.below(r.output.indexOf("Approve promotion"));
    expect(r.output).to.include(
      "promote: promotion of 2.0.0 to production was denied at the prompt; nothing was changed",
    );
    expect(r.code).to.equal(4);
  });

  it("fails with exit 2 when promoting without a signing key in the environment", async function () {
    const r = await promote(
      [...suite.entryArgs("healthy"), "--at", AT, "--approved-by", "ci:octocat"],
      {},
      ENTRY,
    );
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("promote: no evidence signing key: set CHURN_EVIDENCE_PRIVATE_KEY");
  });
});
