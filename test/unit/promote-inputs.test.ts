import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import type { DeployerOptions } from "../../scripts/promotion/deployer";
import type { PromotionDeps } from "../../scripts/promotion/promotion";
import { BadInput } from "../../scripts/promotion/errors";
import { assertWindowEndsBy } from "../../scripts/promotion/inputs";
import { PROJECT } from "../../scripts/promotion/trust-roots";
import { earlierPromotionRecord } from "../fixtures/evidence-records";
import { FakePrometheus } from "../helpers/fake-prometheus";
import {
  FakeDeployer,
  GOOD,
  NOW,
  runPromote,
  snapshot,
  THRESHOLDS,
  THRESHOLDS_FILE,
} from "../helpers/promote-harness";

/** What the runner of a promotion cannot choose: each refused with exit 2 before anything changes. */
describe("the promotion's inputs, not the runner's", function () {
  const privateKey = crypto.createPrivateKey(generateEvidenceKeyPair().privateKeyPem);
  const previous = signEvidence(earlierPromotionRecord({ thresholds: THRESHOLDS }), privateKey);

  function fixture(overrides: Partial<PromotionDeps> = {}) {
    const deployer = new FakeDeployer({ modelVersion: "1.0.0", evidence: previous });
    const prometheus = new FakePrometheus(GOOD);
    const given: DeployerOptions[] = [];
    const deps: Partial<PromotionDeps> = {
      signingKey: () => privateKey,
      prometheus: () => prometheus,
      deployer: (o) => {
        given.push(o);
        return deployer;
      },
      ...overrides,
    };
    return { deployer, prometheus, given, deps };
  }
  const promotion = ["--approved-by", "alice"];

  it("promotes with the target's policy config, which the policy pack is given too (the control case)", async function () {
    const { deployer, given, deps } = fixture();
    const r = await runPromote(promotion, deps);
    expect(r.code, r.stderr).to.equal(0);
    expect(given.map((o) => o.policyConfigFile)).to.deep.equal([THRESHOLDS_FILE]);
    expect(deployer.calls).to.deep.equal(["current", "deploy 1.1.0", "verify 1.1.0"]);
  });

  it("refuses a --window shorter than minSoakHours, measuring nothing", async function () {
    const { deployer, prometheus, deps } = fixture();
    const r = await runPromote([...promotion, "--window", "1h"], deps);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      `promote: --window 1 h is shorter than minSoakHours (24 h) of ${THRESHOLDS_FILE}: a promotion's window ` +
        "covers at least the soak; nothing was changed\n",
    );
    expect(prometheus.queries).to.have.length(0);
    expect(deployer.calls).to.deep.equal([]);
  });

  it("refuses metrics-selector labels beyond namespace and version, measuring nothing", async function () {
    const { deployer, prometheus, deps } = fixture({
      readStaging: async () =>
        snapshot({ metricsSelector: { namespace: "staging", version: "1.1.0", pod: "a-1" } }),
    });
    const r = await runPromote(promotion, deps);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      "promote: the metricsSelector of staging has labels beyond the reviewed namespace and version (pod): " +
        "a promotion measures every series of the version in its namespace, not a chosen part of them; nothing was changed\n",
    );
    expect(prometheus.queries).to.have.length(0);
    expect(deployer.calls).to.deep.equal([]);
  });

  it("refuses staging outputs that name no artifact (the digest its pods run), measuring nothing", async function () {
    const { deployer, prometheus, deps } = fixture({
      readStaging: async () => snapshot({ artifact: undefined }),
    });
    const r = await runPromote(promotion, deps);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      "promote: the outputs of staging name no artifact (the registry, repository and digest its pods run, read " +
        "from the cluster): the evidence binds the digest staging ran; deploy staging with `npm run deploy` so the " +
        "stack reports it; nothing was changed\n",
    );
    expect(prometheus.queries).to.have.length(0);
    expect(deployer.calls).to.deep.equal([]);
  });

  it("refuses an --at two minutes ahead of the clock, measuring nothing", async function () {
    const { deployer, prometheus, deps } = fixture();
    const r = await runPromote([...promotion, "--at", "2025-03-02T12:02:00Z"], deps);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      "promote: --at 2025-03-02T12:02:00.000Z lies ahead of this machine's clock (now is 2025-03-02T12:00:00.000Z; " +
        "a promotion allows 60 s of skew, a dry run 5 min); nothing was changed\n",
    );
    expect(prometheus.queries).to.have.length(0);
    expect(deployer.calls).to.deep.equal([]);
  });

  it("refuses an --at more than 10 min before the clock, measuring nothing; a dry run takes it", async function () {
    const { deployer, prometheus, deps } = fixture();
    const r = await runPromote([...promotion, "--at", "2025-03-02T11:49:00Z"], deps);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      "promote: --at 2025-03-02T11:49:00.000Z lies more than 10 min before this machine's clock " +
        "(now is 2025-03-02T12:00:00.000Z): a promotion's window ends when its evidence is signed, so it " +
        "judges the metrics up to now; earlier times only with --dry-run; nothing was changed\n",
    );
    expect(prometheus.queries).to.have.length(0);
    expect(deployer.calls).to.deep.equal([]);

    const dry = await runPromote(["--dry-run", "--at", "2025-03-02T11:49:00Z"], fixture().deps);
    expect(dry.stderr).to.include(
      "a promotion would refuse: --at 2025-03-02T11:49:00.000Z lies more than 10 min before",
    );
    const recent = await runPromote([...promotion, "--at", "2025-03-02T11:51:00Z"], fixture().deps);
    expect(recent.code, recent.stderr).to.equal(0);
  });

  it("signs no evidence whose window ended more than 10 min before its createdAt", function () {
    const createdAt = new Date("2025-03-02T12:00:00Z");
    expect(() => assertWindowEndsBy("2025-03-02T11:50:00.000Z", createdAt)).not.to.throw();
    expect(() => assertWindowEndsBy("2025-03-02T11:49:59.000Z", createdAt)).to.throw(
      BadInput,
      "the metrics window ends at 2025-03-02T11:49:59.000Z, more than 10 min before the evidence would be signed (2025-03-02T12:00:00.000Z)",
    );
  });

  it("signs no evidence whose window ends after its createdAt (an --at within the skew)", async function () {
    const { deployer, deps } = fixture();
    const r = await runPromote([...promotion, "--at", "2025-03-02T12:00:30Z"], deps);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include(
      "promote: the metrics window ends at 2025-03-02T12:00:30.000Z, after the evidence would be signed " +
        `(${NOW.toISOString()}): --at lies ahead of this machine's clock`,
    );
    expect(deployer.deployed).to.have.length(0);
  });

  it("allows all of it in a dry run, and says what a promotion would refuse", async function () {
    const { deployer, deps } = fixture({
      readStaging: async () =>
        snapshot({ metricsSelector: { namespace: "staging", version: "1.1.0", pod: "a-1" } }),
    });
    const r = await runPromote(["--dry-run", "--thresholds", THRESHOLDS_FILE, "--window", "1h"], deps);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.include(
      "Dry run: this decision changes nothing and signs no evidence; a promotion would refuse: --thresholds is for dry runs",
    );
    expect(r.stderr).to.include("--window 1 h is shorter than minSoakHours (24 h)");
    expect(r.stderr).to.include(
      "the metricsSelector of staging has labels beyond the reviewed namespace and version (pod)",
    );
    expect(deployer.calls).to.deep.equal([]);
  });

  it("says a plain dry run is one", async function () {
    const r = await runPromote(["--dry-run"], fixture().deps);
    expect(r.code).to.equal(0);
    expect(r.stderr).to.include("Dry run: this decision changes nothing and signs no evidence\n");
  });

  describe("the target's policy config from its stack (the real resolution)", function () {
    let tmp: string;
    let saved: string | undefined;

    before(function () {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-inputs-"));
      saved = process.env.CHURN_PROJECT_DIR;
    });

    after(function () {
      if (saved === undefined) delete process.env.CHURN_PROJECT_DIR;
      else process.env.CHURN_PROJECT_DIR = saved;
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("refuses a CHURN_PROJECT_DIR outside the checkout that holds the project, before production is opened", async function () {
      fs.writeFileSync(path.join(tmp, "Pulumi.yaml"), `name: ${PROJECT}\nruntime: nodejs\n`);
      fs.writeFileSync(
        path.join(tmp, "Pulumi.production.yaml"),
        "config:\n  churn-model:environment: production\n",
      );
      process.env.CHURN_PROJECT_DIR = tmp;
      const { given, deps } = fixture({ policyConfig: undefined });
      const r = await runPromote(promotion, deps);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        `promote: CHURN_PROJECT_DIR ${tmp} is refused outside --dry-run: it holds project ${PROJECT}, and a ` +
          `promotion runs the checkout's own project directory (${path.resolve(__dirname, "..", "..")}) or a sandbox ` +
          "project's (churn-model-sandbox); unset it or point it at the checkout; nothing was changed\n",
      );
      expect(given).to.have.length(0);
    });

    it("takes a sandbox project's CHURN_PROJECT_DIR in a promotion", async function () {
      const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "churn-inputs-sandbox-"));
      try {
        fs.writeFileSync(path.join(sandbox, "Pulumi.yaml"), "name: churn-model-sandbox\nruntime: nodejs\n");
        process.env.CHURN_PROJECT_DIR = sandbox;
        const { deployer, deps } = fixture();
        const r = await runPromote(promotion, deps);
        expect(r.code, r.stderr).to.equal(0);
        expect(deployer.calls).to.deep.equal(["current", "deploy 1.1.0", "verify 1.1.0"]);
      } finally {
        process.env.CHURN_PROJECT_DIR = tmp;
        fs.rmSync(sandbox, { recursive: true, force: true });
      }
    });

    it("refuses a production stack of the project that names the sandbox's policy config, in a dry run too", async function () {
      fs.writeFileSync(path.join(tmp, "Pulumi.yaml"), `name: ${PROJECT}\nruntime: nodejs\n`);
      fs.writeFileSync(
        path.join(tmp, "Pulumi.production.yaml"),
        "config:\n  churn-model:environment: production\n  churn-model:thresholdsFile: policy/config/sandbox-production.json\n",
      );
      process.env.CHURN_PROJECT_DIR = tmp;
      const { given, deps } = fixture({ policyConfig: undefined });
      const r = await runPromote(["--dry-run"], deps);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(
        /^promote: stack production: churn-model:thresholdsFile .*sandbox-production\.json is refused: a production stack of project churn-model trusts only the reviewed policy\/config\/production\.json/,
      );
      expect(given).to.have.length(0);
    });
  });
});
