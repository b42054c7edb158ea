import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { parsePolicyConfigText } from "../../policy/contract";
import { PACK_NAME, policies } from "../../policy/pack";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import { privateKeyFromEnv, signEvidence } from "../../scripts/promotion/evidence";
import { loadThresholds, THRESHOLD_KEYS } from "../../scripts/promotion/thresholds";
import { initialPosition, parseAnalysisSettings } from "../../policy/contract";
import { approvalOf, subjectOf } from "../fixtures/approvals";
import { withHandMadeAnalysis } from "../fixtures/evidence-records";
import { deployment, DEPLOYMENT, evidenceRecord, hoursAgo, TARGET } from "./fixtures";
import { runResourcePolicy } from "./helper";

const POLICY_DIR = path.resolve(__dirname, "..", "..", "policy");
const CONFIG_DIR = path.join(POLICY_DIR, "config");
const DEMO_KEY = path.resolve(__dirname, "..", "..", "scripts", "sandbox", "demo-evidence-key.pem");
const DEMO_APPROVER_KEY = path.resolve(__dirname, "..", "..", "scripts", "sandbox", "demo-approver-key.pem");
const CONFIG_FILES = ["production", "staging", "sandbox-production", "sandbox-staging"];

function readConfig(name: string): Record<string, Record<string, unknown>> {
  return JSON.parse(fs.readFileSync(path.join(CONFIG_DIR, `${name}.json`), "utf8")) as Record<
    string,
    Record<string, unknown>
  >;
}

/** The JSON-schema checks the engine applies to the keywords our config schemas use. */
function schemaProblems(key: string, value: unknown, schema: PolicyConfigJSONSchema): string[] {
  const type = schema.type;
  if (type === "number" && typeof value !== "number") return [`${key} must be a number`];
  if (type === "integer" && !Number.isInteger(value)) return [`${key} must be an integer`];
  if (type === "string" && typeof value !== "string") return [`${key} must be a string`];
  if (type === "array") {
    if (!Array.isArray(value)) return [`${key} must be an array`];
    const items = schema.items as PolicyConfigJSONSchema;
    return value.flatMap((v, i) => schemaProblems(`${key}[${i}]`, v, items));
  }
  const problems: string[] = [];
  if (schema.minimum !== undefined && (value as number) < schema.minimum)
    problems.push(`${key} below minimum`);
  if (schema.maximum !== undefined && (value as number) > schema.maximum)
    problems.push(`${key} above maximum`);
  if (schema.enum !== undefined && !schema.enum.includes(value as string))
    problems.push(`${key} not in enum`);
  if (schema.minLength !== undefined && (value as string).length < schema.minLength)
    problems.push(`${key} too short`);
  return problems;
}

describe("the policy pack", () => {
  it("names every policy once, in kebab-case, with a one-sentence description", () => {
    const names = policies.map((p) => p.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const p of policies) {
      expect(p.name, p.name).to.match(/^[a-z]+(-[a-z0-9]+)*$/);
      expect(p.description, p.name).to.match(/^[A-Z][^\n]*\.$/);
    }
  });

  it("makes every policy mandatory by default", () => {
    expect(policies.map((p) => [p.name, p.enforcementLevel])).to.deep.equal([
      ["promotion-evidence", "mandatory"],
      ["environment-label", "mandatory"],
      ["image-pinning", "mandatory"],
      ["container-resources", "mandatory"],
      ["container-probes", "mandatory"],
      ["container-security-context", "mandatory"],
      ["production-replicas", "mandatory"],
      ["production-autoscaling", "mandatory"],
      ["production-disruption-budget", "mandatory"],
      ["ecr-repository-hardening", "mandatory"],
      ["artifact-bucket-protection", "mandatory"],
    ]);
  });

  it("carries a package.json with its version, its own pinned dependencies and the compiled index as main", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const root = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "..", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.version).to.match(/^\d+\.\d+\.\d+$/);
    expect(pkg.main).to.equal("dist/index.js");
    // Pinned exactly, and to the versions the repository itself runs.
    expect(pkg.dependencies).to.deep.equal({
      "@pulumi/policy": root.dependencies["@pulumi/policy"],
      "@pulumi/pulumi": root.dependencies["@pulumi/pulumi"],
    });
    expect(fs.existsSync(path.join(POLICY_DIR, "package-lock.json"))).to.equal(true);
    expect(fs.readFileSync(path.join(POLICY_DIR, "PulumiPolicy.yaml"), "utf8")).to.match(
      /^runtime:\n {2}name: nodejs\n {2}options:\n {4}typescript: false$/m,
    );
    expect(PACK_NAME).to.match(/^[a-zA-Z0-9-_.]{1,100}$/);
  });
});

