import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { SANDBOX_KEY_FINGERPRINTS } from "../../policy/contract";
import { EVIDENCE_ANNOTATION } from "../../scripts/promotion/evidence";
import { promotionEvidence } from "../../policy/policies/promotion-evidence";
import {
  deployment,
  DEPLOYMENT,
  EVIDENCE_CONFIG,
  evidenceFor,
  evidenceRecord,
  hoursAgo,
  imageOf,
  KEYS,
  OTHER_KEYS,
  REGISTRY,
  rollbackEvidenceFor,
  THRESHOLDS,
} from "./fixtures";
import { Outcome, runResourcePolicy, UNKNOWN, withValue } from "./helper";

const SUBJECT = 'Deployment "churn-model"';
const ANNOTATION_PATH = ["metadata", "annotations", EVIDENCE_ANNOTATION];
const IMAGE_PATH = ["spec", "template", "spec", "containers", 0, "image"];

function run(
  props: Record<string, unknown>,
  config: Record<string, unknown> = EVIDENCE_CONFIG,
  type = DEPLOYMENT,
) {
  return runResourcePolicy(promotionEvidence, { type, props, name: "production-deployment" }, config);
}

function expectOnly(outcome: Outcome, message: string): void {
  expect(outcome.unknownAtPreview).to.equal(undefined);
  expect(outcome.violations).to.deep.equal([message]);
}

