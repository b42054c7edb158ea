/**
 * What the promote CLI loads on its light paths (issue 18): `--help`, `history --help`,
 * `history` and a dry run never load the Automation API or the Kubernetes SDK, which take
 * seconds to load and which only an update needs. Each case runs in its own process
 * (test/helpers/module-probe.ts) and reads back the list of modules it loaded; `history` runs
 * against a stand-in `pulumi` on PATH that answers `stack history` with no updates.
 */
import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

const execFileAsync = promisify(execFile);
const PROBE = path.resolve(__dirname, "..", "helpers", "module-probe.ts");
const HEAVY: readonly RegExp[] = [
  /node_modules\/@pulumi\/pulumi\/automation\//,
  /node_modules\/@kubernetes\/client-node\//,
  /node_modules\/@pulumi\/kubernetes\//,
];

interface Probe {
  readonly code: number;
  readonly stderr: string;
  readonly modules: readonly string[];
}

async function probe(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Probe> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ["-r", require.resolve("ts-node/register/transpile-only"), PROBE, ...args],
    { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = stdout.trimEnd().split("\n");
  const { code, stderr } = JSON.parse(lines[lines.length - 2]) as { code: number; stderr: string };
  return { code, stderr, modules: JSON.parse(lines[lines.length - 1]) as string[] };
}

function heavyModules(p: Probe): string[] {
  return p.modules.filter((m) => HEAVY.some((h) => h.test(m.split(path.sep).join("/"))));
}

describe("the promote CLI's light paths load neither the Automation API nor the Kubernetes SDK", function () {
  this.timeout(180_000);
  let tmp: string;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "churn-cli-start-"));
    // A stand-in engine: `stack history` has no updates; anything else fails loudly.
    const bin = path.join(tmp, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(
      path.join(bin, "pulumi"),
      '#!/bin/sh\nif [ "$1 $2" = "stack history" ]; then echo "[]"; exit 0; fi\necho "unexpected: pulumi $*" >&2\nexit 3\n',
      { mode: 0o755 },
    );
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const args of [["--help"], ["history", "--help"], ["--dry-run", "--json"]]) {
    it(`promote ${args.join(" ")}`, async function () {
      const p = await probe(args);
      expect(p.code, p.stderr).to.equal(0);
      expect(heavyModules(p)).to.deep.equal([]);
    });
  }

  it("promote history (read through the engine's CLI)", async function () {
    const p = await probe(["history", "--json"], {
      PATH: `${path.join(tmp, "bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "test",
      CHURN_PROJECT_DIR: tmp,
    });
    expect(p.code, p.stderr).to.equal(0);
    expect(heavyModules(p)).to.deep.equal([]);
  });

  it("the probe sees the Automation API when a process loads it", async function () {
    // The same probe on the path that needs the SDK: without this, an empty list could mean
    // the probe cannot see what a process loads.
    const p = await probe(["history", "--json"], {
      PATH: `${path.join(tmp, "bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "test",
      CHURN_PROJECT_DIR: tmp,
      NODE_OPTIONS: `--require ${require.resolve("@pulumi/pulumi/automation")}`,
    });
    expect(heavyModules(p)).to.not.deep.equal([]);
  });
});
