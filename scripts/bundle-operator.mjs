#!/usr/bin/env node
// The operator process as one bundle (dist/bundle/main.js), which the image
// runs: bundled, the operator's RSS is 14 MiB lower idle and 27 MiB lower
// at rest with 13,000 objects (bench:scale, docs/benchmarks.md) than the same
// code loaded as modules. `@kubernetes/client-node` alone is 826 ES modules that all load
// (its ObjectSerializer names every model); each keeps its module record,
// its source and its scope for the process's life. One bundle keeps one.
//
// Whitespace and syntax are minified, identifiers are not: stack traces and
// log lines keep the names of functions and classes (keepNames also keeps
// `.name` for code that reads it). The input is tsc's output in dist/, so
// what is bundled is exactly what the tests ran.
//
// Left outside the bundle and loaded from node_modules at run time: native
// addons (napi-rs and zstd-napi load a platform's `.node` file by path), and
// the packages the code loads with createRequire on first use (the Alibaba
// SDKs, ali-oss), which stay unloaded until a cloud restore needs them.
//
// The vault's block worker is a second entry point beside main.js, because
// the vault starts it as `new URL("./block-worker.js", import.meta.url)`.
// The worker pods' entry points are not bundled: they are short-lived and
// start from dist/operator/src/ as before.
import { build } from "esbuild";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

// Chunks are named by their content's hash: a rebuild writes new names, and
// without this the old ones would pile up here and go into every image built.
await rm(new URL("../dist/bundle/", import.meta.url), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: {
    main: "dist/operator/src/main.js",
    "block-worker": "dist/operator/src/vault/block-worker.js",
  },
  outdir: "dist/bundle",
  entryNames: "[name]",
  chunkNames: "chunk-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  // tr46 (under node-fetch's whatwg-url) requires Node's deprecated built-in
  // punycode; the npm package of the same code (already a dependency) does not warn.
  alias: { punycode: "punycode/" },
  external: ["@napi-rs/*", "zstd-napi", "@alicloud/*", "@darabonba/*", "ali-oss"],
  // CommonJS packages inside an ES module bundle call require() for Node's
  // built-in modules; an ES module has no require of its own.
  banner: { js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);' },
  legalComments: "external",
  logLevel: "warning",
});
