import { expect } from "chai";
import { parseDeployArgs } from "../../scripts/deploy";
import { parsePreviewArgs } from "../../scripts/preview";
import { DURATION_BOUNDS, parsePromoteArgs } from "../../scripts/promotion/cli-args";
import { parseApproveArgs } from "../../scripts/promotion/approve";
import { parseHistoryArgs } from "../../scripts/promotion/history";
import { BadInput } from "../../scripts/promotion/errors";
import { parseStagingOutputs } from "../../scripts/promotion/outputs";
import { versionLabel } from "../../policy/contract";
import {
  formatDuration,
  parseDurationMs,
  parseModelVersion,
  parseTimestamp,
  renderMatchers,
} from "../../scripts/promotion/parsers";

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(BadInput);
    return (err as Error).message;
  }
  throw new Error("expected a BadInput");
}

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("promote flags", function () {
  it("takes --approval FILE more than once, in order, and refuses an empty one", function () {
    expect(parsePromoteArgs(["--approval", "a.json", "--approval=b.json"]).approvals).to.deep.equal([
      "a.json",
      "b.json",
    ]);
    expect(() => parsePromoteArgs(["--approval", ""])).to.throw(BadInput, "--approval needs a file path");
  });

  it("defaults to staging → production over 24 h, deciding and promoting, with a 10 s query deadline", function () {
    expect(parsePromoteArgs([])).to.deep.equal({
      from: "staging",
      to: "production",
      modelVersion: undefined,
      dryRun: false,
      notify: false,
      json: false,
      prometheusUrl: undefined,
      stagingOutputs: undefined,
      thresholds: undefined,
      windowSeconds: 86_400,
      at: undefined,
      approvedBy: undefined,
      approvals: [],
      queries: undefined,
      baselineSelector: undefined,
      queryTimeoutMs: 10_000,
      bakeSeconds: 300,
      help: false,
    });
  });

  it("reads every flag of the contract, in both --flag value and --flag=value forms", function () {
    const o = parsePromoteArgs([
      "--from",
      "staging",
      "--to=production",
      "--model-version",
      "1.4.2-rc.1+build.7",
      "--dry-run",
      "--json",
      "--prometheus-url=http://127.0.0.1:9090/prom/",
      "--staging-outputs",
      "out.json",
      "--thresholds",
      "t.json",
      "--window",
      "1d12h",
      "--at",
      "2025-03-01T12:00:00+01:00",
      "--approved-by",
      "github:octocat",
      "--queries",
      "q.json",
      "--baseline-selector",
      '{"namespace":"production","version":"1.0.0"}',
      "--query-timeout",
      "500ms",
      "--bake",
      "90s",
    ]);
    expect(o).to.deep.equal({
      from: "staging",
      to: "production",
      modelVersion: "1.4.2-rc.1+build.7",
      dryRun: true,
      notify: false,
      json: true,
      prometheusUrl: "http://127.0.0.1:9090/prom",
      stagingOutputs: "out.json",
      thresholds: "t.json",
      windowSeconds: 129_600,
      at: new Date("2025-03-01T11:00:00Z"),
      approvedBy: "github:octocat",
      approvals: [],
      queries: "q.json",
      baselineSelector: { namespace: "production", version: "1.0.0" },
      queryTimeoutMs: 500,
      bakeSeconds: 90,
      help: false,
    });
  });

  it("reads the host whose gone promotion's lock is taken over", function () {
    expect(parsePromoteArgs(["--take-over-from", "runner-7.ci.example"]).takeOverFrom).to.equal(
      "runner-7.ci.example",
    );
    expect(parsePromoteArgs([])).to.not.have.property("takeOverFrom");
  });

  it("accepts -h and --help", function () {
    expect(parsePromoteArgs(["-h"]).help).to.equal(true);
    expect(parsePromoteArgs(["--help"]).help).to.equal(true);
  });

  it("accepts a digest as the model version", function () {
    expect(parsePromoteArgs(["--model-version", DIGEST]).modelVersion).to.equal(DIGEST);
  });

  const bad: [string, string[], string][] = [
    ["an unknown flag", ["--force"], 'unknown option "--force" (see --help)'],
    ["an unknown flag with a value", ["--stack=prod"], 'unknown option "--stack" (see --help)'],
    ["a positional argument", ["production"], 'unexpected argument "production" (see --help)'],
    ["a flag without its value", ["--window"], "--window needs a value"],
    ["a flag followed by another flag", ["--at", "--dry-run"], "--at needs a value"],
    ["a repeated flag", ["--json", "--json"], "--json is given more than once"],
    ["a value on a boolean flag", ["--dry-run=yes"], "--dry-run takes no value"],
    [
      "latest",
      ["--model-version", "latest"],
      '--model-version "latest" is refused: it must be a pinned version: `latest` is never accepted',
    ],
    ["an empty version", ["--model-version="], '--model-version "" is refused: it must not be empty'],
    [
      "a whitespace version",
      ["--model-version", " 1.0.0"],
      '--model-version " 1.0.0" is refused: it must not contain whitespace',
    ],
    [
      "shell metacharacters",
      ["--model-version", "1.0.0;reboot"],
      '--model-version "1.0.0;reboot" is refused: it must not contain shell metacharacters',
    ],
    [
      "command substitution",
      ["--model-version", "$(id)"],
      '--model-version "$(id)" is refused: it must not contain shell metacharacters',
    ],
    [
      "a tag that is not semver",
      ["--model-version", "v1.0"],
      '--model-version "v1.0" is refused: it must be a semantic version like 1.4.2 or an image digest sha256:<64 hex digits>',
    ],
    [
      "a short digest",
      ["--model-version", "sha256:abc"],
      '--model-version "sha256:abc" is refused: it must be a semantic version like 1.4.2 or an image digest sha256:<64 hex digits>',
    ],
    [
      "a window without unit",
      ["--window", "24"],
      '--window must be a duration like 24h, 90m or 1d12h (got "24")',
    ],
    ["a zero window", ["--window", "0h"], '--window must be longer than 0 (got "0h")'],
    ["a window in milliseconds", ["--window", "1500ms"], '--window must be whole seconds (got "1500ms")'],
    [
      "a date without offset",
      ["--at", "2025-03-01T12:00:00"],
      '--at must be an RFC 3339 timestamp like 2025-03-01T12:00:00Z (got "2025-03-01T12:00:00")',
    ],
    [
      "an impossible date",
      ["--at", "2025-02-30T12:00:00Z"],
      '--at "2025-02-30T12:00:00Z" is not a valid date and time',
    ],
    [
      "a URL without scheme",
      ["--prometheus-url", "localhost:9090"],
      '--prometheus-url must use http or https (got "localhost:9090")',
    ],
    [
      "a URL with credentials",
      ["--prometheus-url", "http://u:p@h:9090"],
      '--prometheus-url must not carry credentials, a query or a fragment (got "http://u:p@h:9090")',
    ],
    [
      "an approver with spaces",
      ["--approved-by", "jane doe"],
      '--approved-by "jane doe" is not an approver ID (a login, email or provider:login, without spaces; at most 200 characters)',
    ],
    ["the same stack twice", ["--from", "production"], "--from and --to must differ (both are production)"],
    [
      "a stack name with a space",
      ["--to", "prod uction"],
      '--to "prod uction" is not a stack name (letters, digits, ".", "_", "-", optionally org/project/ before it)',
    ],
    [
      "a selector that is not JSON",
      ["--baseline-selector", "namespace=production"],
      '--baseline-selector must be a JSON object of label → value (got "namespace=production")',
    ],
    [
      "a selector with a bad label",
      ["--baseline-selector", '{"na-me":"x"}'],
      '--baseline-selector: "na-me" is not a usable Prometheus label name',
    ],
    [
      "a selector with a number",
      ["--baseline-selector", '{"version":1}'],
      "--baseline-selector.version must be a non-empty string (got 1)",
    ],
    [
      "a host that is not a host name",
      ["--take-over-from", "runner 7;x"],
      '--take-over-from must be a host name (got "runner 7;x")',
    ],
    [
      "taking a lock over in a dry run",
      ["--take-over-from", "runner-7", "--dry-run"],
      "--take-over-from takes the lock over, and a dry run (--dry-run) takes no lock",
    ],
  ];
  for (const [what, argv, message] of bad) {
    it(`refuses ${what}, naming the flag`, function () {
      expect(refused(() => parsePromoteArgs(argv))).to.equal(message);
    });
  }
});

