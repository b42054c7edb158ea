import { expect } from "chai";
import { containerProbes } from "../../policy/policies/container-probes";
import { containerResources } from "../../policy/policies/container-resources";
import { containerSecurityContext } from "../../policy/policies/container-security-context";
import { deployment, DEPLOYMENT } from "./fixtures";
import { runResourcePolicy, UNKNOWN, withValue } from "./helper";

const CONTAINER = ["spec", "template", "spec", "containers", 0];
const C = 'container "churn-model" in Deployment "churn-model"';

function changed(path: (string | number)[], value: unknown): Record<string, unknown> {
  return withValue(deployment(), [...CONTAINER, ...path], value);
}

describe("policy container-resources", () => {
  const run = (props: Record<string, unknown>) =>
    runResourcePolicy(containerResources, { type: DEPLOYMENT, props });

  it("passes a container with CPU and memory requests and limits", async () => {
    expect(await run(deployment())).to.deep.equal({ violations: [], urns: [] });
  });

  for (const [section, key] of [
    ["requests", "cpu"],
    ["requests", "memory"],
    ["limits", "cpu"],
    ["limits", "memory"],
  ]) {
    it(`refuses a container without resources.${section}.${key}`, async () => {
      expect((await run(changed(["resources", section, key], undefined))).violations).to.deep.equal([
        `${C} must set resources.${section}.${key}`,
      ]);
    });
  }

  it("refuses a container without any resources, naming each missing value", async () => {
    expect((await run(changed(["resources"], undefined))).violations).to.deep.equal([
      `${C} must set resources.requests.cpu`,
      `${C} must set resources.requests.memory`,
      `${C} must set resources.limits.cpu`,
      `${C} must set resources.limits.memory`,
    ]);
  });

  it("checks init containers", async () => {
    const props = withValue(
      deployment(),
      ["spec", "template", "spec", "initContainers"],
      [
        {
          name: "init",
          image: "x",
          resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1" } },
        },
      ],
    );
    expect((await run(props)).violations).to.deep.equal([
      'init container "init" in Deployment "churn-model" must set resources.limits.memory',
    ]);
  });

  it("leaves an unknown limit to the update, with the engine's advisory note at preview", async () => {
    const outcome = await run(changed(["resources", "limits", "memory"], UNKNOWN));
    expect(outcome.violations).to.deep.equal([]);
    expect(outcome.unknownAtPreview).to.match(/^can't run policy 'container-resources' during preview: /);
  });
});

describe("policy container-probes", () => {
  const run = (props: Record<string, unknown>, type = DEPLOYMENT) =>
    runResourcePolicy(containerProbes, { type, props });

  it("passes a container with readiness and liveness probes", async () => {
    expect(await run(deployment())).to.deep.equal({ violations: [], urns: [] });
  });

  it("refuses a container without a readinessProbe", async () => {
    expect((await run(changed(["readinessProbe"], undefined))).violations).to.deep.equal([
      `${C} must define a readinessProbe`,
    ]);
  });

  it("refuses a container without a livenessProbe", async () => {
    expect((await run(changed(["livenessProbe"], undefined))).violations).to.deep.equal([
      `${C} must define a livenessProbe`,
    ]);
  });

  it("does not ask init containers for probes", async () => {
    const props = withValue(
      deployment(),
      ["spec", "template", "spec", "initContainers"],
      [{ name: "i", image: "x" }],
    );
    expect((await run(props)).violations).to.deep.equal([]);
  });

  it("does not ask Jobs for probes", async () => {
    const job = {
      metadata: { name: "backfill" },
      spec: { template: { spec: { containers: [{ name: "b" }] } } },
    };
    expect((await run(job, "kubernetes:batch/v1:Job")).violations).to.deep.equal([]);
  });

  it("asks a bare Pod for probes", async () => {
    const pod = { metadata: { name: "debug" }, spec: { containers: [{ name: "d", image: "x" }] } };
    expect((await run(pod, "kubernetes:core/v1:Pod")).violations).to.deep.equal([
      'container "d" in Pod "debug" must define a readinessProbe',
      'container "d" in Pod "debug" must define a livenessProbe',
    ]);
  });
});

describe("policy container-security-context", () => {
  const run = (props: Record<string, unknown>) =>
    runResourcePolicy(containerSecurityContext, { type: DEPLOYMENT, props });

  it("passes a non-root container with a read-only root filesystem and no privilege escalation", async () => {
    expect(await run(deployment())).to.deep.equal({ violations: [], urns: [] });
  });

  it("accepts runAsNonRoot from the pod when the container does not set it", async () => {
    expect((await run(changed(["securityContext", "runAsNonRoot"], undefined))).violations).to.deep.equal([]);
  });

  it("refuses a container that is not required to run as non-root", async () => {
    let props = changed(["securityContext", "runAsNonRoot"], undefined);
    props = withValue(props, ["spec", "template", "spec", "securityContext", "runAsNonRoot"], undefined);
    expect((await run(props)).violations).to.deep.equal([
      `${C} must run as non-root: set securityContext.runAsNonRoot: true on the container or its pod`,
    ]);
  });

  it("lets the container's runAsNonRoot: false override the pod's true", async () => {
    expect((await run(changed(["securityContext", "runAsNonRoot"], false))).violations).to.deep.equal([
      `${C} must run as non-root: set securityContext.runAsNonRoot: true on the container or its pod`,
    ]);
  });

  it("refuses a container running as user 0", async () => {
    expect((await run(changed(["securityContext", "runAsUser"], 0))).violations).to.deep.equal([
      `${C} must not run as user 0 (securityContext.runAsUser)`,
    ]);
  });

  it("refuses a container that may escalate privileges", async () => {
    expect(
      (await run(changed(["securityContext", "allowPrivilegeEscalation"], undefined))).violations,
    ).to.deep.equal([`${C} must set securityContext.allowPrivilegeEscalation: false`]);
  });

  it("refuses a writable root filesystem", async () => {
    expect(
      (await run(changed(["securityContext", "readOnlyRootFilesystem"], false))).violations,
    ).to.deep.equal([`${C} must set securityContext.readOnlyRootFilesystem: true`]);
  });

  it("refuses a privileged container", async () => {
    expect((await run(changed(["securityContext", "privileged"], true))).violations).to.deep.equal([
      `${C} must not be privileged (securityContext.privileged: true)`,
    ]);
  });

  it("names every missing setting of a container without a securityContext", async () => {
    let props = changed(["securityContext"], undefined);
    props = withValue(props, ["spec", "template", "spec", "securityContext"], undefined);
    expect((await run(props)).violations).to.deep.equal([
      `${C} must run as non-root: set securityContext.runAsNonRoot: true on the container or its pod`,
      `${C} must set securityContext.allowPrivilegeEscalation: false`,
      `${C} must set securityContext.readOnlyRootFilesystem: true`,
    ]);
  });
});
