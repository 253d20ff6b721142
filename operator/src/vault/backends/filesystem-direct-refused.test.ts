/**
 * A filesystem that refuses direct I/O (tmpfs before Linux 6.6, ramfs, some
 * FUSE and overlay setups answer an O_DIRECT open with EINVAL): the vault
 * writes every byte through the page cache instead, asks only once, and
 * then stops handing out the aligned buffers only direct writes need. The
 * refusal is the kernel's answer, played by `open` here, since this
 * machine's filesystems all accept O_DIRECT.
 */
import { describe, expect, it, jest } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIRECT_ALIGNMENT, directLength, O_DIRECT } from "./direct-io.js";

const fs = await import("node:fs/promises");
const directOpens: string[] = [];
jest.unstable_mockModule("node:fs/promises", () => ({
  ...fs,
  open: (path: string, flags?: string | number, mode?: number) => {
    if (O_DIRECT !== undefined && typeof flags === "number" && (flags & O_DIRECT) !== 0) {
      directOpens.push(path);
      return Promise.reject(Object.assign(new Error(`EINVAL: invalid argument, open '${path}'`), { code: "EINVAL" }));
    }
    return fs.open(path, flags, mode);
  },
}));
const { FilesystemBackend } = await import("./filesystem.js");

describe("a filesystem that refuses direct I/O", () => {
  it("gets every byte through the cache, is asked once, and then gets plain pack buffers", async () => {
    if (O_DIRECT === undefined) return; // No O_DIRECT on this platform: there is nothing to refuse.
    const dir = await fs.mkdtemp(join(tmpdir(), "direct-refused-"));
    try {
      const backend = new FilesystemBackend(dir);
      const first = backend.packBuffer(4 * DIRECT_ALIGNMENT + 500);
      expect(directLength(first)).toBe(4 * DIRECT_ALIGNMENT);
      randomBytes(first.length).copy(first);
      const pack = [first, randomBytes(200), randomBytes(8)];
      await backend.put("packs/a", pack);
      expect((await backend.get("packs/a")).equals(Buffer.concat(pack))).toBe(true);
      expect(directOpens).toHaveLength(1);
      expect(backend.directBytes).toBe(0);

      const next = backend.packBuffer(4 * DIRECT_ALIGNMENT);
      expect(directLength(next)).toBe(0);
      await backend.put("packs/b", [first]);
      expect((await backend.get("packs/b")).equals(first)).toBe(true);
      expect(directOpens).toHaveLength(1);
      // No temporary file is left behind by the refused attempt.
      expect((await fs.readdir(join(dir, "packs"))).sort()).toEqual(["a", "b"]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