describe("every flag bounded, across the delivery CLIs", function () {
  const NOW = new Date("2026-12-01T10:00:00Z");
  const promote =
    (...argv: string[]) =>
    () =>
      parsePromoteArgs(argv, NOW);
  const deploy =
    (...argv: string[]) =>
    () =>
      parseDeployArgs(["--stack", "staging", "--model-version", "1.0.0", ...argv]);
  const table: [string, () => unknown, string][] = [
    [
      "a query timeout that overflows the timer",
      promote("--query-timeout", "30d"),
      '--query-timeout must be between 100ms and 5m (got "30d")',
    ],
    [
      "a query timeout too short to answer",
      promote("--query-timeout", "5ms"),
      '--query-timeout must be between 100ms and 5m (got "5ms")',
    ],
    ["a one-second bake", promote("--bake", "1s"), '--bake must be between 10s and 24h (got "1s")'],
    ["a bake of weeks", promote("--bake", "2w"), '--bake must be between 10s and 24h (got "2w")'],
    ["a window of seconds", promote("--window", "30s"), '--window must be between 1m and 31d (got "30s")'],
    ["a window of a year", promote("--window", "52w"), '--window must be between 1m and 31d (got "52w")'],
    [
      "an --at in the future",
      promote("--at", "2099-01-01T00:00:00Z"),
      '--at "2099-01-01T00:00:00Z" lies in the future (now is 2026-12-01T10:00:00.000Z): metrics can only be judged up to now',
    ],
    [
      "an --at two minutes ahead of the clock in a promotion",
      promote("--at", "2026-12-01T10:02:00Z"),
      '--at "2026-12-01T10:02:00Z" lies 120 s ahead of this machine\'s clock (now is 2026-12-01T10:00:00.000Z): ' +
        "a promotion's window ends at or before its evidence is signed (at most 60 s of clock skew; later times only with --dry-run)",
    ],
    [
      "--thresholds in a promotion",
      promote("--thresholds", "weak.json", "--approved-by", "alice"),
      "--thresholds is for dry runs (--dry-run) only: a promotion judges by, and gives the policy pack, " +
        "the reviewed policy config of the target stack (policy/config/<environment>.json)",
    ],
    [
      "--queries in a promotion",
      promote("--queries", "constants.json"),
      "--queries is for dry runs (--dry-run) only: a promotion measures with the reviewed queries (scripts/promotion/metrics.ts)",
    ],
    [
      "--staging-outputs in a promotion",
      promote("--staging-outputs", "outputs.json"),
      "--staging-outputs is for dry runs (--dry-run) only: a promotion reads the staging stack's outputs from the engine",
    ],
    ["a repeated --to", promote("--to", "production", "--to", "prod-eu"), "--to is given more than once"],
    [
      "a stack name with shell characters",
      promote("--to", "x y;z"),
      '--to "x y;z" is not a stack name (letters, digits, ".", "_", "-", optionally org/project/ before it)',
    ],
    [
      "a stack name of 200 characters",
      promote("--from", "s".repeat(200)),
      `--from "${"s".repeat(200)}" is not a stack name (letters, digits, ".", "_", "-", optionally org/project/ before it)`,
    ],
    [
      "preview of a stack named with shell characters",
      () => parsePreviewArgs(["--stack", "x y;z"]),
      '--stack "x y;z" is not a stack name (letters, digits, ".", "_", "-", optionally org/project/ before it)',
    ],
    [
      "preview with --stack twice",
      () => parsePreviewArgs(["--stack", "a", "--stack", "b"]),
      "--stack was given twice",
    ],
    [
      "preview with an empty policy config",
      () => parsePreviewArgs(["--stack", "a", "--policy-config", ""]),
      "--policy-config needs a file path",
    ],
    [
      "history --limit in exponent notation",
      () => parseHistoryArgs(["--limit", "1e3"]),
      '--limit must be a whole number from 1 to 1000 (got "1e3")',
    ],
    [
      "history --limit above 1000",
      () => parseHistoryArgs(["--limit", "5000"]),
      '--limit must be a whole number from 1 to 1000 (got "5000")',
    ],
    [
      "history --limit twice",
      () => parseHistoryArgs(["--limit", "5", "--limit", "6"]),
      "--limit was given twice",
    ],
    [
      "history for a stack named with shell characters",
      () => parseHistoryArgs(["--to", "$(id)"]),
      '--to "$(id)" is not a stack name (letters, digits, ".", "_", "-", optionally org/project/ before it)',
    ],
    [
      "deploy --smoke-wait of months",
      deploy("--smoke-wait", "9999999w"),
      '--smoke-wait must be between 1s and 1h (got "9999999w")',
    ],
    [
      "deploy --smoke-wait of no time",
      deploy("--smoke-wait", "10ms"),
      '--smoke-wait must be between 1s and 1h (got "10ms")',
    ],
    ["deploy --no-smoke twice", deploy("--no-smoke", "--no-smoke"), "--no-smoke was given twice"],
    ["deploy --stack twice", deploy("--stack", "production"), "--stack was given twice"],
    ["deploy --help twice", () => parseDeployArgs(["--help", "--help"]), "--help was given twice"],
    ["deploy -h and --help", () => parseDeployArgs(["-h", "--help"]), "--help was given twice"],
    ["preview --help twice", () => parsePreviewArgs(["--help", "--help"]), "--help was given twice"],
    [
      "preview --help and -h",
      () => parsePreviewArgs(["--stack", "a", "--help", "-h"]),
      "--help was given twice",
    ],
    ["history --json twice", () => parseHistoryArgs(["--json", "--json"]), "--json was given twice"],
    ["history --help twice", () => parseHistoryArgs(["-h", "--help"]), "--help was given twice"],
    [
      "an approval that expires in 30 seconds",
      () => parseApproveArgs(["--expires-in", "30s"]),
      "--expires-in must be from 1m to 7d (got 30s)",
    ],
    [
      "an approval that expires in 8 days",
      () => parseApproveArgs(["--expires-in", "8d"]),
      "--expires-in must be from 1m to 7d (got 8d)",
    ],
    [
      "approve --expires-in twice",
      () => parseApproveArgs(["--expires-in", "1h", "--expires-in", "2h"]),
      "--expires-in is given more than once",
    ],
  ];
  for (const [what, fn, message] of table) {
    it(`refuses ${what}`, function () {
      expect(refused(fn)).to.equal(message);
    });
  }

  it("accepts each duration flag at both ends of its range", function () {
    for (const flag of ["--window", "--bake", "--query-timeout"] as const) {
      const { min, max } = DURATION_BOUNDS[flag];
      for (const v of [min, max]) {
        if (flag !== "--query-timeout" && v.endsWith("ms")) continue;
        expect(() => parsePromoteArgs([flag, v], NOW), `${flag} ${v}`).to.not.throw();
      }
    }
    expect(parsePromoteArgs(["--dry-run", "--at", "2026-12-01T10:04:00Z"], NOW).at?.toISOString()).to.equal(
      "2026-12-01T10:04:00.000Z",
    );
    expect(parsePromoteArgs(["--at", "2026-12-01T10:01:00Z"], NOW).at?.toISOString()).to.equal(
      "2026-12-01T10:01:00.000Z",
    );
    expect(parseHistoryArgs(["--limit", "1000"]).limit).to.equal(1000);
    expect(deploy("--smoke-wait", "1h")()).to.include({ smokeWaitMs: 3_600_000 });
    expect(parseApproveArgs(["--expires-in", "1m"]).expiresInMs).to.equal(60_000);
    expect(parseApproveArgs(["--expires-in", "7d"]).expiresInMs).to.equal(7 * 86_400_000);
    expect(parseHistoryArgs(["--json", "--limit", "3"])).to.include({ json: true, limit: 3, help: false });
    expect(parseHistoryArgs(["-h"]).help).to.equal(true);
    expect(parsePreviewArgs(["-h"]).help).to.equal(true);
    expect(parseDeployArgs(["--help"]).help).to.equal(true);
  });
});

