import { expect } from "chai";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";
import {
  deployment,
  DEPLOYMENT,
  EVIDENCE_CONFIG,
  evidenceFor,
  imageOf,
  pinnedImageOf,
  REGISTRY,
  rollbackEvidenceFor,
} from "./fixtures";
import { runResourcePolicy } from "./helper";

const SUBJECT = 'Deployment "churn-model"';
const DIGEST = sandboxArtifact(imageOf("1.2.0")).digest;
const OTHER_DIGEST = `sha256:${"cd".repeat(32)}`;

function violations(props: Record<string, unknown>): Promise<string[]> {
  return runResourcePolicy(
    promotionEvidence,
    { type: DEPLOYMENT, props, name: "production-deployment" },
    EVIDENCE_CONFIG,
  ).then((o) => o.violations);
}

describe("policy promotion-evidence: the image is the artifact the evidence binds", () => {
  it("passes production's image pinned by the evidence's digest (the control case)", async () => {
    expect(pinnedImageOf("1.2.0")).to.equal(`${REGISTRY}/churn-model:1.2.0@${DIGEST}`);
    expect(await violations(deployment())).to.deep.equal([]);
  });

  it("refuses valid evidence with the image of another account's registry, naming the registry", async () => {
    const image = `999999999999.dkr.ecr.eu-west-1.amazonaws.com/ml/churn-model:1.2.0@${DIGEST}`;
    expect(await violations(deployment({ image }))).to.deep.equal([
      `${SUBJECT}: promotion evidence binds registry registry.internal.example.com, but the image ${image} comes from 999999999999.dkr.ecr.eu-west-1.amazonaws.com`,
    ]);
  });

  it("refuses another repository of the same registry, naming the repository", async () => {
    const image = `registry.internal.example.com/other/churn-model:1.2.0@${DIGEST}`;
    expect(await violations(deployment({ image }))).to.deep.equal([
      `${SUBJECT}: promotion evidence binds repository ml/churn-model, but the image ${image} names other/churn-model`,
    ]);
  });

  it("refuses the version's tag behind another digest or without one, naming the digest", async () => {
    const other = `${REGISTRY}/churn-model:1.2.0@${OTHER_DIGEST}`;
    expect(await violations(deployment({ image: other }))).to.deep.equal([
      `${SUBJECT}: promotion evidence binds digest ${DIGEST}, but the image ${other} runs ${OTHER_DIGEST}`,
    ]);
    const tagOnly = imageOf("1.2.0");
    expect(await violations(deployment({ image: tagOnly }))).to.deep.equal([
      `${SUBJECT}: promotion evidence binds digest ${DIGEST}, but the image ${tagOnly} is not pinned by a digest (production runs the digest staging ran)`,
    ]);
  });

  it("refuses evidence whose artifact is another digest than the image's, though the image names its version", async () => {
    const evidence = evidenceFor("1.2.0", {
      artifact: { ...sandboxArtifact(imageOf("1.2.0")), digest: OTHER_DIGEST },
    });
    expect(await violations(deployment({ evidence }))).to.deep.equal([
      `${SUBJECT}: promotion evidence binds digest ${OTHER_DIGEST}, but the image ${pinnedImageOf("1.2.0")} runs ${DIGEST}`,
    ]);
  });

  it("passes a rollback run by its promotion's digest", async () => {
    expect(
      await violations(deployment({ version: "1.1.0", evidence: rollbackEvidenceFor("1.1.0") })),
    ).to.deep.equal([]);
  });
});
