import { expect } from "chai";
import {
  artifactImage,
  artifactOfImageId,
  artifactProblems,
  artifactShapeProblem,
} from "../../policy/contract/artifact";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const OTHER = `sha256:${"cd".repeat(32)}`;
const ARTIFACT = {
  registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
  repository: "ml/churn-model",
  digest: DIGEST,
};

describe("the artifact evidence binds (policy/contract/artifact.ts)", () => {
  it("reads the artifact from a container status's imageID, bare or with a scheme", () => {
    expect(
      artifactOfImageId(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model@${DIGEST}`),
    ).to.deep.equal(ARTIFACT);
    expect(artifactOfImageId(`docker-pullable://localhost:5000/churn-model@${DIGEST}`)).to.deep.equal({
      registry: "localhost:5000",
      repository: "churn-model",
      digest: DIGEST,
    });
    expect(artifactOfImageId("localhost:5000/churn-model:1.1.0"), "no digest").to.equal(undefined);
    expect(artifactOfImageId(`churn-model@${DIGEST}`), "no registry").to.equal(undefined);
  });

  it("deploys by digest: the tag says the version, the digest is what runs", () => {
    expect(artifactImage(ARTIFACT, "1.1.0+b7")).to.equal(
      `123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model:1.1.0_b7@${DIGEST}`,
    );
    expect(artifactImage(ARTIFACT, DIGEST)).to.equal(
      `123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model@${DIGEST}`,
    );
  });

  it("names the registry, repository or digest that differs from the evidence", () => {
    const label = "promotion evidence";
    expect(artifactProblems(label, ARTIFACT, artifactImage(ARTIFACT, "1.1.0"))).to.deep.equal([]);
    expect(
      artifactProblems(
        label,
        ARTIFACT,
        `999999999999.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model:1.1.0@${DIGEST}`,
      ),
    ).to.deep.equal([
      `promotion evidence binds registry 123456789012.dkr.ecr.eu-west-1.amazonaws.com, but the image 999999999999.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model:1.1.0@${DIGEST} comes from 999999999999.dkr.ecr.eu-west-1.amazonaws.com`,
    ]);
    expect(
      artifactProblems(
        label,
        ARTIFACT,
        `123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model:1.1.0@${OTHER}`,
      ),
    ).to.deep.equal([
      `promotion evidence binds digest ${DIGEST}, but the image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model:1.1.0@${OTHER} runs ${OTHER}`,
    ]);
    expect(
      artifactProblems(
        label,
        ARTIFACT,
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/other/churn-model:1.1.0",
      ),
    ).to.have.length(2);
  });

  it("has a strict shape", () => {
    expect(artifactShapeProblem({ ...ARTIFACT, tag: "1.1.0" }, "record.artifact")).to.equal(
      "record.artifact has unknown field tag",
    );
    expect(artifactShapeProblem({ ...ARTIFACT, digest: "sha256:AB" }, "record.artifact")).to.match(
      /^record\.artifact\.digest must be/,
    );
    expect(artifactShapeProblem({ ...ARTIFACT, registry: "ml" }, "record.artifact")).to.match(
      /^record\.artifact\.registry must be/,
    );
  });
});
