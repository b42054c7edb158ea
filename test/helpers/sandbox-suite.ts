/**
 * The e2e suites' sandbox: one per suite (up before its tests with steady traffic, down after),
 * the stories that drive it, and what the tests read of production (its Deployment, its stack
 * config). A failed test prints the end of the sandbox's log. The suite registers the hooks.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stories } from "../../scripts/demo/stories";
import { artifactImage } from "../../policy/contract";
import { selectStack } from "../../scripts/promotion/engine";
import { parseSignedEvidence } from "../../scripts/promotion/evidence";
import { sandboxDown, sandboxEnv, sandboxUp, SandboxState } from "../../scripts/sandbox/cli";
import { apiRequest } from "../../scripts/sandbox/controlplane";
import type { DriverOptions } from "../../scripts/sandbox/driver";

export interface DeploymentView {
  metadata: { annotations?: Record<string, string> };
  spec: { template: { spec: { containers: { image: string }[] } } };
  status: { readyReplicas?: number };
}

export interface SandboxSuite {
  readonly dir: string;
  readonly s: SandboxState;
  readonly stories: Stories;
  /** Production's Deployment as the API server has it. */
  productionDeployment(): Promise<DeploymentView>;
  /**
   * Production's image, after checking it is the digest its own evidence binds for `version`
   * (`<registry>/<repository>:<tag>@sha256:…`, the artifact staging ran).
   */
  productionRuns(version: string): Promise<string>;
  /** Production's canary Deployment as the API server has it; null when there is none. */
  canaryDeployment(): Promise<(DeploymentView & { status: { readyReplicas?: number } }) | null>;
  /** Production's stack config, key → value. */
  productionConfig(): Promise<Record<string, string>>;
  /** For `before`: the sandbox up, the stories and their traffic started. */
  up(): Promise<void>;
  /** For `after`: traffic stopped, the sandbox down and removed. */
  down(): Promise<void>;
  /** For `afterEach`: prints the end of the log when `test` failed, and clears it. */
  printLogIfFailed(test: Mocha.Test | undefined): void;
}

/** A suite's sandbox; its fields are set once `up()` ran (the suite's `before`). */
export function sandboxSuite(
  prefix: string,
  printLines = 80,
  // Production gets twice staging's traffic: a 10 % canary step then bounds its p99 in under a minute.
  driver: DriverOptions = { bake: "25s", trafficRate: 15, productionTrafficRate: 30 },
): SandboxSuite {
  const log: string[] = [];
  const state: { dir?: string; s?: SandboxState; stories?: Stories } = {};
  const suite: SandboxSuite = {
    get dir() {
      return state.dir!;
    },
    get s() {
      return state.s!;
    },
    get stories() {
      return state.stories!;
    },
    async productionDeployment() {
      const res = await apiRequest(
        suite.s.server,
        path.join(suite.dir, "cluster", "pki"),
        "GET",
        "/apis/apps/v1/namespaces/production/deployments/churn-model",
      );
      return JSON.parse(res.body) as DeploymentView;
    },
    async canaryDeployment() {
      const res = await apiRequest(
        suite.s.server,
        path.join(suite.dir, "cluster", "pki"),
        "GET",
        "/apis/apps/v1/namespaces/production/deployments/churn-model-canary",
      );
      if (res.status === 404) return null;
      if (res.status !== 200)
        throw new Error(`reading the canary Deployment: HTTP ${res.status} ${res.body}`);
      return JSON.parse(res.body) as DeploymentView;
    },
    async productionRuns(version) {
      const d = await suite.productionDeployment();
      const image = d.spec.template.spec.containers[0].image;
      const annotation = d.metadata.annotations?.["churn-model/promotion-evidence"];
      expect(annotation, "production's evidence annotation").to.be.a("string");
      const { record } = parseSignedEvidence(annotation!);
      expect(record.modelVersion, "the version production's evidence is for").to.equal(version);
      expect(image, "production's image").to.equal(artifactImage(record.artifact, version));
      return image;
    },
    async productionConfig() {
      const stack = await selectStack("production", {
        projectDir: suite.s.projectDir,
        env: sandboxEnv(suite.s),
      });
      const all = await stack.getAllConfig();
      return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.value]));
    },
    async up() {
      state.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      state.s = await sandboxUp({ dir: state.dir, trafficRate: 0, log: (l) => log.push(l) });
      state.stories = new Stories(state.s, (l) => log.push(l), driver);
      state.stories.startTraffic();
    },
    async down() {
      await state.stories?.stopTraffic();
      if (state.s) await sandboxDown({ dir: state.dir!, log: () => undefined });
      if (state.dir) fs.rmSync(state.dir, { recursive: true, force: true });
    },
    printLogIfFailed(test) {
      if (test?.state === "failed") console.log(log.slice(-printLines).join("\n"));
      log.length = 0;
    },
  };

  return suite;
}
