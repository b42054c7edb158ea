/**
 * The import boundaries (eslint-layers.mjs, docs/design.md "Layers and imports"): ESLint fails
 * on an import that crosses a layer the wrong way, and the repository as it is passes.
 */
import { expect } from "chai";
import * as path from "path";

interface LintMessage {
  readonly ruleId: string | null;
  readonly message: string;
}
/** The part of ESLint's Node.js API used here (eslint 9.9 ships no type declarations). */
interface ESLintApi {
  ESLint: new (opts: { cwd: string }) => {
    lintText(code: string, opts: { filePath: string }): Promise<{ messages: LintMessage[] }[]>;
  };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ESLint } = require("eslint") as ESLintApi;

const ROOT = path.resolve(__dirname, "..", "..");

async function layerErrors(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === "churn/layers").map((m) => m.message);
}

describe("the import boundaries between layers", function () {
  this.timeout(120_000);

  it("refuses a policy that imports from scripts/", async function () {
    expect(
      await layerErrors(
        "policy/policies/x.ts",
        'import { gate } from "../../scripts/promotion/gate";\nexport const y = gate;\n',
      ),
    ).to.deep.equal([
      'pack (policy/) may not import promotion (scripts/promotion/): "../../scripts/promotion/gate"; pack may import pack, contract, sdk-loading',
    ]);
  });

  it("keeps the SDK loader to Node's module and to itself: it loads before anything else", async function () {
    expect(
      await layerErrors(
        "policy/sdk-loading.ts",
        'import { Module } from "module";\nimport * as policy from "@pulumi/policy";\nimport { x } from "./contract";\nexport const y = [Module, policy, x];\n',
      ),
    ).to.deep.equal([
      'policy/sdk-loading.ts loads before everything: it imports nothing but Node\'s module (got "@pulumi/policy")',
      'sdk-loading (policy/sdk-loading.ts) may not import contract (policy/contract/): "./contract"; sdk-loading may import sdk-loading',
    ]);
  });

  it("refuses a package the pack's package.json does not declare", async function () {
    expect(
      await layerErrors("policy/policies/x.ts", 'import * as yaml from "js-yaml";\nexport const y = yaml;\n'),
    ).to.deep.equal([
      'policy/ imports only the packages policy/package.json declares ("js-yaml" is not one)',
    ]);
  });

  it("keeps the contract free of packages and Node modules other than crypto", async function () {
    expect(
      await layerErrors(
        "policy/contract/x.ts",
        'import * as fs from "fs";\nimport * as crypto from "crypto";\nexport const y = [fs, crypto];\n',
      ),
    ).to.deep.equal([
      'policy/contract/ is pure code: it imports no package or Node module but crypto (got "fs")',
    ]);
  });

  it("keeps the contract from the pack's own helpers", async function () {
    expect(
      await layerErrors("policy/contract/x.ts", 'export { record } from "../lib/values";\n'),
    ).to.deep.equal([
      'contract (policy/contract/) may not import pack (policy/): "../lib/values"; contract may import contract',
    ]);
  });

  it("refuses the program importing the promotion tools, and the promotion tools importing the program", async function () {
    expect(
      await layerErrors(
        "stacks/program.ts",
        'export { signEvidence } from "../scripts/promotion/evidence";\n',
      ),
    ).to.deep.equal([
      'program (stacks/) may not import promotion (scripts/promotion/): "../scripts/promotion/evidence"; program may import program, config, components, contract, sdk-loading',
    ]);
    expect(
      await layerErrors("scripts/promotion/parsers.ts", 'export { program } from "../../stacks/program";\n'),
    ).to.deep.equal([
      'promotion (scripts/promotion/) may not import program (stacks/): "../../stacks/program"; promotion may import promotion, errors, contract, config, toolchain',
    ]);
  });

  it("refuses a dynamic import or require across layers too", async function () {
    expect(
      await layerErrors(
        "infra/x.ts",
        'export async function f() {\n  return [await import("../stacks/config"), require("../scripts/promotion/gate")];\n}\n',
      ),
    ).to.have.length(2);
  });

  it("lets the Deployments program read the pack's name from the contract, not from the policies", async function () {
    expect(
      await layerErrors("deployments/x.ts", 'export { PACK_NAME } from "../policy/contract";\n'),
    ).to.deep.equal([]);
    expect(
      await layerErrors("deployments/x.ts", 'export { policies } from "../policy/pack";\n'),
    ).to.deep.equal([
      'deployments (deployments/) may not import pack (policy/): "../policy/pack"; deployments may import deployments, config, contract, toolchain',
    ]);
  });

  it("lets the Deployments program read its config with the config layer's reader, never the program or its parts", async function () {
    expect(
      await layerErrors("deployments/x.ts", 'export { ConfigReader } from "../stacks/config-reader";\n'),
    ).to.deep.equal([]);
    expect(
      await layerErrors(
        "deployments/x.ts",
        'export { declareProgram } from "../stacks/program";\nexport { ModelService } from "../infra";\n',
      ),
    ).to.deep.equal([
      'deployments (deployments/) may not import program (stacks/): "../stacks/program"; deployments may import deployments, config, contract, toolchain',
      'deployments (deployments/) may not import components (infra/): "../infra"; deployments may import deployments, config, contract, toolchain',
    ]);
  });

  it("keeps the config layer's canary part and reader from the program and the components", async function () {
    for (const file of ["stacks/canary-config.ts", "stacks/config-reader.ts"]) {
      expect(await layerErrors(file, 'export { ModelService } from "../infra";\n')).to.deep.equal([
        `config (${file}) may not import components (infra/): "../infra"; config may import config, contract`,
      ]);
    }
  });
});
