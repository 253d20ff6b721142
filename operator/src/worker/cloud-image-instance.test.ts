import { describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudDiskGiB, guestUserData } from "./cloud-image-instance.js";

const GiB = 1024 ** 3;

describe("the temporary instance of an IntermediateInstance restore", () => {
  it("sizes each cloud disk in whole GiB, at least ECS's smallest data disk", () => {
    expect(cloudDiskGiB(40 * 1024 * 1024)).toBe(20);
    expect(cloudDiskGiB(20 * GiB)).toBe(20);
    expect(cloudDiskGiB(20 * GiB + 1)).toBe(21);
    expect(cloudDiskGiB(100 * GiB - 512)).toBe(100);
  });

  it("gives the guest its spec in user data, with URLs and no credentials", () => {
    const spec = { restoreId: "restore-web-01-abc", attempt: "0a1b2c3d", disks: [{ key: "2000", device: "/dev/xvdb", sizeBytes: 1, url: "https://b.oss/x?x-oss-signature=s" }], resultUrl: "https://b.oss/r?x-oss-signature=t" };
    const script = Buffer.from(guestUserData("docker run -i img", spec), "base64").toString("utf8");
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain("docker run -i img <<'LIFEBOAT_GUEST_SPEC'\n");
    const json = script.split("\n").find((line) => line.startsWith("{"));
    expect(JSON.parse(json ?? "")).toEqual(spec);
    expect(script).toContain("\nLIFEBOAT_GUEST_SPEC\ncode=$?\n");
  });
});

describe("the user data script", () => {
  it("reports a guestCommand that could not run the guest program, with its exit code", async () => {
    let body = "";
    const server = createServer((req, res) => {
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), "user-data-"));
    try {
      const spec = { restoreId: "r-1", attempt: "a-1", disks: [], resultUrl: `http://127.0.0.1:${port}/result?x-oss-signature=abc&x-oss-expires=60` };
      await writeFile(join(dir, "user-data.sh"), Buffer.from(guestUserData("sh -c 'cat >/dev/null; exit 127'", spec), "base64"));
      const code = await new Promise<number | null>((resolve) => spawn("/bin/sh", [join(dir, "user-data.sh")], { stdio: "ignore" }).on("close", resolve));
      expect(code).toBe(0);
      expect(JSON.parse(body)).toEqual({ restoreId: "r-1", attempt: "a-1", ok: false, disks: [], error: "guestCommand failed with exit code 127 before the guest program reported (see the console output of the instance)" });
      // A guest program that reported its own failure (exit 1) is not reported again.
      body = "";
      await writeFile(join(dir, "user-data.sh"), Buffer.from(guestUserData("sh -c 'cat >/dev/null; exit 1'", spec), "base64"));
      await new Promise((resolve) => spawn("/bin/sh", [join(dir, "user-data.sh")], { stdio: "ignore" }).on("close", resolve));
      expect(body).toBe("");
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