describe("policy config files", () => {
  for (const file of CONFIG_FILES) {
    it(`${file}.json makes every policy mandatory and sets only keys the policies declare, within their schemas`, () => {
      const config = readConfig(file);
      expect(config.all).to.deep.equal({ enforcementLevel: "mandatory" });
      const problems: string[] = [];
      for (const [section, values] of Object.entries(config)) {
        if (section === "all") continue;
        const policy = policies.find((p) => p.name === section);
        if (policy === undefined) {
          problems.push(`${section} is no policy of the pack`);
          continue;
        }
        for (const [key, value] of Object.entries(values)) {
          const schema = policy.configSchema?.properties[key];
          if (key === "enforcementLevel") continue;
          if (schema === undefined) problems.push(`${section}.${key} is not in the policy's configSchema`);
          else problems.push(...schemaProblems(`${section}.${key}`, value, schema as PolicyConfigJSONSchema));
        }
      }
      expect(problems).to.deep.equal([]);
    });

    it(`${file}.json carries an Ed25519 public key and the thresholds the promotion script loads`, () => {
      const section = readConfig(file)["promotion-evidence"];
      const key = crypto.createPublicKey(section.publicKey as string);
      expect(key.asymmetricKeyType).to.equal("ed25519");
      const thresholds = loadThresholds(path.join(CONFIG_DIR, `${file}.json`));
      expect(Object.keys(thresholds).sort()).to.deep.equal([...THRESHOLD_KEYS].sort());
    });
  }

  it("production.json holds exactly the thresholds of docs/design.md", () => {
    expect(loadThresholds(path.join(CONFIG_DIR, "production.json"))).to.deep.equal({
      minAccuracy: 0.85,
      maxLatencyP99Ms: 250,
      maxErrorRate: 0.01,
      minUptime: 0.999,
      minSoakHours: 24,
      minRequests: 1000,
      minLabeledPredictions: 200,
      maxEvidenceAgeHours: 72,
    });
  });

  it("sandbox-production.json holds the sandbox's short-soak thresholds", () => {
    expect(loadThresholds(path.join(CONFIG_DIR, "sandbox-production.json"))).to.deep.equal({
      minAccuracy: 0.82,
      maxLatencyP99Ms: 250,
      maxErrorRate: 0.01,
      minUptime: 0.99,
      minSoakHours: 0.02,
      minRequests: 200,
      minLabeledPredictions: 50,
      maxEvidenceAgeHours: 72,
    });
  });

  it("names its environment for environment-label in every file", () => {
    expect(CONFIG_FILES.map((f) => readConfig(f)["environment-label"].environment)).to.deep.equal([
      "production",
      "staging",
      "production",
      "staging",
    ]);
  });

  it("names concrete registries in every file, and the parser refuses a wildcard account", () => {
    for (const f of CONFIG_FILES) {
      const text = fs.readFileSync(path.join(CONFIG_DIR, `${f}.json`), "utf8");
      expect(() => parsePolicyConfigText(text, f), f).not.to.throw();
    }
    const file = readConfig("production");
    file["image-pinning"] = {
      allowedRegistries: ["registry.internal.example.com/ml", "*.dkr.ecr.*.amazonaws.com"],
    };
    expect(() => parsePolicyConfigText(JSON.stringify(file), "production.json")).to.throw(
      'production.json: "image-pinning".allowedRegistries: entry "*.dkr.ecr.*.amazonaws.com" has a wildcard in ' +
        "its first host label (the account): name each registry's account",
    );
  });

  it("allows the sandbox registry only in the sandbox files", () => {
    const registries = (f: string) => readConfig(f)["image-pinning"].allowedRegistries as string[];
    expect(registries("sandbox-production")).to.include("localhost:5000");
    expect(registries("production")).to.not.include("localhost:5000");
    expect(registries("staging")).to.not.include("localhost:5000");
  });

  describe("the sandbox demo key", () => {
    const demo = privateKeyFromEnv({ CHURN_EVIDENCE_PRIVATE_KEY_FILE: DEMO_KEY });
    const evidenceConfig = (file: string) => readConfig(file)["promotion-evidence"];
    // A sandbox-sized window analysed under the sandbox's settings (15 s intervals).
    const sandboxStack = "acme/churn-model-sandbox/production";
    const record = evidenceRecord("1.2.0", {
      window: { start: hoursAgo(2), end: hoursAgo(1) },
      target: { ...TARGET, stack: sandboxStack },
    });
    const sandbox = parseAnalysisSettings(evidenceConfig("sandbox-production")).settings;
    // The sandbox's configs require one signed approval: demo-approver's, with the demo approver key.
    const analysed = withHandMadeAnalysis(record, sandbox);
    const approver = crypto.createPrivateKey(fs.readFileSync(DEMO_APPROVER_KEY, "utf8"));
    // Approved under the sandbox config's thresholds (what its verifier judges approvals by).
    const sandboxThresholds = Object.fromEntries(
      THRESHOLD_KEYS.map((k) => [k, (evidenceConfig("sandbox-production") as Record<string, number>)[k]]),
    );
    const subject = subjectOf(analysed, { thresholds: sandboxThresholds });
    const approved = {
      ...analysed,
      approvals: [approvalOf(analysed, approver, "demo-approver", {}, subject)],
    };
    const annotation = JSON.stringify(signEvidence(approved, demo));
    const props = deployment({ evidence: annotation, position: initialPosition(sandboxStack) });

    it("signs evidence the sandbox production config accepts, for a stack of the sandbox project", async () => {
      const outcome = await runResourcePolicy(
        promotionEvidence,
        { type: DEPLOYMENT, props, project: "churn-model-sandbox" },
        evidenceConfig("sandbox-production"),
      );
      expect(outcome.violations).to.deep.equal([]);
    });

    it("signs nothing the real production config accepts", async () => {
      const outcome = await runResourcePolicy(
        promotionEvidence,
        { type: DEPLOYMENT, props },
        evidenceConfig("production"),
      );
      expect(outcome.violations).to.deep.equal([
        'Deployment "churn-model": promotion evidence carries a signature that does not verify under the ' +
          "configured public key",
        // …and it was made for the sandbox's stack, not this one.
        'Deployment "churn-model": promotion evidence binds target.stack acme/churn-model-sandbox/production, ' +
          "but the stack being updated is <org>/churn-model-cd/production",
      ]);
    });

    it("is not the key staging and production trust", () => {
      const demoPublic = crypto.createPublicKey(demo).export({ type: "spki", format: "pem" }).toString();
      expect(evidenceConfig("sandbox-production").publicKey).to.equal(demoPublic);
      expect(evidenceConfig("sandbox-staging").publicKey).to.equal(demoPublic);
      expect(evidenceConfig("production").publicKey).to.not.equal(demoPublic);
      expect(evidenceConfig("staging").publicKey).to.not.equal(demoPublic);
    });
  });
});
