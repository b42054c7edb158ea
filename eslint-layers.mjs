/**
 * The import boundaries of the repository as an ESLint rule, `churn/layers`. See
 * docs/design.md ("Layers and imports") for why each layer may import what it may.
 *
 * Every relative import (import, export … from, import(), require()) is resolved against the
 * importing file and both ends are put in a layer; an import into a layer the importing
 * layer may not use is an error. Files under policy/ may moreover import only packages that
 * policy/package.json declares (and Node's crypto), so the pack loads from its own directory.
 */
import * as fs from "fs";
import * as path from "path";
import { fileURLToPath } from "url";

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** First match wins. `may` lists the layers a layer's files may import. */
export const LAYERS = [
  { name: "contract", dir: "policy/contract/", may: ["contract"] },
  // Imported first by the pack's and the program's entries; it imports nothing but Node's module.
  { name: "sdk-loading", dir: "policy/sdk-loading.ts", may: ["sdk-loading"] },
  { name: "pack", dir: "policy/", may: ["pack", "contract", "sdk-loading"] },
  { name: "config", dir: "stacks/config.ts", may: ["config", "contract"] },
  { name: "config", dir: "stacks/trust-roots.ts", may: ["config", "contract"] },
  { name: "config", dir: "stacks/config-reader.ts", may: ["config", "contract"] },
  { name: "config", dir: "stacks/canary-config.ts", may: ["config", "contract"] },
  { name: "program", dir: "stacks/", may: ["program", "config", "components", "contract", "sdk-loading"] },
  { name: "components", dir: "infra/", may: ["components", "contract"] },
  { name: "errors", dir: "scripts/promotion/errors.ts", may: ["errors"] },
  { name: "toolchain", dir: "scripts/toolchain/", may: ["toolchain", "errors"] },
  {
    name: "promotion",
    dir: "scripts/promotion/",
    may: ["promotion", "errors", "contract", "config", "toolchain"],
  },
  {
    name: "tools",
    dir: "scripts/",
    may: ["tools", "promotion", "errors", "contract", "toolchain", "components"],
  },
  { name: "deployments", dir: "deployments/", may: ["deployments", "config", "contract", "toolchain"] },
  { name: "tests", dir: "test/", may: "*" },
];

const NODE_BUILTINS_IN_POLICY = new Set(["crypto", "node:crypto"]);

function layerOf(rel) {
  return LAYERS.find((l) => rel === l.dir || rel.startsWith(l.dir));
}

function packDependencies() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8"));
  return new Set(Object.keys(pkg.dependencies ?? {}));
}

function packageName(source) {
  const parts = source.split("/");
  return source.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

// Every layer named in a `may` list exists.
for (const l of LAYERS) {
  for (const m of l.may === "*" ? [] : l.may) {
    if (!LAYERS.some((x) => x.name === m))
      throw new Error(`eslint-layers: ${l.name} may import unknown layer ${m}`);
  }
}

const layersRule = {
  meta: {
    type: "problem",
    docs: { description: "imports stay within the layers docs/design.md allows" },
    schema: [],
  },
  create(context) {
    const file = path.relative(ROOT, context.filename);
    const from = layerOf(file.split(path.sep).join("/"));
    if (from === undefined || from.may === "*") {
      return {};
    }
    const inPolicy = from.name === "contract" || from.name === "pack" || from.name === "sdk-loading";
    const deps = inPolicy ? packDependencies() : undefined;

    function check(node, source) {
      if (typeof source !== "string") return;
      if (!source.startsWith(".")) {
        if (!inPolicy) return;
        const name = packageName(source);
        if (from.name === "sdk-loading") {
          if (source !== "module" && source !== "node:module")
            context.report({
              node,
              message: `policy/sdk-loading.ts loads before everything: it imports nothing but Node's module (got "${source}")`,
            });
          return;
        }
        if (
          from.name === "contract"
            ? !NODE_BUILTINS_IN_POLICY.has(source)
            : !deps.has(name) && !NODE_BUILTINS_IN_POLICY.has(source)
        ) {
          context.report({
            node,
            message:
              from.name === "contract"
                ? `policy/contract/ is pure code: it imports no package or Node module but crypto (got "${source}")`
                : `policy/ imports only the packages policy/package.json declares ("${name}" is not one)`,
          });
        }
        return;
      }
      const target = path
        .relative(ROOT, path.resolve(path.dirname(context.filename), source))
        .split(path.sep)
        .join("/");
      const candidates = [`${target}.ts`, `${target}/index.ts`, target];
      const resolved = candidates.find((c) => fs.existsSync(path.join(ROOT, c))) ?? target;
      const to = layerOf(resolved);
      if (to === undefined || target.startsWith("..")) {
        context.report({
          node,
          message: `"${source}" leaves the repository's layers (${from.name} may import ${from.may.join(", ")})`,
        });
        return;
      }
      if (!from.may.includes(to.name)) {
        context.report({
          node,
          message: `${from.name} (${from.dir}) may not import ${to.name} (${to.dir}): "${source}"; ${from.name} may import ${from.may.join(", ")}`,
        });
      }
    }

    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) => node.source.type === "Literal" && check(node.source, node.source.value),
      TSImportType: (node) => {
        const arg = node.argument?.literal ?? node.argument;
        if (arg?.type === "Literal") check(arg, arg.value);
      },
      CallExpression: (node) => {
        if (
          node.callee.type === "Identifier" &&
          node.callee.name === "require" &&
          node.arguments[0]?.type === "Literal"
        ) {
          check(node.arguments[0], node.arguments[0].value);
        }
      },
    };
  },
};

export const layersPlugin = { rules: { layers: layersRule } };
