/**
 * `./dev` on a machine as a Pulumi user's looks: a `pulumi` on PATH (the project's build,
 * copied with its language host into a directory of its own to stand in for an installed
 * distribution), the pinned Kubernetes provider in a fresh PULUMI_HOME's plugin cache, and an
 * empty tool cache. Nothing may be built, and the real engine must run the preview.
 */
import { expect } from "chai";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { COMPONENTS, KUBERNETES_PROVIDER_VERSION, PULUMI_VERSION } from "../../scripts/toolchain/components";
import { componentBinDir, LOCAL_PASSPHRASE, makeLocalBackend, REPO_ROOT } from "../../scripts/toolchain/env";
import { makeProjectDir } from "../../scripts/sandbox/project";

const built = (name: string, binary = name) =>
  path.join(componentBinDir(COMPONENTS.find((c) => c.name === name)!), binary);

/** A PATH with this Node.js and the system's basics only: no Go, no project build. */
function barePath(...first: string[]): string {
  return [...first, path.dirname(process.execPath), "/usr/bin", "/bin"].join(path.delimiter);
}

function dev(args: string[], env: Record<string, string>): SpawnSyncReturns<string> & { seconds: number } {
  const t = Date.now();
  const r = spawnSync(path.join(REPO_ROOT, "dev"), args, {
    cwd: REPO_ROOT,
    env: { HOME: os.homedir(), ...env },
    encoding: "utf8",
    timeout: 540_000,
  });
  return { ...r, seconds: (Date.now() - t) / 1000 };
}

