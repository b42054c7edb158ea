/**
 * The promote CLI's refusal of bad input (flags, staging outputs, thresholds) with exit 2 and
 * a message naming it, before any query: these suites run no Prometheus.
 */
import { expect } from "chai";
import * as path from "path";
import { FLAGS } from "../../scripts/promote";
import { generateEvidenceKeyPair } from "../../scripts/promotion/evidence";
import { SCENARIOS, stagingOutputs } from "../fixtures/gate-scenarios";
import { cliSuite, promote, promoteInProcess, REPO, THRESHOLDS } from "../helpers/promote-cli";

/** Where the outputs say Prometheus is: nothing listens there, and the inputs are refused first. */
const NO_PROMETHEUS = "http://127.0.0.1:1";

describe("the promote CLI on bad input", function () {
  this.timeout(120_000);
  const suite = cliSuite("promote-cli-input");

  before(async function () {
    this.timeout(180_000);
    await suite.up();
  });

  after(() => suite.down());

  it("refuses the runner's own staging outputs and thresholds in a promotion with exit 2, reading neither", async function () {
    const keys = generateEvidenceKeyPair();
    const r = await promote(
      ["--staging-outputs", "/nonexistent", "--thresholds", "/nonexistent", "--approved-by", "ci:octocat"],
      { CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem },
    );
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      "promote: --staging-outputs is for dry runs (--dry-run) only: a promotion reads the staging stack's outputs from the engine\n",
    );
  });

  it("exits 2 naming the missing thresholds key", async function () {
    const r = await promoteInProcess([
      ...suite.scenarioArgs("healthy", NO_PROMETHEUS).slice(0, 2),
      "--thresholds",
      path.join(REPO, "test", "fixtures", "thresholds", "missing-key.json"),
      "--dry-run",
    ]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(
      /^promote: .*missing-key\.json: "promotion-evidence": maxErrorRate is missing\n$/,
    );
  });

  it("exits 2 naming an outputs file that cannot be read", async function () {
    const missing = path.join(suite.tmp, "no-such-outputs.json");
    const r = await promoteInProcess(["--staging-outputs", missing, "--thresholds", THRESHOLDS, "--dry-run"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      `promote: cannot read staging outputs file ${missing}: ENOENT: no such file or directory, open '${missing}'\n`,
    );
  });

  it("exits 2 naming an outputs file that is not JSON", async function () {
    const file = suite.outputsFile("modelVersion: 1.0.0\n");
    const r = await promoteInProcess(["--staging-outputs", file, "--thresholds", THRESHOLDS, "--dry-run"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(new RegExp(`^promote: staging outputs file ${file} is not valid JSON: `));
  });

  it("exits 2 naming a staging version with shell metacharacters", async function () {
    const outputs = { ...stagingOutputs(SCENARIOS.healthy, NO_PROMETHEUS), modelVersion: "2.0.0;curl" };
    const file = suite.outputsFile(outputs);
    const r = await promoteInProcess(["--staging-outputs", file, "--thresholds", THRESHOLDS, "--dry-run"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      `promote: staging outputs file ${file}: modelVersion "2.0.0;curl" is refused: it must not contain shell metacharacters\n`,
    );
  });

  it("exits 2 on --model-version latest, before reading anything", async function () {
    const r = await promote(["--model-version", "latest", "--staging-outputs", "/nonexistent", "--dry-run"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      'promote: --model-version "latest" is refused: it must be a pinned version: `latest` is never accepted\n',
    );
  });

  it("exits 2 on a --model-version with a backtick", async function () {
    const r = await promoteInProcess(["--model-version", "1.0.0`id`", "--dry-run"]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      'promote: --model-version "1.0.0`id`" is refused: it must not contain shell metacharacters\n',
    );
  });

  it("exits 2 on an unknown flag and prints the usage on --help with exit 0", async function () {
    const bad = await promote(["--dryrun"]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.equal('promote: unknown option "--dryrun" (see --help)\n');
    const help = await promote(["--help"]);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^Usage: npm run promote -- \[options\]\n/);
    // Every flag the CLI accepts (FLAGS, as the workflow drift check reads them) is documented.
    for (const flag of FLAGS.filter((f) => f !== "--help" && f !== "-h")) {
      expect(help.stdout).to.include(`  ${flag} `);
    }
  });
});
