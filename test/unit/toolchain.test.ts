import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { COMPONENTS, pinnedModuleVersion } from "../../scripts/toolchain/components";
import { BadInput } from "../../scripts/promotion/errors";
import {
  componentBinDir,
  componentKey,
  LOCAL_BACKEND_MARKER,
  LOCAL_PASSPHRASE,
  makeLocalBackend,
  toolchainEnv,
} from "../../scripts/toolchain/env";

describe("the toolchain", function () {
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-toolchain-"));
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads a pinned module version from a require block or a single-line require", function () {
    fs.writeFileSync(
      path.join(dir, "go.mod"),
      "module x\n\nrequire (\n\ta/b v1.2.3\n\tc/d v0.0.0-2026-abc // indirect\n)\n",
    );
    expect(pinnedModuleVersion(dir, "c/d")).to.equal("v0.0.0-2026-abc");
    fs.writeFileSync(
      path.join(dir, "go.mod"),
      "module x\n\nrequire github.com/p/q/v4 v4.0.0-20260115033456-f47bc2d6f199\n",
    );
    expect(pinnedModuleVersion(dir, "github.com/p/q/v4")).to.equal("v4.0.0-20260115033456-f47bc2d6f199");
    expect(() => pinnedModuleVersion(dir, "e/f")).to.throw("e/f is not required by");
  });

  it("keys every component by name, version and a hash of its module, each in its own directory", function () {
    const keys = COMPONENTS.map(componentKey);
    expect(new Set(keys).size).to.equal(COMPONENTS.length);
    for (const [i, c] of COMPONENTS.entries()) {
      expect(keys[i]).to.match(new RegExp(`^${c.name}-${c.version.replace(/\./g, "\\.")}-[0-9a-f]{10}$`));
    }
    expect(componentKey(COMPONENTS[0])).to.equal(keys[0]);
  });

  it("keeps tools in the cache outside the checkout", function () {
    const env = { ...process.env, CHURN_CACHE: dir };
    for (const c of COMPONENTS) {
      expect(componentBinDir(c, env).startsWith(path.join(dir, "tools"))).to.equal(true);
    }
  });

  it("sets the offline engine environment and lets the caller's backend and passphrase win", function () {
    const env = toolchainEnv({ PATH: "/usr/bin", CHURN_CACHE: dir });
    expect(env).to.include({
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE,
      PULUMI_HOME: path.join(dir, "pulumi-home"),
    });
    expect(env.PULUMI_BACKEND_URL).to.match(/^file:\/\/.*\.state\/pulumi$/);
    expect(env.PATH.endsWith("/usr/bin")).to.equal(true);
    const mine = toolchainEnv({
      PATH: "/usr/bin",
      CHURN_CACHE: dir,
      PULUMI_BACKEND_URL: "s3://bucket/state",
      PULUMI_CONFIG_PASSPHRASE: "secret",
    });
    expect(mine).to.include({ PULUMI_BACKEND_URL: "s3://bucket/state", PULUMI_CONFIG_PASSPHRASE: "secret" });
  });

  it("uses the public local passphrase for the checkout's backend and a marked local backend only", function () {
    const base = { PATH: "/usr/bin", CHURN_CACHE: dir };
    expect(toolchainEnv(base).PULUMI_CONFIG_PASSPHRASE).to.equal(LOCAL_PASSPHRASE);
    const sandbox = makeLocalBackend(path.join(dir, "sandbox", "backend"));
    expect(fs.existsSync(path.join(dir, "sandbox", "backend", LOCAL_BACKEND_MARKER))).to.equal(true);
    expect(toolchainEnv({ ...base, PULUMI_BACKEND_URL: sandbox }).PULUMI_CONFIG_PASSPHRASE).to.equal(
      LOCAL_PASSPHRASE,
    );
    fs.mkdirSync(path.join(dir, "old-sandbox", "backend"), { recursive: true });
    fs.writeFileSync(path.join(dir, "old-sandbox", "sandbox.json"), "{}");
    const old = `file://${path.join(dir, "old-sandbox", "backend")}`;
    expect(toolchainEnv({ ...base, PULUMI_BACKEND_URL: old }).PULUMI_CONFIG_PASSPHRASE).to.equal(
      LOCAL_PASSPHRASE,
    );
  });

  for (const backend of ["s3://bucket/state", "gs://bucket", "azblob://container", "file://<unmarked dir>"]) {
    it(`refuses ${backend} without a passphrase, naming PULUMI_CONFIG_PASSPHRASE`, function () {
      const url = backend === "file://<unmarked dir>" ? `file://${path.join(dir, "team-state")}` : backend;
      expect(() => toolchainEnv({ PATH: "/usr/bin", CHURN_CACHE: dir, PULUMI_BACKEND_URL: url }))
        .to.throw(
          BadInput,
          /PULUMI_CONFIG_PASSPHRASE is not set: the backend .* is not a local sandbox backend/,
        )
        .with.property("exitCode", 2);
    });
  }

  it("passes a passphrase file through and asks no passphrase for Pulumi Cloud", function () {
    const file = toolchainEnv({
      PATH: "/usr/bin",
      CHURN_CACHE: dir,
      PULUMI_BACKEND_URL: "s3://bucket/state",
      PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/passphrase",
    });
    expect(file).to.not.have.property("PULUMI_CONFIG_PASSPHRASE");
    const cloud = toolchainEnv({
      PATH: "/usr/bin",
      CHURN_CACHE: dir,
      PULUMI_BACKEND_URL: "https://api.pulumi.com",
    });
    expect(cloud).to.not.have.property("PULUMI_CONFIG_PASSPHRASE");
    expect(cloud.PULUMI_BACKEND_URL).to.equal("https://api.pulumi.com");
  });

  it("puts built tools first on PATH but leaves the provider to the plugin cache", function () {
    const env = { PATH: "/usr/bin", CHURN_CACHE: dir };
    for (const c of COMPONENTS) fs.mkdirSync(componentBinDir(c, env), { recursive: true });
    const dirs = toolchainEnv(env).PATH.split(path.delimiter);
    const provider = COMPONENTS.find((c) => c.name === "pulumi-resource-kubernetes")!;
    expect(dirs).to.not.include(componentBinDir(provider, env));
    expect(dirs.indexOf(componentBinDir(COMPONENTS[0], env))).to.be.lessThan(dirs.indexOf("/usr/bin"));
  });
});
