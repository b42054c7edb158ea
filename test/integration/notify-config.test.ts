import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BadInput } from "../../scripts/promotion/errors";
import { openNotifier, readStackConfig } from "../../scripts/promotion/notify";
import { Notifier } from "../../scripts/promotion/notify/notifier";
import { processEnv, toolPath } from "../../scripts/toolchain/env";

const VALUE = JSON.stringify({
  targets: [{ name: "ops", type: "webhook", url: "https://hooks.example.com/T0K3N", secret: "s".repeat(32) }],
});

describe("notification config read from a real stack through the engine", function () {
  this.timeout(300_000);
  let dir: string;
  const saved: Record<string, string | undefined> = {};
  let env: Record<string, string>;

  function pulumi(...args: string[]): string {
    return execFileSync(toolPath("pulumi"), args, {
      cwd: dir,
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "churn-notify-config-"));
    fs.mkdirSync(path.join(dir, "state"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: churn-model\nruntime: nodejs\n");
    const overrides = {
      CHURN_PROJECT_DIR: dir,
      PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "notify-config-test",
    };
    for (const [k, v] of Object.entries(overrides)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    env = Object.fromEntries(
      Object.entries(processEnv({ ...process.env })).filter((e): e is [string, string] => e[1] !== undefined),
    );
    pulumi("stack", "init", "production");
    pulumi("stack", "init", "clear");
  });

  after(function () {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads a secret value decrypted and opens a notifier for its targets", async function () {
    pulumi("config", "set", "--secret", "-s", "production", "churn-model:notifications", VALUE);
    expect(fs.readFileSync(path.join(dir, "Pulumi.production.yaml"), "utf8")).to.not.include("T0K3N");
    const config = await readStackConfig("production");
    expect(config["churn-model:notifications"]).to.deep.include({ value: VALUE, secret: true });
    const warnings: string[] = [];
    const sink = await openNotifier("production", {
      readConfig: readStackConfig,
      warn: (l) => warnings.push(l),
      env: { CHURN_NOTIFY_DIR: path.join(dir, "outbox") },
    });
    expect(sink).to.be.instanceOf(Notifier);
    expect(warnings).to.deep.equal([]);
  });

  it("refuses a URL left in clear text beside an encrypted secret, naming the field", async function () {
    pulumi("config", "set", "--path", "-s", "clear", "churn-model:notifications.targets[0].name", "ops");
    pulumi("config", "set", "--path", "-s", "clear", "churn-model:notifications.targets[0].type", "webhook");
    pulumi(
      "config",
      "set",
      "--path",
      "-s",
      "clear",
      "churn-model:notifications.targets[0].url",
      "https://x.example/T0K3N",
    );
    pulumi(
      "config",
      "set",
      "--path",
      "--secret",
      "-s",
      "clear",
      "churn-model:notifications.targets[0].secret",
      "s".repeat(32),
    );
    let error: unknown;
    try {
      await readStackConfig("clear");
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(BadInput);
    expect((error as Error).message).to.equal(
      "stack clear: churn-model:notifications.targets[0].url is in clear text in Pulumi.clear.yaml; " +
        "set it as a secret (pulumi config set --path --secret '<key>' <value> -s clear)",
    );
  });

  it("does not ask the engine for a stack whose file sets no notifications", async function () {
    fs.writeFileSync(path.join(dir, "Pulumi.other.yaml"), "config:\n  churn-model:environment: production\n");
    expect(await readStackConfig("other")).to.deep.equal({});
  });
});
