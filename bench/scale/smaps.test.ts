import { spawn } from "node:child_process";
import { describe, expect, it } from "@jest/globals";
import { processMemory } from "./operator.js";
import { parseSmaps, residentMemory, summarizeMappings } from "./smaps.js";

const SMAPS = `00400000-04a00000 r-xp 00000000 fd:00 1234                               /usr/local/bin/node
Size:              71680 kB
Rss:               40960 kB
Pss:               40960 kB
VmFlags: rd ex mr mw me dw
05000000-09000000 rw-p 00000000 00:00 0                                  [heap]
Size:              65536 kB
Rss:               51200 kB
VmFlags: rd wr mr mw me ac
7f0000000000-7f0004000000 rw-p 00000000 00:00 0 
Size:              65536 kB
Rss:                8192 kB
VmFlags: rd wr mr mw me nr
7f0004000000-7f0004040000 rw-p 00000000 00:00 0 
Size:                256 kB
Rss:                 256 kB
7f0005000000-7f0005800000 r--p 00000000 fd:00 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               8192 kB
Rss:                1024 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
Rss:                  64 kB
7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]
Size:                  8 kB
Rss:                   0 kB
`;

describe("parseSmaps and summarizeMappings", () => {
  it("reads each mapping's range, name, size and resident bytes", () => {
    const mappings = parseSmaps(SMAPS);
    expect(mappings).toHaveLength(7);
    expect(mappings[1]).toEqual({ range: "05000000-09000000", perms: "rw-p", name: "[heap]", sizeBytes: 64 * 1024 * 1024, rssBytes: 50 * 1024 * 1024 });
    expect(mappings[2]?.name).toBe("");
  });

  it("groups resident bytes by file base name, [heap], [stack] and anonymous, largest first, and lists the largest anonymous mappings", () => {
    const summary = summarizeMappings(parseSmaps(SMAPS), 1);
    expect(summary.groups).toEqual([
      { name: "[heap]", rssBytes: 50 * 1024 * 1024, mappings: 1 },
      { name: "node", rssBytes: 40 * 1024 * 1024, mappings: 1 },
      { name: "anonymous", rssBytes: (8192 + 256) * 1024, mappings: 2 },
      { name: "libc.so.6", rssBytes: 1024 * 1024, mappings: 1 },
      { name: "[stack]", rssBytes: 64 * 1024, mappings: 1 },
    ]);
    expect(summary.largestAnonymous.map((m) => m.range)).toEqual(["7f0000000000-7f0004000000"]);
  });

  it("adds up to a live process's VmRSS", async () => {
    // Another process, idle: reading a process's own smaps allocates (a Jest worker's is megabytes), which moved
    // this test's own VmRSS by more than the sum is allowed to differ. The sum is compared only from a read during
    // which VmRSS, taken before and after, held still (the idle child's collector may still run now and then).
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      const pid = child.pid ?? 0;
      const vmRss = async () => (await processMemory(pid))?.rss ?? Number.NaN;
      let read: { total: number; vmRss: number; anonymous: boolean } | undefined;
      for (let attempt = 0; attempt < 50 && !read; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const before = await vmRss();
        const summary = await residentMemory(pid);
        const after = await vmRss();
        const groups = summary?.groups ?? [];
        if (before === after && groups.length > 0) read = { total: groups.reduce((n, g) => n + g.rssBytes, 0), vmRss: after, anonymous: groups.some((g) => g.name === "anonymous") };
      }
      if (!read) throw new Error(`the VmRSS of an idle node process (${pid}) never held still across a read of its smaps`);
      expect(Math.abs(read.total - read.vmRss)).toBeLessThan(2 * 1024 * 1024);
      expect(read.anonymous).toBe(true);
    } finally {
      child.kill();
    }
  });
});
