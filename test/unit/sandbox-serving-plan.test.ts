import { expect } from "chai";
import {
  Action,
  DesiredService,
  imageVersion,
  planActions,
  servedVersion,
} from "../../scripts/sandbox/serving-plan";
import { sandboxArtifact, sandboxModel } from "../../scripts/sandbox/artifact";
import { deployment, replicaSet } from "../helpers/kube-objects";

describe("sandbox controller: image versions", () => {
  const cases: [string, { name: string; version: string } | undefined][] = [
    ["registry.local:5000/ml/churn-model:1.2.0", { name: "churn-model", version: "1.2.0" }],
    ["churn-model:1.0.0@sha256:abcd", { name: "churn-model", version: "1.0.0" }],
    ["localhost:5000/churn-model", undefined],
    ["churn-model@sha256:abcd", undefined],
    ["churn-model:", undefined],
    // A tag holds a build as `_` (a tag cannot hold `+`); a digest alone is the digest version.
    ["localhost:5000/ml/churn-model:1.1.0_b7", { name: "churn-model", version: "1.1.0+b7" }],
    ["localhost:5000/ml/churn-model:1.1.0-rc.1", { name: "churn-model", version: "1.1.0-rc.1" }],
    [
      `localhost:5000/ml/churn-model@sha256:${"c".repeat(64)}`,
      { name: "churn-model", version: `sha256:${"c".repeat(64)}` },
    ],
    [
      `localhost:5000/ml/churn-model:1.1.0@sha256:${"c".repeat(64)}`,
      { name: "churn-model", version: "1.1.0" },
    ],
  ];
  for (const [image, expected] of cases) {
    it(`reads ${JSON.stringify(expected?.version)} from ${image}`, () => {
      expect(imageVersion(image)).to.deep.equal(expected);
    });
  }
});

describe("sandbox controller: served version", () => {
  const d = deployment("staging", "churn-model", "1.1.0");

  it("serves nothing without ready replicas", () => {
    expect(servedVersion(deployment("staging", "churn-model", "1.1.0", { ready: 0 }), [])).to.deep.equal({
      reason: "no ready replicas",
    });
  });

  it("serves the newest ReplicaSet that has a ready replica", () => {
    expect(servedVersion(d, [replicaSet(d, 1, "1.0.0", 1), replicaSet(d, 2, "1.1.0", 1)])).to.deep.equal({
      version: "1.1.0",
      image: `registry.local/churn-model:1.1.0`,
    });
  });

  it("keeps the old version while the new ReplicaSet has no ready pod", () => {
    const rolling = deployment("staging", "churn-model", "1.1.0", {
      replicas: 2,
      updated: 1,
      ready: 1,
      generation: 2,
    });
    expect(
      servedVersion(rolling, [replicaSet(d, 1, "1.0.0", 1), replicaSet(d, 2, "1.1.0", 0)]),
    ).to.deep.equal({
      version: "1.0.0",
      image: `registry.local/churn-model:1.0.0`,
    });
  });

  it("ignores ReplicaSets another Deployment owns", () => {
    const other = deployment("staging", "other", "1.3.0");
    expect(servedVersion(d, [replicaSet(other, 9, "1.3.0", 1), replicaSet(d, 1, "1.1.0", 1)])).to.deep.equal({
      version: "1.1.0",
      image: `registry.local/churn-model:1.1.0`,
    });
  });

  it("falls back to the template of a fully rolled-out Deployment when no ReplicaSet is listed", () => {
    expect(servedVersion(d, [])).to.deep.equal({
      version: "1.1.0",
      image: "registry.local:5000/ml/churn-model:1.1.0",
    });
    const rolling = deployment("staging", "churn-model", "1.1.0", { generation: 3, observedGeneration: 2 });
    expect(servedVersion(rolling, [])).to.deep.equal({
      reason: "rollout in progress and no ready ReplicaSet found",
    });
  });

  it("says so when the image has no version tag", () => {
    const untagged = deployment("staging", "churn-model", "x", { image: "churn-model@sha256:ab" });
    expect(servedVersion(untagged, [])).to.deep.equal({
      reason: "no container image of the form …/churn-model:<version> or …/churn-model@sha256:<digest>",
    });
  });
});