describe("value parsers", function () {
  it("parses durations with several units", function () {
    expect(parseDurationMs("1w", "x")).to.equal(604_800_000);
    expect(parseDurationMs("1h30m15s", "x")).to.equal(5_415_000);
    expect(parseDurationMs("250ms", "x")).to.equal(250);
  });

  it("prints whole seconds in the shortest notation the parser reads back", function () {
    expect(formatDuration(0)).to.equal("0s");
    for (const [seconds, text] of [
      [40, "40s"],
      [300, "5m"],
      [301, "5m1s"],
      [86_400, "1d"],
      [90_061, "1d1h1m1s"],
    ] as const) {
      expect(formatDuration(seconds)).to.equal(text);
      expect(parseDurationMs(text, "x")).to.equal(seconds * 1000);
    }
  });

  it("parses RFC 3339 timestamps with offsets and fractions", function () {
    expect(parseTimestamp("2025-03-01T12:00:00.250Z", "x").toISOString()).to.equal(
      "2025-03-01T12:00:00.250Z",
    );
    expect(parseTimestamp("2025-03-01t12:00:00-02:30", "x").toISOString()).to.equal(
      "2025-03-01T14:30:00.000Z",
    );
  });

  it("renders selector values as escaped PromQL strings in label order", function () {
    expect(renderMatchers({ version: 'a"b\\c', namespace: "staging" })).to.equal(
      'namespace="staging",version="a\\"b\\\\c"',
    );
  });

  it("refuses a non-string model version from a file", function () {
    expect(refused(() => parseModelVersion(1.2, "outputs: modelVersion"))).to.equal(
      "outputs: modelVersion must be a string holding a model version (got 1.2)",
    );
  });
});

