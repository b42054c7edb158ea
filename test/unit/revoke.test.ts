/**
 * `npm run promote -- revoke VERSION` (scripts/promotion/revoke.ts) and where the rollback's
 * target comes from (scripts/promotion/production-position.ts): the engine's update history.
 */
import { expect } from "chai";
import { PassThrough } from "stream";
import { main } from "../../scripts/promote";
import type { ProductionDeployer, ProductionState, UpdateResult } from "../../scripts/promotion/deployer";
import { BadInput, DependencyUnavailable } from "../../scripts/promotion/errors";
import { lastSuccessfulRun } from "../../scripts/promotion/production-position";
import type { PromotionDeps } from "../../scripts/promotion/promotion";
import {
  parseRevokeArgs,
  REVOKE_KEY,
  REVOKE_USAGE,
  runRevoke,
  withRevocation,
} from "../../scripts/promotion/revoke";
import { TEST_TARGET } from "../fixtures/evidence-records";
import { FakeStack, THRESHOLDS_FILE } from "../helpers/fake-stack";

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      stdin: new PassThrough(),
      env: {},
    },
  };
}

class Production {
  readonly calls: string[] = [];
  constructor(
    private readonly runs: string,
    private readonly result: UpdateResult = { ok: true, updateVersion: 5 },
  ) {}
  async prepare() {
    this.calls.push("prepare");
  }
  async close() {
    this.calls.push("close");
  }
  async current(): Promise<ProductionState> {
    return { modelVersion: this.runs, evidence: null };
  }
  async target() {
    return TEST_TARGET;
  }
  async revoke(version: string): Promise<UpdateResult> {
    this.calls.push(`revoke ${version}`);
    return this.result;
  }
}

function deps(production: Production): PromotionDeps {
  return {
    policyConfig: () => THRESHOLDS_FILE,
    deployer: () => production as unknown as ProductionDeployer,
    log: () => undefined,
    now: () => new Date(),
    signingKey: () => {
      throw new Error("no key needed");
    },
  } as unknown as PromotionDeps;
}

describe("npm run promote -- revoke", function () {
  it("prints its help with exit 0", async function () {
    const t = io();
    expect(await main(["revoke", "--help"], t.io)).to.equal(0);
    expect(t.out.join("")).to.equal(REVOKE_USAGE);
    expect(REVOKE_USAGE).to.match(/^Usage: npm run promote -- revoke VERSION \[--to STACK\]/);
  });

  it("refuses bad input with exit 2, naming it", async function () {
    for (const [argv, message] of [
      [["revoke"], "promote: revoke needs the VERSION to revoke (see --help)\n"],
      [["revoke", "1.4"], 'promote: revoke: VERSION "1.4" '],
      [["revoke", "1.4.0", "--force"], 'promote: unknown option "--force" for revoke (see --help)\n'],
      [["revoke", "1.4.0", "1.5.0"], "promote: revoke takes one VERSION (got 1.4.0 and 1.5.0)\n"],
      [["revoke", "1.4.0", "--to"], "promote: --to needs a value\n"],
    ] as const) {
      const t = io();
      expect(await main([...argv], t.io), argv.join(" ")).to.equal(2);
      expect(t.err.join("")).to.satisfy((s: string) => s.startsWith(message), t.err.join(""));
    }
  });

  it("parses the version and the target stack", function () {
    expect(parseRevokeArgs(["1.4.0", "--to", "production-eu"])).to.deep.equal({
      version: "1.4.0",
      to: "production-eu",
      help: false,
    });
  });

  it("revokes a version production does not run, under the promotion lock", async function () {
    const p = new Production("1.1.0");
    await runRevoke({ version: "1.4.0", to: "production", help: false }, deps(p));
    expect(p.calls).to.deep.equal(["prepare", "revoke 1.4.0", "close"]);
  });

  it("refuses the version production runs (exit 2), changing nothing", async function () {
    const p = new Production("1.4.0");
    const err = await runRevoke({ version: "1.4.0", to: "production", help: false }, deps(p)).catch((e) => e);
    expect(err).to.be.instanceOf(BadInput);
    expect((err as Error).message).to.equal(
      "production runs 1.4.0: roll it back or promote another version before revoking it; nothing was changed",
    );
    expect(p.calls).to.deep.equal(["prepare", "close"]);
  });

  it("reports a failed update as not recorded (exit 2)", async function () {
    const p = new Production("1.1.0", { ok: false, reason: "policy violation" });
    const err = await runRevoke({ version: "1.4.0", to: "production", help: false }, deps(p)).catch((e) => e);
    expect(err).to.be.instanceOf(DependencyUnavailable);
    expect((err as Error).message).to.contain("the revocation of 1.4.0 was not recorded");
  });

  it("adds the version to churn-model:revokeVersions for the update, and restores the config when it fails", async function () {
    const stack = new FakeStack({ [REVOKE_KEY]: '["0.9.0"]' });
    const seen: string[] = [];
    const ok = await withRevocation(stack.asStack(), "1.4.0", async () => {
      seen.push(stack.config[REVOKE_KEY].value);
      return { ok: true, updateVersion: 1 };
    });
    expect(ok.ok).to.equal(true);
    expect(seen).to.deep.equal(['["0.9.0","1.4.0"]']);
    expect(stack.config[REVOKE_KEY].value).to.equal('["0.9.0","1.4.0"]');

    const fresh = new FakeStack({});
    await withRevocation(fresh.asStack(), "1.4.0", async () => ({ ok: false, reason: "failed" }));
    expect(fresh.config[REVOKE_KEY]).to.equal(undefined);
    expect(fresh.calls).to.deep.equal([`set ${REVOKE_KEY}`, `remove ${REVOKE_KEY}`]);
  });
});

describe("the version a rollback returns to", function () {
  const entry = (kind: string, result: string, version: string) => ({
    kind,
    result,
    startTime: new Date(),
    version: 0,
    config: {
      "churn-model:modelVersion": { value: version },
      "churn-model:promotionEvidence": { value: "" },
    },
  });

  it("is the one of production's last successful update in the engine's history, not the stack file's", async function () {
    // The checkout's stack config says 1.9.0; the engine's history says 1.1.0 ran last successfully.
    const stack = new FakeStack({ "churn-model:modelVersion": "1.9.0" });
    stack.historyEntries = [
      entry("update", "failed", "1.4.0"),
      entry("refresh", "succeeded", "1.4.0"),
      entry("update", "succeeded", "1.1.0"),
      entry("update", "succeeded", "1.0.0"),
    ] as unknown as typeof stack.historyEntries;
    expect(await lastSuccessfulRun(stack.asStack())).to.deep.equal({ modelVersion: "1.1.0", evidence: null });
  });

  it("is nothing before production's first successful update", async function () {
    expect(
      await lastSuccessfulRun(new FakeStack({ "churn-model:modelVersion": "1.9.0" }).asStack()),
    ).to.deep.equal({
      modelVersion: null,
      evidence: null,
    });
  });
});