describe("sandbox controller: plan", () => {
  const want = (ns: string, version: string, readyReplicas = 1): DesiredService => ({
    key: `${ns}/churn-model`,
    namespace: ns,
    deployment: "churn-model",
    version,
    readyReplicas,
  });
  const cases: {
    name: string;
    desired: DesiredService[];
    running: { key: string; version: string }[];
    failed?: [string, string][];
    actions: Action[];
  }[] = [
    {
      name: "does nothing when running matches desired",
      desired: [want("staging", "1.0.0")],
      running: [{ key: "staging/churn-model", version: "1.0.0" }],
      actions: [],
    },
    {
      name: "does nothing when only the ready replicas changed (the proxy's weights follow)",
      desired: [want("production", "1.0.0", 7)],
      running: [{ key: "production/churn-model", version: "1.0.0" }],
      actions: [],
    },
    {
      name: "starts a desired service that does not run",
      desired: [want("staging", "1.0.0")],
      running: [],
      actions: [{ kind: "start", desired: want("staging", "1.0.0") }],
    },
    {
      name: "swaps a service whose version changed",
      desired: [want("staging", "1.1.0")],
      running: [{ key: "staging/churn-model", version: "1.0.0" }],
      actions: [{ kind: "swap", desired: want("staging", "1.1.0"), from: "1.0.0" }],
    },
    {
      name: "stops a service that is no longer desired",
      desired: [],
      running: [{ key: "production/churn-model", version: "1.0.0" }],
      actions: [
        {
          kind: "stop",
          key: "production/churn-model",
          reason: "no ready replicas or the Deployment is gone",
        },
      ],
    },
    {
      name: "does not retry a version that failed to start",
      desired: [want("staging", "9.0.0")],
      running: [],
      failed: [["staging/churn-model", "9.0.0"]],
      actions: [],
    },
    {
      name: "keeps the running version when the new one failed to start",
      desired: [want("staging", "9.0.0")],
      running: [{ key: "staging/churn-model", version: "1.0.0" }],
      failed: [["staging/churn-model", "9.0.0"]],
      actions: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(planActions(c.desired, c.running, new Map(c.failed ?? []))).to.deep.equal(c.actions);
    });
  }
});

describe("sandbox registry: the model an image holds", () => {
  const catalog = ["1.0.0", "1.1.0", "1.4.0"];
  const digestOf = (v: string) => sandboxArtifact(`localhost:5000/ml/churn-model:${v}`).digest;
  const cases: [string, string, string | undefined][] = [
    ["localhost:5000/ml/churn-model:1.1.0", "1.1.0", "1.1.0"],
    ["localhost:5000/ml/churn-model:1.1.0_b7", "1.1.0+b7", "1.1.0"],
    ["localhost:5000/ml/churn-model:1.4.0-rc.1", "1.4.0-rc.1", "1.4.0"],
    ["localhost:5000/ml/churn-model:2.0.0", "2.0.0", undefined],
    [`localhost:5000/ml/churn-model@${digestOf("1.4.0")}`, digestOf("1.4.0"), "1.4.0"],
    // The same digest under another repository is another artifact: nothing the sandbox holds.
    [`localhost:5000/other/churn-model@${digestOf("1.4.0")}`, digestOf("1.4.0"), undefined],
    [`localhost:5000/ml/churn-model@sha256:${"0".repeat(64)}`, `sha256:${"0".repeat(64)}`, undefined],
  ];
  for (const [image, version, model] of cases) {
    it(`${image} (${version}) serves ${model ?? "nothing"}`, () => {
      expect(sandboxModel(image, version, catalog)).to.equal(model);
    });
  }
});