describe("policy promotion-evidence", () => {
  it("passes a production Deployment with valid evidence for the version it runs", async () => {
    const outcome = await run(deployment());
    expect(outcome).to.deep.equal({ violations: [], urns: [] });
  });

  it("passes a staging Deployment without any evidence", async () => {
    const outcome = await run(deployment({ environment: "staging", evidence: null }));
    expect(outcome.violations).to.deep.equal([]);
  });

  it("applies its configSchema defaults: the thresholds of docs/design.md", async () => {
    const weak = evidenceFor("1.2.0", { measured: { ...evidenceRecord("1.2.0").measured, uptime: 0.998 } });
    const outcome = await run(deployment({ evidence: weak }), { publicKey: KEYS.publicKeyPem });
    expectOnly(
      outcome,
      `${SUBJECT}: promotion evidence reports uptime 0.998, below the minimum 0.999 (minUptime)`,
    );
  });

  it("holds a staging-labelled Deployment in production's namespace to production: no evidence, refused", async () => {
    const props = deployment({ environment: "staging", evidence: null });
    (props.metadata as Record<string, unknown>).namespace = "production";
    expectOnly(
      await run(props),
      `${SUBJECT} runs in production without promotion evidence: the annotation ${EVIDENCE_ANNOTATION} ` +
        "must hold the signed evidence the promotion wrote",
    );
  });

  it("never trusts the sandbox's demo key outside the sandbox project, even with evidence it signed", async () => {
    const demo = fs.readFileSync(
      path.join(__dirname, "..", "..", "scripts", "sandbox", "demo-evidence-key.pem"),
      "utf8",
    );
    const demoPublic = crypto.createPublicKey(demo).export({ type: "spki", format: "pem" }).toString();
    const outcome = await run(deployment({ evidence: evidenceFor("1.2.0", {}, demo) }), {
      ...EVIDENCE_CONFIG,
      publicKey: demoPublic,
    });
    expectOnly(
      outcome,
      `${SUBJECT}: the policy config's evidence key is the sandbox's demo key (fingerprint ` +
        `${SANDBOX_KEY_FINGERPRINTS[0]}), whose private half is public: production of project churn-model-cd ` +
        "never trusts it (only stacks of project churn-model-sandbox do)",
    );
  });

  it("never trusts the sandbox's demo approver key outside the sandbox project", async () => {
    const demo = fs.readFileSync(
      path.join(__dirname, "..", "..", "scripts", "sandbox", "demo-approver-key.pem"),
      "utf8",
    );
    const demoPublic = crypto.createPublicKey(demo).export({ type: "spki", format: "pem" }).toString();
    const outcome = await run(deployment({ evidence: evidenceFor("1.2.0") }), {
      ...EVIDENCE_CONFIG,
      approvers: { "demo-approver": demoPublic },
    });
    expectOnly(
      outcome,
      `${SUBJECT}: the policy config lists approver demo-approver with the sandbox's demo approver key, whose ` +
        "private half is public: production of project churn-model-cd never trusts it (only stacks of project " +
        "churn-model-sandbox do)",
    );
  });

  it("refuses a production Deployment without evidence", async () => {
    expectOnly(
      await run(deployment({ evidence: null })),
      `${SUBJECT} runs in production without promotion evidence: the annotation ${EVIDENCE_ANNOTATION} ` +
        "must hold the signed evidence the promotion wrote",
    );
  });

  it("refuses evidence with one changed byte", async () => {
    const tampered = evidenceFor("1.2.0").replace('"accuracy":0.91', '"accuracy":0.99');
    expectOnly(
      await run(deployment({ evidence: tampered })),
      `${SUBJECT}: promotion evidence carries a signature that does not verify under the configured public key`,
    );
  });

  it("refuses expired evidence", async () => {
    const createdAt = hoursAgo(73);
    expectOnly(
      await run(deployment({ evidence: evidenceFor("1.2.0", { createdAt }) })),
      `${SUBJECT}: promotion evidence was created at ${createdAt}, 73.0 hours ago, older than the maximum ` +
        "72 hours (maxEvidenceAgeHours)",
    );
  });

  it("refuses evidence whose metrics miss a threshold", async () => {
    const measured = { ...evidenceRecord("1.2.0").measured, latencyP99Ms: 300 };
    expectOnly(
      await run(deployment({ evidence: evidenceFor("1.2.0", { measured }) })),
      `${SUBJECT}: promotion evidence reports p99 latency 300 ms, above the maximum 250 ms (maxLatencyP99Ms)`,
    );
  });

  it("judges by its own config, not by the thresholds written in the evidence", async () => {
    const outcome = await run(deployment(), { ...EVIDENCE_CONFIG, minAccuracy: 0.95 });
    const lower = evidenceRecord("1.2.0").analysis!.bounds.accuracy[0];
    expect(outcome.violations).to.deep.equal([
      `${SUBJECT}: promotion evidence reports accuracy 0.91, below the minimum 0.95 (minAccuracy)`,
      `${SUBJECT}: promotion evidence: accuracy's lower bound ${lower} is below the minimum 0.95`,
    ]);
  });

  it("refuses evidence for another version than the image runs", async () => {
    expectOnly(
      await run(deployment({ version: "1.3.0", evidence: evidenceFor("1.2.0") })),
      `${SUBJECT}: promotion evidence names version 1.2.0 but the container image runs 1.3.0`,
    );
  });

  it("refuses unsigned evidence", async () => {
    const unsigned = JSON.stringify({ record: evidenceRecord("1.2.0") });
    expectOnly(
      await run(deployment({ evidence: unsigned })),
      `${SUBJECT}: promotion evidence is malformed: evidence.signature must be the base64 encoding of a ` +
        "64-byte Ed25519 signature",
    );
  });

  it("refuses evidence signed with a key other than the configured one", async () => {
    expectOnly(
      await run(deployment({ evidence: evidenceFor("1.2.0", {}, OTHER_KEYS.privateKeyPem) })),
      `${SUBJECT}: promotion evidence carries a signature that does not verify under the configured public key`,
    );
  });

  it("refuses everything when no public key is configured", async () => {
    expectOnly(
      await run(deployment(), { ...THRESHOLDS }),
      `${SUBJECT}: no evidence verification key is configured (an Ed25519 public key in SPKI PEM), so no ` +
        "evidence can be verified",
    );
  });

  it("refuses everything when a threshold in its config is invalid", async () => {
    expectOnly(
      await run(deployment(), { ...EVIDENCE_CONFIG, minAccuracy: "high" }),
      `${SUBJECT}: no promotion evidence can pass: the policy config: "promotion-evidence": minAccuracy must ` +
        'be a finite number ≥ 0 (got "high")',
    );
  });

  it("refuses an annotation that is not a string", async () => {
    expectOnly(
      await run(withValue(deployment(), ANNOTATION_PATH, { record: {} })),
      `${SUBJECT}: the annotation ${EVIDENCE_ANNOTATION} must be a string holding the signed evidence`,
    );
  });

  it("passes a valid rollback to a version production ran before", async () => {
    const outcome = await run(deployment({ version: "1.1.0", evidence: rollbackEvidenceFor("1.1.0") }));
    expect(outcome.violations).to.deep.equal([]);
  });

  it("refuses a rollback to a version never promoted", async () => {
    expectOnly(
      await run(deployment({ version: "1.1.0", evidence: rollbackEvidenceFor("1.1.0", "1.0.0") })),
      `${SUBJECT}: the earlier promotion evidence in the rollback names version 1.0.0 but the container image ` +
        "runs 1.1.0",
    );
  });

  it("matches a digest-pinned image by its digest", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const outcome = await run(deployment({ version: digest }));
    expect(outcome.violations).to.deep.equal([]);
  });

  it("refuses tag evidence for a digest-pinned image", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    expectOnly(
      await run(deployment({ version: digest, evidence: evidenceFor("1.2.0") })),
      `${SUBJECT}: promotion evidence names version 1.2.0 but the container image runs ${digest}`,
    );
  });

  it("refuses a churn-model image without a tag or digest", async () => {
    const image = `${REGISTRY}/churn-model`;
    expectOnly(
      await run(deployment({ image })),
      `container "churn-model" in ${SUBJECT} runs ${image}, which names no version (a tag or a digest)`,
    );
  });

  it("holds a renamed, unlabelled Deployment to the rules while it runs the churn-model image", async () => {
    let props = withValue(deployment({ evidence: null }), ["metadata", "name"], "scorer");
    props = withValue(props, ["metadata", "labels"], {});
    props = withValue(props, ["spec", "template", "metadata", "labels"], { app: "scorer" });
    expectOnly(
      await run(props),
      `Deployment "scorer" runs in production without promotion evidence: the annotation ${EVIDENCE_ANNOTATION} ` +
        "must hold the signed evidence the promotion wrote",
    );
  });

  it("treats a churn-model Deployment without an environment label as production", async () => {
    const props = withValue(
      deployment({ evidence: null }),
      ["metadata", "labels", "churn-model/environment"],
      undefined,
    );
    expectOnly(
      await run(props),
      `${SUBJECT} runs in production without promotion evidence: the annotation ${EVIDENCE_ANNOTATION} ` +
        "must hold the signed evidence the promotion wrote",
    );
  });

  it("holds any workload kind running the churn-model image to the rules", async () => {
    const statefulSet = withValue(deployment({ evidence: null }), ["kind"], "StatefulSet");
    expectOnly(
      await run(statefulSet, EVIDENCE_CONFIG, "kubernetes:apps/v1:StatefulSet"),
      `StatefulSet "churn-model" runs in production without promotion evidence: the annotation ` +
        `${EVIDENCE_ANNOTATION} must hold the signed evidence the promotion wrote`,
    );
  });

  it("passes another service's Deployment in production without evidence", async () => {
    let props = withValue(deployment({ evidence: null }), ["metadata", "name"], "feature-store");
    props = withValue(props, ["metadata", "labels"], { "app.kubernetes.io/name": "feature-store" });
    props = withValue(props, ["spec", "template", "metadata", "labels"], {});
    props = withValue(props, IMAGE_PATH, `${REGISTRY}/feature-store:2.0.0`);
    expect((await run(props)).violations).to.deep.equal([]);
  });

  it("passes resources that are not workloads", async () => {
    const outcome = await runResourcePolicy(
      promotionEvidence,
      { type: "kubernetes:core/v1:Service", props: { metadata: { name: "churn-model" } } },
      EVIDENCE_CONFIG,
    );
    expect(outcome).to.deep.equal({ violations: [], urns: [] });
  });

  describe("with values unknown at preview", () => {
    it("refuses evidence that is unknown, as a violation rather than an advisory note", async () => {
      expectOnly(
        await run(withValue(deployment(), ANNOTATION_PATH, UNKNOWN)),
        `${SUBJECT}: promotion evidence could not be verified because ` +
          `metadata.annotations.${EVIDENCE_ANNOTATION} is unknown at preview; a production version must be ` +
          "provable before the update runs",
      );
    });

    it("refuses an image that is unknown", async () => {
      let props = withValue(deployment(), IMAGE_PATH, UNKNOWN);
      props = withValue(props, ["metadata", "name"], "scorer");
      props = withValue(props, ["metadata", "labels", "app.kubernetes.io/name"], "scorer");
      props = withValue(
        props,
        ["spec", "template", "metadata", "labels", "app.kubernetes.io/name"],
        "scorer",
      );
      expectOnly(
        await run(props),
        'Deployment "scorer": promotion evidence could not be verified because ' +
          "spec.template.spec.containers[0].image is unknown at preview; a production version must be " +
          "provable before the update runs",
      );
    });

    it("refuses the churn-model image when it is unknown even though the Deployment is named churn-model", async () => {
      expectOnly(
        await run(withValue(deployment(), IMAGE_PATH, UNKNOWN)),
        `${SUBJECT}: promotion evidence could not be verified because spec.template.spec.containers[0].image ` +
          "is unknown at preview; a production version must be provable before the update runs",
      );
    });

    it("refuses a churn-model Deployment whose environment label is unknown (outside production's namespace)", async () => {
      const props = deployment();
      (props.metadata as Record<string, unknown>).namespace = "ml";
      expectOnly(
        await run(withValue(props, ["metadata", "labels", "churn-model/environment"], UNKNOWN)),
        `${SUBJECT}: promotion evidence could not be verified because ` +
          "metadata.labels.churn-model/environment is unknown at preview; a production version must be " +
          "provable before the update runs",
      );
    });

    it("passes a staging Deployment whose image is unknown", async () => {
      const props = withValue(deployment({ environment: "staging", evidence: null }), IMAGE_PATH, UNKNOWN);
      expect(await run(props)).to.deep.equal({ violations: [], urns: [] });
    });

    it("passes another service's Deployment whose environment label is unknown", async () => {
      let props = withValue(deployment({ evidence: null }), ["metadata", "name"], "feature-store");
      props = withValue(props, ["metadata", "labels"], {
        "app.kubernetes.io/name": "feature-store",
        "churn-model/environment": UNKNOWN,
      });
      props = withValue(props, ["spec", "template", "metadata", "labels"], {});
      props = withValue(props, IMAGE_PATH, imageOf("2.0.0").replace("churn-model", "feature-store"));
      expect(await run(props)).to.deep.equal({ violations: [], urns: [] });
    });
  });
});
