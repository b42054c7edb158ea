/**
 * The promote CLI as a process against the real engine (pulumi, the language host, the
 * Kubernetes provider rendering manifests to a directory, the policy pack) on a file
 * backend, and a real Prometheus: what reaches the engine's processes, and the worst
 * outcome's exit code through the process. (Recovery needs a real cluster to refresh from:
 * the kill tests run on the sandbox, test/e2e.)
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { upsertStack } from "../../scripts/promotion/engine";
import { generateEvidenceKeyPair } from "../../scripts/promotion/evidence";
import { pendingRecovery } from "../../scripts/promotion/lock";
import { allProcesses, commandLine } from "../../scripts/promotion/processes";
import { promotionLockDir } from "../../scripts/promotion/rollout";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";
import { makeProjectDir } from "../../scripts/sandbox/project";
import { REPO_ROOT } from "../../scripts/toolchain/env";
import { END, SCENARIOS, serviceFamilies, stagingOutputs } from "../fixtures/gate-scenarios";
import { PrometheusServer, startPrometheusWithHistory } from "../helpers/prometheus";
import { trustingPolicyConfig, writePolicyConfig } from "../fixtures/policy-configs";

const AT = new Date(END * 1000).toISOString();
const REGISTRY = "registry.internal.example.com/ml";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every descendant of `root` (by parent PID) right now. */
function descendants(root: number): number[] {
  const all = allProcesses();
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const p = frontier.pop()!;
    for (const c of all.filter((x) => x.ppid === p)) {
      out.push(c.pid);
      frontier.push(c.pid);
    }
  }
  return out;
}

