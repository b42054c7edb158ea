import { TEST_TARGET } from "../fixtures/evidence-records";
import { expect } from "chai";
import { EvidenceRecord, pinnedImage, SignedEvidence, verifyEvidence } from "../../policy/contract";
import { generateEvidenceKeyPair, signEvidence } from "../../scripts/promotion/evidence";
import { BadInput } from "../../scripts/promotion/errors";
import { parseStagingOutputs } from "../../scripts/promotion/outputs";
import { rollbackRecord } from "../../scripts/promotion/record";
import { artifactOfPods, PodFacts } from "../../stacks/staged-artifact";
import { handMadePromotionRecord } from "../fixtures/evidence-records";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";

const NOW = new Date("2026-06-01T12:00:00Z");
const keys = generateEvidenceKeyPair();
const REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const OTHER_REGISTRY = "999999999999.dkr.ecr.eu-west-1.amazonaws.com";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const OTHER_DIGEST = `sha256:${"cd".repeat(32)}`;
const ARTIFACT = { registry: REGISTRY, repository: "ml/churn-model", digest: DIGEST };
const IMAGE = `${REGISTRY}/ml/churn-model:1.1.0@${DIGEST}`;

function promotion(version = "1.1.0", artifact = ARTIFACT): SignedEvidence {
  const record: EvidenceRecord = {
    ...handMadePromotionRecord({
      version,
      thresholds: DESIGN_THRESHOLDS,
      hours: 30,
      requests: 100_000,
      approver: "alice",
      now: new Date(NOW.getTime() - 60_000),
    }),
    artifact,
  };
  return signEvidence(record, keys.privateKeyPem);
}

function verify(evidence: SignedEvidence, image: string, imageVersion = "1.1.0"): string[] {
  return verifyEvidence(evidence, {
    publicKeyPem: keys.publicKeyPem,
    thresholds: DESIGN_THRESHOLDS,
    imageVersion,
    image,
    now: NOW,
  });
}

describe("evidence binds the artifact staging ran (verifyEvidence)", function () {
  it("passes the image of the evidence's registry, repository and digest (the control case)", function () {
    expect(verify(promotion(), IMAGE)).to.deep.equal([]);
  });

  it("refuses the same valid evidence for an image from another account's registry, naming the registry", function () {
    const swapped = `${OTHER_REGISTRY}/ml/churn-model:1.1.0@${DIGEST}`;
    expect(verify(promotion(), swapped)).to.deep.equal([
      `promotion evidence binds registry ${REGISTRY}, but the image ${swapped} comes from ${OTHER_REGISTRY}`,
    ]);
  });

  it("refuses another repository in the same registry, naming the repository", function () {
    const swapped = `${REGISTRY}/attacker/churn-model:1.1.0@${DIGEST}`;
    expect(verify(promotion(), swapped)).to.deep.equal([
      `promotion evidence binds repository ml/churn-model, but the image ${swapped} names attacker/churn-model`,
    ]);
  });

  it("refuses another digest behind the same tag, and a tag without a digest (a tag pushed again)", function () {
    const other = `${REGISTRY}/ml/churn-model:1.1.0@${OTHER_DIGEST}`;
    expect(verify(promotion(), other)).to.deep.equal([
      `promotion evidence binds digest ${DIGEST}, but the image ${other} runs ${OTHER_DIGEST}`,
    ]);
    const tagOnly = `${REGISTRY}/ml/churn-model:1.1.0`;
    expect(verify(promotion(), tagOnly)).to.deep.equal([
      `promotion evidence binds digest ${DIGEST}, but the image ${tagOnly} is not pinned by a digest (production runs the digest staging ran)`,
    ]);
  });

  it("refuses a digest version whose evidence binds another digest", function () {
    const evidence = promotion(OTHER_DIGEST, ARTIFACT);
    const image = `${REGISTRY}/ml/churn-model@${OTHER_DIGEST}`;
    expect(verify(evidence, image, OTHER_DIGEST)).to.deep.equal([
      `promotion evidence names digest version ${OTHER_DIGEST} but binds digest ${DIGEST}`,
      `promotion evidence binds digest ${DIGEST}, but the image ${image} runs ${OTHER_DIGEST}`,
    ]);
    const own = promotion(OTHER_DIGEST, { ...ARTIFACT, digest: OTHER_DIGEST });
    expect(verify(own, image, OTHER_DIGEST)).to.deep.equal([]);
  });

  it("keeps the digest through a rollback, and refuses a rollback bound to another artifact", function () {
    const earlier = promotion();
    const rollback = rollbackRecord(earlier, "promotion-runner", NOW, TEST_TARGET);
    expect(rollback.artifact).to.deep.equal(ARTIFACT);
    expect(verify(signEvidence(rollback, keys.privateKeyPem), IMAGE)).to.deep.equal([]);
    const moved = signEvidence(
      { ...rollback, artifact: { ...ARTIFACT, digest: OTHER_DIGEST } },
      keys.privateKeyPem,
    );
    const image = pinnedImage(`${REGISTRY}/ml/churn-model`, "1.1.0", OTHER_DIGEST);
    expect(verify(moved, image)).to.deep.equal([
      `rollback evidence binds ${REGISTRY}/ml/churn-model@${OTHER_DIGEST}, not the artifact of the promotion it returns to (${REGISTRY}/ml/churn-model@${DIGEST})`,
    ]);
  });

  it("refuses a record without its artifact, or with a field the artifact does not have, as malformed", function () {
    // Shape comes first: the signature of the changed record is not even looked at.
    const { artifact: _, ...without } = promotion().record;
    void _;
    expect(verify({ ...promotion(), record: without as EvidenceRecord }, IMAGE)).to.deep.equal([
      "promotion evidence is malformed: evidence.record.artifact must be an object",
    ]);
    const extra = { ...promotion().record, artifact: { ...ARTIFACT, tag: "1.1.0" } };
    expect(verify({ ...promotion(), record: extra }, IMAGE)).to.deep.equal([
      "promotion evidence is malformed: evidence.record.artifact has unknown field tag",
    ]);
  });
});

