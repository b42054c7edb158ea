import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { COMPONENTS, KUBERNETES_PROVIDER_VERSION, NODE_VERSION } from "../../scripts/toolchain/components";
import {
  componentBinDir,
  componentKey,
  installedTool,
  pulumiHome,
  toolchainEnv,
  toolPath,
} from "../../scripts/toolchain/env";
import { needsFor, SCRIPT_NEEDS } from "../../scripts/toolchain/needs";
import { staleEntries } from "../../scripts/toolchain/prune";
import { needsWork, PROVIDER, routeFor, ToolFacts } from "../../scripts/toolchain/routes";
import { REPO_ROOT } from "../helpers/cli-invocations";

const component = (name: string) => COMPONENTS.find((c) => c.name === name)!;

function executable(file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "#!/bin/sh\necho v0.0.0\n", { mode: 0o755 });
  return file;
}

describe("what each command installs", function () {
  it("has an entry for every npm script in package.json", function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const missing = Object.keys(pkg.scripts).filter((s) => SCRIPT_NEEDS[s] === undefined);
    expect(missing, "scripts without an entry in scripts/toolchain/needs.ts").to.deep.equal([]);
  });

  const table: [string, string[], string[]][] = [
    ["deploy", ["--", "--stack", "staging"], ["engine"]],
    ["preview", ["--", "--stack", "production"], ["engine"]],
    ["promote", ["--", "--dry-run"], ["engine"]],
    ["promote", ["--", "history"], ["engine"]],
    ["sandbox", ["--", "up"], ["engine", "controlplane"]],
    ["demo", [], ["engine", "controlplane"]],
    ["bench", [], ["engine", "controlplane"]],
    ["test", [], ["engine", "controlplane", "lint"]],
    ["test:integration", [], ["engine", "controlplane", "lint"]],
    ["test:e2e", [], ["engine", "controlplane"]],
    ["lint:workflows", [], ["lint"]],
    ["build", [], []],
    ["lint", [], []],
    ["test:unit", [], []],
    ["test:policy", [], []],
  ];
  for (const [script, args, groups] of table) {
    it(`${[script, ...args].join(" ")} installs ${groups.length ? groups.join(", ") : "nothing"}`, function () {
      expect(needsFor(script, args).groups).to.deep.equal(groups);
    });
  }

  it("installs nothing for --help, with or without --, nor for sandbox down and status", function () {
    expect(needsFor("promote", ["--", "--help"])).to.deep.equal({
      groups: [],
      why: "promote --help prints usage only",
    });
    expect(needsFor("deploy", ["-h"]).groups).to.deep.equal([]);
    expect(needsFor("sandbox", ["--", "down"]).groups).to.deep.equal([]);
    expect(needsFor("sandbox", ["status"]).groups).to.deep.equal([]);
  });

  it("installs everything for a script it does not know, and says so", function () {
    const n = needsFor("something-new");
    expect(n.groups).to.deep.equal(["engine", "controlplane", "lint"]);
    expect(n.why).to.contain("not in SCRIPT_NEEDS");
  });
});

describe("the route each tool takes", function () {
  const pulumi = component("pulumi");
  const provider = component(PROVIDER);
  const kube = component("kube");
  const none: ToolFacts = { installed: [undefined], cached: false };
  const at = (p: string) => ({ path: p, why: "on PATH" });

  it("uses an installed tool as it is, before the cache", function () {
    const r = routeFor(pulumi, { installed: [at("/usr/local/bin/pulumi")], cached: true });
    expect(r.kind).to.equal("installed");
    expect(r.why).to.contain("/usr/local/bin/pulumi (on PATH)");
  });

  it("uses the cached build when the tool is not installed, and builds when neither", function () {
    expect(routeFor(pulumi, { installed: [undefined], cached: true }).kind).to.equal("cached");
    const r = routeFor(pulumi, none);
    expect(r).to.deep.equal({ kind: "build", why: "pulumi not installed and not built yet" });
    expect(needsWork(r)).to.equal(true);
  });

  it("builds a component when only some of its binaries are installed", function () {
    const r = routeFor(kube, {
      installed: [at("/usr/bin/kube-apiserver"), undefined, undefined],
      cached: false,
    });
    expect(r.kind).to.equal("build");
    expect(r.why).to.equal("kube-controller-manager, kube-scheduler not installed and not built yet");
  });

  it("counts the pinned provider in the engine's plugin cache as installed, whatever else exists", function () {
    const r = routeFor(provider, { ...none, inPluginCache: true, pluginCache: "/home/u/.pulumi/plugins" });
    expect(r.kind).to.equal("plugin-cache");
    expect(r.why).to.contain(
      `version ${KUBERNETES_PROVIDER_VERSION} is in the plugin cache /home/u/.pulumi/plugins`,
    );
    expect(needsWork(r)).to.equal(false);
  });

  it("puts a cached provider build into the plugin cache, and tries the download before a Go build", function () {
    expect(routeFor(provider, { installed: [undefined], cached: true, inPluginCache: false }).kind).to.equal(
      "install-built-plugin",
    );
    const d = routeFor(provider, { installed: [undefined], cached: false, inPluginCache: false });
    expect(d.kind).to.equal("download");
    expect(needsWork(d)).to.equal(true);
  });

  it("builds anything with --force", function () {
    expect(routeFor(pulumi, { installed: [at("/usr/bin/pulumi")], cached: true }, true).kind).to.equal(
      "build",
    );
    expect(routeFor(provider, { ...none, inPluginCache: true }, true).kind).to.equal("build");
  });
});