describe("staging outputs", function () {
  const good = {
    modelVersion: "1.1.0",
    image: "registry.local/churn-model:1.1.0",
    namespace: "staging",
    deployedAt: "2025-03-01T12:00:00Z",
    serviceUrl: "http://churn-model.staging.svc:8080",
    prometheusUrl: "http://127.0.0.1:9090",
    metricsSelector: { namespace: "staging", version: "1.1.0" },
  };

  it("accepts the docs/design.md object and types its values", function () {
    const o = parseStagingOutputs(good, "f");
    expect(o.deployedAt.toISOString()).to.equal("2025-03-01T12:00:00.000Z");
    expect(o.metricsSelector).to.deep.equal({ namespace: "staging", version: "1.1.0" });
  });

  it("accepts the selector as a JSON string, as a stack output may carry it", function () {
    const o = parseStagingOutputs({ ...good, metricsSelector: JSON.stringify(good.metricsSelector) }, "f");
    expect(o.metricsSelector).to.deep.equal({ namespace: "staging", version: "1.1.0" });
  });

  it("accepts a digest version with an image pinned by digest", function () {
    const o = parseStagingOutputs(
      {
        ...good,
        modelVersion: DIGEST,
        image: `registry.local/churn-model@${DIGEST}`,
        metricsSelector: { namespace: "staging", version: versionLabel(DIGEST) },
      },
      "f",
    );
    expect(o.modelVersion).to.equal(DIGEST);
  });

  it("accepts a build-metadata version: its image tag and label value write + as _", function () {
    const o = parseStagingOutputs(
      {
        ...good,
        modelVersion: "1.1.0+b7",
        image: "registry.local/churn-model:1.1.0_b7",
        metricsSelector: { namespace: "staging", version: "1.1.0_b7" },
      },
      "f",
    );
    expect(o.modelVersion).to.equal("1.1.0+b7");
    expect(o.metricsSelector.version).to.equal("1.1.0_b7");
  });

  it("refuses a file that is not an object", function () {
    expect(refused(() => parseStagingOutputs([good], "f"))).to.equal(
      "f must be a JSON object with modelVersion, image, namespace, deployedAt, serviceUrl, prometheusUrl, metricsSelector",
    );
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ["missing keys", { image: undefined, deployedAt: null }, "f is missing image, deployedAt"],
    [
      "latest",
      { modelVersion: "latest" },
      'f: modelVersion "latest" is refused: it must be a pinned version: `latest` is never accepted',
    ],
    [
      "a bad timestamp",
      { deployedAt: "yesterday" },
      'f: deployedAt must be an RFC 3339 timestamp like 2025-03-01T12:00:00Z (got "yesterday")',
    ],
    [
      "an unpinned image",
      { image: "registry.local/churn-model:latest" },
      'f: image "registry.local/churn-model:latest" is not pinned to modelVersion 1.1.0',
    ],
    [
      "a selector of another version",
      { metricsSelector: { namespace: "staging", version: "1.0.0" } },
      'f: metricsSelector.version must be the label value 1.1.0 of the staged modelVersion 1.1.0 (got "1.0.0")',
    ],
    [
      "a build-metadata version's selector that is not its label value",
      {
        modelVersion: "1.1.0+b7",
        image: "registry.local/churn-model:1.1.0_b7",
        metricsSelector: { namespace: "staging", version: "1.1.0+b7" },
      },
      'f: metricsSelector.version must be the label value 1.1.0_b7 of the staged modelVersion 1.1.0+b7 (got "1.1.0+b7")',
    ],
    [
      "a build-metadata version's image whose tag holds +",
      {
        modelVersion: "1.1.0+b7",
        image: "registry.local/churn-model:1.1.0+b7",
        metricsSelector: { namespace: "staging", version: "1.1.0_b7" },
      },
      'f: image "registry.local/churn-model:1.1.0+b7" is not pinned to modelVersion 1.1.0+b7',
    ],
    [
      "a selector without namespace",
      { metricsSelector: { version: "1.1.0" } },
      "f: metricsSelector.namespace must be the staging namespace staging (got undefined)",
    ],
    [
      "a selector string that is not JSON",
      { metricsSelector: "{namespace" },
      "f: metricsSelector is a string that is not a JSON object",
    ],
    [
      "a bad namespace",
      { namespace: "Staging!" },
      'f: namespace "Staging!" is not a Kubernetes namespace name',
    ],
    [
      "a bad Prometheus URL",
      { prometheusUrl: "ftp://x" },
      'f: prometheusUrl must use http or https (got "ftp://x")',
    ],
  ];
  for (const [what, change, message] of bad) {
    it(`refuses ${what}, naming the key`, function () {
      expect(refused(() => parseStagingOutputs({ ...good, ...change }, "f"))).to.equal(message);
    });
  }
});
