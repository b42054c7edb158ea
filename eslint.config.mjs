import js from "@eslint/js";
import tseslint from "typescript-eslint";
import mocha from "eslint-plugin-mocha";
import { layersPlugin } from "./eslint-layers.mjs";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "policy/node_modules/**",
      "bin/**",
      "dist/**",
      "reports/**",
      "scripts/toolchain/go/**",
      "**/*.js",
      "**/*.cjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  // Import boundaries between the layers (docs/design.md, "Layers and imports").
  {
    files: ["**/*.ts"],
    plugins: { churn: layersPlugin },
    rules: { "churn/layers": "error" },
  },
  // The contract is pure: no environment, no process exits, no console.
  {
    files: ["policy/contract/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "process", message: "policy/contract/ is pure: pass what it needs as arguments." },
        { name: "console", message: "policy/contract/ is pure: return problems instead of printing." },
      ],
    },
  },
  { files: ["test/**/*.ts"], ...mocha.configs.flat.recommended },
  {
    files: ["test/**/*.ts"],
    rules: {
      "mocha/no-mocha-arrows": "off",
      "mocha/no-setup-in-describe": "off",
      "mocha/max-top-level-suites": "off",
    },
  },
);
