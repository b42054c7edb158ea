import js from "@eslint/js";
import tseslint from "typescript-eslint";
import mocha from "eslint-plugin-mocha";

export default tseslint.config(
  { ignores: ["node_modules/**", "bin/**", "reports/**", "scripts/toolchain/go/**", "**/*.js", "**/*.cjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
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
