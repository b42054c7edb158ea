/**
 * Mocha root hook (.mocharc.json): before any test, dist/ is compiled from the current sources
 * when it is stale (scripts/toolchain/build.ts), because the npm scripts and the Pulumi program
 * the tests run are that JavaScript. Tests import the TypeScript itself through ts-node.
 */
import { ensureBuilt } from "../../scripts/toolchain/build";

export const mochaHooks = {
  beforeAll(this: { timeout(ms: number): void }): void {
    this.timeout(300_000);
    ensureBuilt((line) => process.stderr.write(`${line}\n`));
  },
};