describe("./dev with an installed Pulumi and an empty tool cache", function () {
  this.timeout(600_000);
  let tmp: string;
  let cache: string;

  before(function () {
    // ./dev reinstalls node_modules when its stamp is missing: never under a running test.
    const lock = crypto
      .createHash("sha256")
      .update(fs.readFileSync(path.join(REPO_ROOT, "package-lock.json")));
    const stamp = path.join(REPO_ROOT, "node_modules", `.churn-lock-${lock.digest("hex").slice(0, 16)}`);
    if (!fs.existsSync(stamp)) {
      throw new Error(`${stamp} is missing: run ./dev setup test:integration once before this test`);
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-dev-installed-"));
    cache = path.join(tmp, "empty-cache");
    fs.mkdirSync(cache);
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  function assertNothingBuilt(r: { stderr: string }): void {
    expect(r.stderr).to.contain("nothing was built");
    expect(r.stderr).to.not.contain("building from Go modules");
    expect(fs.readdirSync(cache), "the tool cache stays empty").to.deep.equal([]);
  }

  it("runs `./dev promote --help` without building or installing anything", function () {
    const r = dev(["promote", "--help"], { PATH: barePath(), CHURN_CACHE: cache });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain("Usage: npm run promote");
    expect(r.stderr).to.contain("promote --help prints usage only");
    assertNothingBuilt(r);
    console.log(`      ./dev promote --help: ${r.seconds.toFixed(1)} s, nothing built`);
  });

  describe("a preview with the installed CLI, its language host and the provider in its plugin cache", function () {
    let installed: string;
    let home: string;
    let env: Record<string, string>;

    before(function () {
      // Fails (never skips) when the toolchain has not built the engine to copy.
      for (const f of [
        built("pulumi"),
        built("pulumi-language-nodejs"),
        built("pulumi-resource-kubernetes"),
      ]) {
        if (!fs.existsSync(f)) throw new Error(`${f} is missing: run ./dev setup test:integration first`);
      }
      installed = path.join(tmp, "opt", "pulumi", "bin");
      fs.mkdirSync(installed, { recursive: true });
      for (const name of ["pulumi", "pulumi-language-nodejs"]) {
        fs.copyFileSync(built(name), path.join(installed, name));
        fs.chmodSync(path.join(installed, name), 0o755);
      }
      home = path.join(tmp, "pulumi-home");
      const pulumi = (args: string[], cwd = tmp) => {
        const r = spawnSync(path.join(installed, "pulumi"), args, {
          cwd,
          env: { ...env, PATH: barePath(installed), PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE },
          encoding: "utf8",
          timeout: 120_000,
        });
        expect(r.status, `pulumi ${args.join(" ")}: ${r.stderr}`).to.equal(0);
      };
      const project = makeProjectDir(path.join(tmp, "project"), {
        staging: { renderYamlToDirectory: path.join(tmp, "render-staging") },
      });
      env = {
        PATH: barePath(installed),
        CHURN_CACHE: cache,
        PULUMI_HOME: home,
        PULUMI_BACKEND_URL: makeLocalBackend(path.join(tmp, "state")),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        CHURN_PROJECT_DIR: project,
      };
      const provider = built("pulumi-resource-kubernetes");
      pulumi([
        "plugin",
        "install",
        "resource",
        "kubernetes",
        KUBERNETES_PROVIDER_VERSION,
        "--file",
        provider,
      ]);
      pulumi(["stack", "init", "staging"], project);
      expect(
        fs.existsSync(path.join(home, "plugins", `resource-kubernetes-v${KUBERNETES_PROVIDER_VERSION}`)),
      ).to.equal(true);
    });

    it("tries the engine's plugin download before a Go build when the provider is not in the plugin cache", function () {
      const emptyHome = path.join(tmp, "empty-pulumi-home");
      const otherCache = path.join(tmp, "other-cache");
      const t = Date.now();
      // No Go on this PATH: a fallback build fails at once instead of building.
      const r = spawnSync(
        path.join(REPO_ROOT, "node_modules", ".bin", "ts-node"),
        ["--transpile-only", "scripts/toolchain/cli.ts", "install", "--group", "engine"],
        {
          cwd: REPO_ROOT,
          env: {
            HOME: os.homedir(),
            PATH: barePath(installed),
            CHURN_CACHE: otherCache,
            PULUMI_HOME: emptyHome,
          },
          encoding: "utf8",
          timeout: 300_000,
        },
      );
      const seconds = (Date.now() - t) / 1000;
      expect(r.stderr).to.contain("trying the engine's plugin download first");
      const plugin = path.join(emptyHome, "plugins", `resource-kubernetes-v${KUBERNETES_PROVIDER_VERSION}`);
      if (r.status === 0) {
        // A machine that reaches the plugin source: fetched, nothing built.
        expect(r.stderr).to.contain("fetched by the engine into");
        expect(fs.existsSync(path.join(plugin, "pulumi-resource-kubernetes"))).to.equal(true);
        expect(r.stderr).to.contain("nothing was built");
      } else {
        // Our offline machines: the download fails within its bound, then the Go build is tried.
        expect(r.stderr).to.match(
          /the plugin download failed after \d+\.\ds: .*; building from Go modules instead/,
        );
        expect(r.stderr).to.contain(
          "pulumi-resource-kubernetes has to be built from Go modules, but there is no go on PATH",
        );
        expect(r.status).to.equal(2);
      }
      console.log(
        `      plugin download route: ${seconds.toFixed(1)} s (${r.status === 0 ? "fetched" : "failed, Go build tried"})`,
      );
    });

    it("uses them, builds nothing, and the preview with the policy pack passes", function () {
      const r = dev(["preview", "--", "--stack", "staging"], env);
      expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
      expect(r.stderr).to.contain(
        `pulumi ${PULUMI_VERSION}: using what is installed — installed: ${path.join(installed, "pulumi")} (on PATH), version v${PULUMI_VERSION}`,
      );
      expect(r.stderr).to.contain(
        `pulumi-language-nodejs ${PULUMI_VERSION}: using what is installed — installed: ${path.join(installed, "pulumi-language-nodejs")}`,
      );
      expect(r.stderr).to.contain(
        `pulumi-resource-kubernetes ${KUBERNETES_PROVIDER_VERSION}: in the plugin cache — version ${KUBERNETES_PROVIDER_VERSION} is in the plugin cache ${path.join(home, "plugins")}`,
      );
      expect(r.stderr).to.not.match(/etcd|kube-apiserver|kwok|actionlint/);
      assertNothingBuilt(r);
      expect(r.stderr).to.match(/preview of staging passed with the policy pack/);
      const setup = /set-up for preview done in (\d+)s/.exec(r.stderr);
      console.log(
        `      ./dev preview: set-up ${setup?.[1] ?? "?"} s, whole command ${r.seconds.toFixed(1)} s, nothing built`,
      );
    });
  });
});
