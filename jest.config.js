// Two projects: `unit` is the fast loop (no external processes); `e2e` runs
// against the local test bed, which its global setup brings up and its global
// teardown always stops, failed tests or not.
const tsJest = [
  "ts-jest",
  { useESM: true, tsconfig: "tsconfig.json", diagnostics: false },
];
const common = {
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: { "^.+\\.ts$": tsJest },
  testEnvironment: "node",
  // Only the sources: a running test bed's .testbed/ holds container images' files.
  roots: ["<rootDir>/operator", "<rootDir>/e2e", "<rootDir>/cdk8s", "<rootDir>/bench"],
};

export default {
  projects: [
    {
      ...common,
      displayName: "unit",
      globalSetup: "<rootDir>/e2e/jest/unit-global-setup.js",
      setupFilesAfterEnv: ["<rootDir>/jest.unit-setup.js"],
      testMatch: ["<rootDir>/operator/src/**/*.test.ts", "<rootDir>/e2e/testbed/**/*.test.ts", "<rootDir>/cdk8s/**/*.test.ts", "<rootDir>/bench/**/*.test.ts"],
    },
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/e2e/suites/**/*.e2e.ts"],
      globalSetup: "<rootDir>/e2e/jest/global-setup.js",
      globalTeardown: "<rootDir>/e2e/jest/global-teardown.js",
      setupFilesAfterEnv: ["<rootDir>/e2e/jest/timeouts.js"],
    },
  ],
};
