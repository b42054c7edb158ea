import { expect } from "chai";
import { ConfigError, readStackConfig } from "../../stacks/config";
import { source, stackConfigMap } from "../helpers/stack-config";

function production(canary?: unknown) {
  const map = stackConfigMap("production");
  if (canary !== undefined) map.set("canary", JSON.stringify(canary));
  return readStackConfig(source(map));
}

function refusal(canary: unknown, stack = "production"): string {
  const map = stackConfigMap(stack);
  map.set("canary", JSON.stringify(canary));
  try {
    readStackConfig(source(map));
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected the canary config to be refused");
}

describe("stack config: churn-model:canary", () => {
  it("is absent from the config when the stack declares no canary", () => {
    expect(production()).to.not.have.property("canary");
  });

  it("reads a weighted canary with its evidence", () => {
    expect(production({ version: "1.1.0", weight: 10, promotionEvidence: "{}" }).canary).to.deep.equal({
      version: "1.1.0",
      size: { weight: 10 },
      promotionEvidence: "{}",
    });
  });

  it("reads a canary of an explicit replica count", () => {
    expect(production({ version: "sha256:" + "a".repeat(64), replicas: 2 }).canary?.size).to.deep.equal({
      replicas: 2,
    });
  });

  it("refuses a canary in staging", () => {
    expect(refusal({ version: "1.2.0", weight: 10 }, "staging")).to.contain(
      "churn-model:canary belongs to production only (this stack is staging)",
    );
  });

  it("refuses a canary of the stable's own version", () => {
    expect(refusal({ version: "1.0.0", weight: 10 })).to.contain(
      "churn-model:canary.version (1.0.0) must differ from churn-model:modelVersion",
    );
  });

  it("refuses a canary version outside the version grammar", () => {
    expect(refusal({ version: "latest", weight: 10 })).to.contain(
      "churn-model:canary.version must be a pinned version",
    );
    expect(refusal({ weight: 10 })).to.contain("churn-model:canary.version is required");
  });

  it("needs exactly one of weight and replicas", () => {
    const both = "churn-model:canary needs exactly one of weight (a percentage 1–99) and replicas (1–100)";
    expect(refusal({ version: "1.1.0" })).to.contain(both);
    expect(refusal({ version: "1.1.0", weight: 10, replicas: 1 })).to.contain(both);
  });

  it("refuses a weight outside 1–99 and a replica count outside 1–100, naming the key", () => {
    expect(refusal({ version: "1.1.0", weight: 100 })).to.contain(
      "churn-model:canary.weight must be an integer percentage from 1 to 99 (got 100)",
    );
    expect(refusal({ version: "1.1.0", weight: 2.5 })).to.contain("churn-model:canary.weight must be");
    expect(refusal({ version: "1.1.0", replicas: 0 })).to.contain(
      "churn-model:canary.replicas must be an integer from 1 to 100 (got 0)",
    );
  });

  it("refuses unknown canary keys and evidence that is not a string", () => {
    expect(refusal({ version: "1.1.0", weight: 10, image: "x" })).to.contain(
      "churn-model:canary.image is not a canary setting",
    );
    expect(refusal({ version: "1.1.0", weight: 10, promotionEvidence: { a: 1 } })).to.contain(
      "churn-model:canary.promotionEvidence must be the signed evidence as a JSON string",
    );
  });

  it("refuses a canary that is not an object", () => {
    const map = stackConfigMap("production");
    map.set("canary", "1.1.0");
    expect(() => readStackConfig(source(map))).to.throw(
      ConfigError,
      'churn-model:canary must be an object (got "1.1.0")',
    );
  });
});
