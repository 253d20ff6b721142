// @ts-check
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "charts/", "crds/", ".testbed/",
    // `cdk8s import` output: its own style (any, eslint-disable comments for rules we do not load).
    "cdk8s/generated/lifeboat.io.ts"] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // @kubernetes/client-node declares API objects as classes, but they are plain
      // JSON on the wire and object literals everywhere in its own docs.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      "@typescript-eslint/no-misused-spread": ["error", { allow: [{ from: "package", package: "@kubernetes/client-node", name: ["V1Lease", "V1LeaseSpec", "V1ObjectMeta"] }] }],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
);