describe("a promotion's processes and its recovery, with the real engine", function () {
  this.timeout(900_000);
  let tmp: string;
  let prometheus: PrometheusServer;
  let service: http.Server;
  let projectDir: string;
  let env: Record<string, string>;
  let policyFile: string;
  const keys = generateEvidenceKeyPair();
  const keyBody = keys.privateKeyPem.split("\n")[1];

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-recovery-"));
    prometheus = await startPrometheusWithHistory(
      [SCENARIOS.healthy.candidate, SCENARIOS.lowAccuracy.candidate].flatMap(serviceFamilies),
    );
    service = http.createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => service.listen(0, "127.0.0.1", r));
    policyFile = writePolicyConfig(
      path.join(tmp, "production-policy.json"),
      trustingPolicyConfig(keys.publicKeyPem),
    );
    fs.mkdirSync(path.join(tmp, "state"));
    env = {
      PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "integration-only",
    };
    projectDir = makeProjectDir(path.join(tmp, "project"), {
      production: {
        renderYamlToDirectory: path.join(tmp, "render"),
        evidencePublicKey: keys.publicKeyPem,
        thresholdsFile: policyFile,
        serviceUrl: `http://127.0.0.1:${(service.address() as AddressInfo).port}`,
        prometheusUrl: prometheus.url,
        promotionEvidence: null,
      },
    });
    await upsertStack("production", { projectDir, env, createProduction: true });
  });

  after(async function () {
    await prometheus?.stop();
    await new Promise((r) => service?.close(r));
    if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  });

  function outputs(scenario: keyof typeof SCENARIOS): string {
    const file = path.join(tmp, `outputs-${scenario}.json`);
    const o = stagingOutputs(SCENARIOS[scenario], prometheus.url);
    // Production's registry, and the artifact staging would have read for that image.
    const image = `${REGISTRY}/churn-model:${o.modelVersion as string}`;
    fs.writeFileSync(file, JSON.stringify({ ...o, image, artifact: sandboxArtifact(image) }));
    return file;
  }

  /** Starts the CLI as its own process with the signing key in its environment. */
  function start(args: string[]): { child: ChildProcess; done: Promise<Run>; stderr: () => string } {
    const base = { ...process.env };
    delete base.CHURN_EVIDENCE_PRIVATE_KEY_FILE;
    const child = spawn(
      process.execPath,
      [
        "-r",
        require.resolve("ts-node/register/transpile-only"),
        // main() with staging's outputs from a file (there is no staging stack here); the
        // policy config is the production stack's own churn-model:thresholdsFile.
        path.join(REPO_ROOT, "test/helpers/promote-entry.ts"),
        ...args,
      ],
      {
        cwd: REPO_ROOT,
        env: {
          ...base,
          ...env,
          NO_COLOR: "1",
          CHURN_PROJECT_DIR: projectDir,
          CHURN_EVIDENCE_PRIVATE_KEY: keys.privateKeyPem,
          // The promotion's clock starts at AT, where the synthetic metrics end (promote-entry.ts).
          PROMOTE_ENTRY_CLOCK: AT,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<Run>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
    return { child, done, stderr: () => stderr };
  }

  const gateArgs = (scenario: keyof typeof SCENARIOS) => [outputs(scenario), policyFile, "--at", AT];

  it("keeps the signing key out of every engine process and exits 6 when a first promotion fails verification", async function () {
    const run = start([...gateArgs("healthy"), "--approved-by", "it", "--bake", "10s"]);
    const seen = new Map<number, { cmd: string; hasKey: boolean }>();
    const own = (): string => commandLine(run.child.pid!);
    const poll = setInterval(() => {
      const root = own();
      for (const pid of descendants(run.child.pid!)) {
        // A child between fork and exec is still a copy of the promotion itself: look again later.
        if (seen.has(pid) || commandLine(pid) === root) continue;
        let environ: string;
        try {
          environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
        } catch {
          continue;
        }
        seen.set(pid, {
          cmd: commandLine(pid),
          hasKey: environ.includes("CHURN_EVIDENCE_PRIVATE_KEY") || environ.includes(keyBody),
        });
      }
    }, 100);
    const r = await run.done;
    clearInterval(poll);
    const cmds = [...seen.values()].map((s) => s.cmd);
    expect(r.code, r.stderr).to.equal(6);
    expect(r.stderr).to.include("production has no earlier promoted version to roll back to");
    expect(r.stderr).to.include("needs a person now");
    for (const tool of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes"]) {
      expect(
        cmds.some((c) => c.split(" ").some((a) => path.basename(a) === tool)),
        `saw ${tool} among ${cmds.length} processes`,
      ).to.equal(true);
    }
    expect(
      cmds.some((c) => c.includes("policy")),
      "saw the policy pack",
    ).to.equal(true);
    expect([...seen.values()].filter((s) => s.hasKey).map((s) => s.cmd)).to.deep.equal([]);
    // Production is unsettled: the next run must recover it first.
    expect(pendingRecovery(promotionLockDir({ env }, "production"))?.phase).to.equal("verifying");
  });

  it("exits 6 naming the refresh when recovery cannot read production back, and keeps the recovery pending", async function () {
    // The first test left production "verifying" with a dead holder; the render-only
    // provider has no cluster to refresh from, as when production's cluster is unreachable.
    const lockDir = promotionLockDir({ env }, "production");
    expect(pendingRecovery(lockDir)?.phase, "left by the test before").to.equal("verifying");
    const r = await start([...gateArgs("healthy"), "--approved-by", "it", "--bake", "10s"]).done;
    expect(r.code, r.stderr).to.equal(6);
    const said = r.stderr.split("\n").find((l) => l.startsWith("promote: ")) ?? r.stderr;
    expect(said).to.match(
      /^promote: recovering production: the refresh of its state failed: failed to read resource state due to unreachable cluster\. .+\. What production runs is unknown/,
      said,
    );
    expect(r.stderr).to.contain(
      'What production runs is unknown (the promotion of 2.0.0 was interrupted during "verifying")',
    );
    expect(r.stderr).to.contain("a person must look at it now");
    expect(r.stderr).to.not.contain("unexpected failure");
    expect(r.stdout, "nothing was decided").to.equal("");
    const pending = pendingRecovery(lockDir);
    expect(pending?.phase, "the recovery stays pending").to.equal("rolling-back");
    expect(pending?.abandoned).to.equal(true);

    const dry = await start([...gateArgs("healthy"), "--dry-run"]).done;
    expect(dry.code, dry.stderr).to.equal(2);
    expect(dry.stderr).to.contain('ended during "rolling-back" without finishing');
  });
});