describe("the artifact staging's pods run (stacks/staged-artifact.ts)", function () {
  const pod = (name: string, imageID: string, labels: Record<string, string> = {}): PodFacts => ({
    metadata: { name, labels: { "app.kubernetes.io/version": "1.1.0", ...labels } },
    status: { containerStatuses: [{ name: "churn-model", imageID }] },
  });
  const id = `${REGISTRY}/ml/churn-model@${DIGEST}`;

  it("reads the one digest the stable pods of the version run, not the canary's or another version's", function () {
    const pods = [
      pod("a", id),
      pod("b", `docker-pullable://${id}`),
      pod("old", `${REGISTRY}/ml/churn-model@${OTHER_DIGEST}`, { "app.kubernetes.io/version": "1.0.0" }),
      pod("canary", `${REGISTRY}/ml/churn-model@${OTHER_DIGEST}`, { "churn-model/track": "canary" }),
    ];
    expect(artifactOfPods(pods, "1.1.0", "churn-model")).to.deep.equal(ARTIFACT);
  });

  it("names none when the pods report no digest, and refuses to choose between two", function () {
    expect(artifactOfPods([], "1.1.0", "churn-model")).to.equal(
      "no running pod of version 1.1.0 reports the image it runs",
    );
    expect(artifactOfPods([pod("a", "")], "1.1.0", "churn-model")).to.equal(
      'pods of version 1.1.0 report no registry and digest in their imageID: a (imageID "")',
    );
    const two = artifactOfPods(
      [pod("a", id), pod("b", `${REGISTRY}/ml/churn-model@${OTHER_DIGEST}`)],
      "1.1.0",
      "churn-model",
    );
    expect(two).to.match(/^pods of version 1\.1\.0 run different images: /);
  });
});

describe("the staging outputs' artifact (scripts/promotion/outputs.ts)", function () {
  const good = {
    modelVersion: "1.1.0",
    image: `${REGISTRY}/ml/churn-model:1.1.0`,
    namespace: "staging",
    deployedAt: "2026-05-30T12:00:00Z",
    serviceUrl: "http://churn-model.staging.svc:8080",
    prometheusUrl: "http://127.0.0.1:9090",
    metricsSelector: { namespace: "staging", version: "1.1.0" },
    artifact: ARTIFACT,
  };
  const refused = (raw: Record<string, unknown>): string => {
    try {
      parseStagingOutputs(raw, "f");
    } catch (err) {
      expect(err).to.be.instanceOf(BadInput);
      return (err as Error).message;
    }
    return "accepted";
  };

  it("carries the artifact the pods report", function () {
    expect(parseStagingOutputs(good, "f").artifact).to.deep.equal(ARTIFACT);
    expect(parseStagingOutputs({ ...good, artifact: null }, "f").artifact).to.equal(undefined);
  });

  it("refuses an artifact of another registry than the staged image's, or a digest version's other digest", function () {
    expect(refused({ ...good, artifact: { ...ARTIFACT, registry: OTHER_REGISTRY } })).to.equal(
      `f: artifact binds registry ${OTHER_REGISTRY}, but the image ${REGISTRY}/ml/churn-model:1.1.0@${DIGEST} comes from ${REGISTRY} (the image staging is configured to run)`,
    );
    expect(
      refused({
        ...good,
        modelVersion: OTHER_DIGEST,
        image: `${REGISTRY}/ml/churn-model@${OTHER_DIGEST}`,
        metricsSelector: {
          namespace: "staging",
          version: `sha256_${Buffer.from("cd".repeat(32), "hex").toString("base64url")}`,
        },
      }),
    ).to.equal(`f: artifact.digest ${DIGEST} is not the staged digest version ${OTHER_DIGEST}`);
    expect(refused({ ...good, artifact: { ...ARTIFACT, digest: "sha256:1" } })).to.match(
      /^f: artifact\.digest must be sha256/,
    );
  });
});
