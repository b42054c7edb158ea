/**
 * `npm run promote -- revoke VERSION`: an operator revokes a model version in production. The
 * revocation is recorded in production's position (`revokedVersions`, which only grows): no
 * earlier evidence of the version applies again, and only a fresh promotion through the gate
 * brings it back. See docs/design.md ("Target, sequence and revocation").
 */
import { modelVersionProblem } from "../../policy/contract";
import { parseStackName } from "./cli-args";
import type { UpdateResult } from "./deployer";
import { BadInput, DependencyUnavailable } from "./errors";
import { signEvidence } from "./evidence";
import type { PromotionDeps } from "./promotion";
import { rollbackRecord } from "./record";
import type { ProductionStack } from "./production-stack";
import { loadThresholds } from "./thresholds";

export const REVOKE_USAGE = `Usage: npm run promote -- revoke VERSION [--to STACK]

Revokes VERSION in the production stack (default: production): the update records it in
production's revokedVersions, so no earlier promotion or rollback evidence of VERSION is
accepted again by the program or the policy pack; only a fresh promotion through the gate
brings it back. The version production runs cannot be revoked (roll back or promote another
version first). When the update fails, the stack config is restored and nothing is recorded.

Exit codes: 0 revoked (or already revoked), 2 bad input, an unreachable dependency or a
failed update (nothing recorded), 1 unexpected failure.
`;

export interface RevokeOptions {
  readonly version: string;
  readonly to: string;
  readonly help: boolean;
}

/** The stack config key the revocations go through (stacks/config.ts). */
export const REVOKE_KEY = "churn-model:revokeVersions";

export function parseRevokeArgs(argv: readonly string[]): RevokeOptions {
  let version: string | undefined;
  let to: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") help = true;
    else if (a === "--to") {
      const v = argv[++i];
      if (v === undefined) throw new BadInput("--to needs a value");
      if (to !== undefined) throw new BadInput("--to was given twice");
      to = parseStackName(v, "--to");
    } else if (a.startsWith("-"))
      throw new BadInput(`unknown option ${JSON.stringify(a)} for revoke (see --help)`);
    else if (version !== undefined) throw new BadInput(`revoke takes one VERSION (got ${version} and ${a})`);
    else {
      const problem = modelVersionProblem(a);
      if (problem !== undefined) throw new BadInput(`revoke: VERSION ${JSON.stringify(a)} ${problem}`);
      version = a;
    }
  }
  if (help) return { version: version ?? "", to: to ?? "production", help };
  if (version === undefined) throw new BadInput("revoke needs the VERSION to revoke (see --help)");
  return { version, to: to ?? "production", help };
}

/** Adds `version` to the stack's revokeVersions for `update`; restores the config when it fails. */
export async function withRevocation(
  stack: Pick<ProductionStack, "getAllConfig" | "setConfig" | "removeConfig">,
  version: string,
  update: () => Promise<UpdateResult>,
): Promise<UpdateResult> {
  const before = (await stack.getAllConfig())[REVOKE_KEY];
  let list: unknown = [];
  try {
    list = before === undefined ? [] : JSON.parse(before.value);
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list)) {
    throw new BadInput(
      `${REVOKE_KEY} is not a JSON list of versions; fix the stack config first (nothing was changed)`,
    );
  }
  await stack.setConfig(REVOKE_KEY, {
    value: JSON.stringify([...new Set([...(list as string[]), version])]),
  });
  const result = await update();
  if (!result.ok) {
    if (before === undefined) await stack.removeConfig(REVOKE_KEY);
    else await stack.setConfig(REVOKE_KEY, before);
  }
  return result;
}

/** Runs `revoke` after its arguments are parsed; throws the typed errors of errors.ts. */
export async function runRevoke(o: RevokeOptions, deps: PromotionDeps): Promise<void> {
  const policyConfigFile = deps.policyConfig(o.to);
  const deployer = deps.deployer({
    stack: o.to,
    policyConfigFile,
    thresholds: loadThresholds(policyConfigFile),
    bakeSeconds: 0,
    log: deps.log,
  });
  if (deployer.revoke === undefined) throw new BadInput(`${o.to} cannot record revocations`);
  try {
    // The lock first, and whatever an interrupted promotion left is finished.
    await deployer.prepare({
      readOnly: false,
      signRollback: (previous, approver, target) =>
        signEvidence(rollbackRecord(previous, approver, deps.now(), target), deps.signingKey()),
    });
    const current = await deployer.current();
    if (current.modelVersion === o.version) {
      throw new BadInput(
        `${o.to} runs ${o.version}: roll it back or promote another version before revoking it; nothing was changed`,
      );
    }
    const result = await deployer.revoke(o.version, deps.log);
    if (!result.ok) {
      throw new DependencyUnavailable(
        `the revocation of ${o.version} was not recorded: the update of ${o.to} failed (${result.reason}); ` +
          "its stack config is as before",
      );
    }
    deps.log(`Revoked ${o.version} in ${o.to}: only a fresh promotion through the gate brings it back.`);
  } finally {
    await deployer.close();
  }
}
