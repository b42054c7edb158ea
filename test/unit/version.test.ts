import { expect } from "chai";
import {
  imageFor,
  imageRunsVersion,
  imageTag,
  modelVersionProblem,
  versionLabel,
  versionOfLabel,
  versionOfTag,
} from "../../policy/contract";
import { artifactImage } from "../../policy/contract/artifact";

const DIGEST_A = `sha256:${"ab".repeat(32)}`;
const DIGEST_B = `sha256:${"0f".repeat(31)}ff`;
/** Versions that differ only where a mapping could fold them together. */
const VERSIONS = [
  "1.4.2",
  "1.4.2-rc.1",
  "1.4.2-rc-1",
  "1.4.2-RC.1",
  "1.4.2+b7",
  "1.4.2+b.7",
  "1.4.2-rc.1+build.7",
  "1.4.2-rc.1+build-7",
  "1.4.20",
  "0.0.0+0",
  DIGEST_A,
  DIGEST_B,
];
// A Kubernetes label value and a Docker image tag, as the API server and registries accept them.
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/;
const REPO = "registry.internal.example.com/ml/churn-model";

describe("model versions: one injective mapping to label values and image references (policy/contract/version.ts)", function () {
  it("takes every test version as a valid model version", function () {
    expect(VERSIONS.filter((v) => modelVersionProblem(v) !== undefined)).to.deep.equal([]);
  });

  it("maps each version to a valid label value that names it alone", function () {
    const labels = VERSIONS.map(versionLabel);
    expect(new Set(labels).size, labels.join(" ")).to.equal(VERSIONS.length);
    for (const [i, label] of labels.entries()) {
      expect(label.length, label).to.be.at.most(63);
      expect(label, VERSIONS[i]).to.match(LABEL_VALUE);
      expect(versionOfLabel(label)).to.equal(VERSIONS[i]);
    }
    expect(versionLabel("1.4.2+b7")).to.equal("1.4.2_b7");
    expect(versionLabel(DIGEST_A)).to.equal(
      `sha256_${Buffer.from("ab".repeat(32), "hex").toString("base64url")}`,
    );
  });

  it("reads no version from a label value no version maps to", function () {
    for (const label of ["1.4.2+b7", "sha256_AB", `sha256_${"A".repeat(43)}=`, "latest", "1.4"]) {
      expect(versionOfLabel(label), label).to.equal(undefined);
    }
  });

  it("maps each version to an image reference that runs it and no other version", function () {
    const images = VERSIONS.map((v) => imageFor(REPO, v));
    expect(new Set(images).size).to.equal(VERSIONS.length);
    for (const [i, v] of VERSIONS.entries()) {
      for (const [j, w] of VERSIONS.entries()) {
        expect(imageRunsVersion(images[i], w), `${images[i]} runs ${w}`).to.equal(i === j);
      }
      if (!v.startsWith("sha256:")) {
        expect(imageTag(v), v).to.match(IMAGE_TAG);
        expect(versionOfTag(imageTag(v))).to.equal(v);
      }
    }
    expect(imageFor(REPO, "1.4.2+b7")).to.equal(`${REPO}:1.4.2_b7`);
    expect(versionOfTag("1.4.2+b7"), "+ is no tag character").to.equal(undefined);
  });

  it("keeps the mapping when production pins the image by its digest", function () {
    const artifact = {
      registry: "registry.internal.example.com",
      repository: "ml/churn-model",
      digest: DIGEST_B,
    };
    for (const v of VERSIONS.filter((x) => !x.startsWith("sha256:"))) {
      const pinned = artifactImage(artifact, v);
      expect(pinned).to.equal(`${REPO}:${imageTag(v)}@${DIGEST_B}`);
      expect(VERSIONS.filter((w) => imageRunsVersion(pinned, w))).to.deep.equal([v]);
    }
    const byDigest = artifactImage({ ...artifact, digest: DIGEST_A }, DIGEST_A);
    expect(byDigest).to.equal(`${REPO}@${DIGEST_A}`);
    expect(VERSIONS.filter((w) => imageRunsVersion(byDigest, w))).to.deep.equal([DIGEST_A]);
  });
});
