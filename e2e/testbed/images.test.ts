import { describe, expect, it } from "@jest/globals";
import { ImageNotMappedError, resolveContainerCommand } from "./images.js";
import { repoRoot } from "./paths.js";

describe("the local node's image table", () => {
  it("runs node images on this machine's Node.js", () => {
    expect(resolveContainerCommand("node:20", ["node", "-e", "1"], undefined)).toEqual({ file: process.execPath, args: ["-e", "1"] });
    expect(resolveContainerCommand("docker.io/library/node:20-slim", undefined, ["x.js"])).toEqual({ file: process.execPath, args: ["x.js"] });
  });

  it("maps the operator image's /app paths to this checkout and keeps args after the entrypoint", () => {
    const r = resolveContainerCommand("ghcr.io/lifeboat-io/lifeboat:0.1.0", undefined, ["--leader-elect"]);
    expect(r).toEqual({ file: process.execPath, args: [`${repoRoot}/dist/operator/src/main.js`, "--leader-elect"], workingDir: repoRoot });
  });

  it("lets command replace the entrypoint, as in Kubernetes", () => {
    const r = resolveContainerCommand("ghcr.io/lifeboat-io/lifeboat:latest", ["node", "/app/dist/operator/src/worker/main.js"], ["backup"]);
    expect(r.args).toEqual([`${repoRoot}/dist/operator/src/worker/main.js`, "backup"]);
  });

  it("refuses an unknown image with a message that names the table", () => {
    expect(() => resolveContainerCommand("nginx:1.27", undefined, undefined)).toThrow(ImageNotMappedError);
    expect(() => resolveContainerCommand("nginx:1.27", undefined, undefined)).toThrow(/nginx:1\.27 is not in the local node's image table .*e2e\/testbed\/images\.ts/);
  });
});