describe("an installed pulumi against the project's build", function () {
  let dir: string;
  let cache: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-routes-"));
    cache = path.join(dir, "cache");
    for (const c of COMPONENTS) fs.mkdirSync(componentBinDir(c, { CHURN_CACHE: cache }), { recursive: true });
    for (const name of ["pulumi", "pulumi-language-nodejs"]) {
      executable(path.join(componentBinDir(component(name), { CHURN_CACHE: cache }), name));
    }
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("makes the installed pulumi and the language host of its distribution the engine, with downloads on", function () {
    const dist = path.join(dir, "opt", "pulumi");
    executable(path.join(dist, "pulumi"));
    executable(path.join(dist, "pulumi-language-nodejs"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.symlinkSync(path.join(dist, "pulumi"), path.join(dir, "bin", "pulumi"));
    const base = {
      PATH: `${path.join(dir, "bin")}:/usr/bin`,
      CHURN_CACHE: cache,
      HOME: path.join(dir, "home"),
    };

    expect(installedTool("pulumi-language-nodejs", base)).to.deep.equal({
      path: path.join(dist, "pulumi-language-nodejs"),
      why: `in the distribution of ${path.join(dir, "bin", "pulumi")}`,
    });
    const env = toolchainEnv(base);
    const dirs = env.PATH.split(":");
    expect(dirs).to.not.include(componentBinDir(component("pulumi"), base));
    expect(dirs).to.not.include(componentBinDir(component("pulumi-language-nodejs"), base));
    expect(dirs).to.include(componentBinDir(component("kwok"), base));
    expect(env).to.not.have.property("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION");
    expect(env.PULUMI_HOME).to.equal(path.join(dir, "home", ".pulumi"));
    expect(pulumiHome(base)).to.equal(path.join(dir, "home", ".pulumi"));
    expect(toolPath("pulumi", base)).to.equal(path.join(dir, "bin", "pulumi"));
  });

  it("keeps the project's language host when the installed pulumi comes without one", function () {
    executable(path.join(dir, "bin", "pulumi"));
    const base = { PATH: `${path.join(dir, "bin")}:/usr/bin`, CHURN_CACHE: cache, HOME: dir };
    expect(toolPath("pulumi", base)).to.equal(path.join(dir, "bin", "pulumi"));
    expect(toolPath("pulumi-language-nodejs", base)).to.equal(
      path.join(componentBinDir(component("pulumi-language-nodejs"), base), "pulumi-language-nodejs"),
    );
  });

  it("uses the project's build, its own plugin cache and no downloads when no pulumi is installed", function () {
    const base = { PATH: "/usr/bin", CHURN_CACHE: cache, HOME: dir };
    const env = toolchainEnv(base);
    expect(env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).to.equal("true");
    expect(env.PULUMI_HOME).to.equal(path.join(cache, "pulumi-home"));
    expect(toolPath("pulumi", base)).to.equal(
      path.join(componentBinDir(component("pulumi"), base), "pulumi"),
    );
  });

  it("does not count the cache's own builds on PATH as installed", function () {
    const built = componentBinDir(component("pulumi"), { CHURN_CACHE: cache });
    const base = { PATH: `${built}:/usr/bin`, CHURN_CACHE: cache, HOME: dir };
    expect(installedTool("pulumi", base)).to.equal(undefined);
    expect(toolchainEnv(base).PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).to.equal("true");
  });

  it("respects the caller's PULUMI_HOME on either route", function () {
    executable(path.join(dir, "bin", "pulumi"));
    const mine = path.join(dir, "my-home");
    expect(pulumiHome({ PATH: path.join(dir, "bin"), CHURN_CACHE: cache, PULUMI_HOME: mine })).to.equal(mine);
    expect(pulumiHome({ PATH: "/usr/bin", CHURN_CACHE: cache, PULUMI_HOME: mine })).to.equal(mine);
  });
});

describe("pruning the tool cache", function () {
  it("drops builds of older keys and other Node.js versions, keeps current ones and half-written builds", function () {
    const current = COMPONENTS.map(componentKey);
    const entries = [
      ...current,
      `node-v${NODE_VERSION}`,
      "node-v20.1.0",
      "pulumi-3.200.0-0123456789",
      "pulumi-language-nodejs-3.274.1-abcdefabcd",
      "kube-1.35.0-aaaaaaaaaa",
      `${current[0]}.partial-1234`,
      "something-else",
    ];
    expect(staleEntries(entries)).to.deep.equal([
      "node-v20.1.0",
      "pulumi-3.200.0-0123456789",
      "pulumi-language-nodejs-3.274.1-abcdefabcd",
      "kube-1.35.0-aaaaaaaaaa",
    ]);
  });
});
