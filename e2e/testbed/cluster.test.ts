import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { unexpectedStop } from "./cluster.js";
import { testbedDir } from "./paths.js";

const name = `unit-stop-${process.pid}`;
const logs = join(testbedDir(name), "logs");

async function supervisorLog(...entries: Record<string, unknown>[]): Promise<void> {
  await mkdir(logs, { recursive: true });
  // Lines that are not JSON, or cut short (a full disk), are skipped.
  await writeFile(join(logs, "supervisor.log"), `not json\n${entries.map((e) => JSON.stringify(e)).join("\n")}\n{"msg":"Stopp`);
}

afterEach(async () => {
  await rm(testbedDir(name), { recursive: true, force: true });
});

describe("why a test bed stopped on its own", () => {
  it("names the component that exited and shows the end of its log", async () => {
    const etcdLog = join(logs, "etcd.log");
    await supervisorLog(
      { msg: "Test bed is ready" },
      { msg: "Stopping test bed", reason: `etcd exited with 2; see ${etcdLog}` },
      { msg: "Stopping test bed", reason: "SIGTERM" },
    );
    await writeFile(etcdLog, `${Array.from({ length: 40 }, (_, i) => `line ${i}`).join("\n")}\npanic: write wal: no space left on device\n`);
    const report = await unexpectedStop(name);
    expect(report).toContain(`stopped on its own: etcd exited with 2; see ${etcdLog}`);
    expect(report).toContain("panic: write wal: no space left on device");
    expect(report).not.toContain("line 5\n"); // only the tail
    expect(report).toMatch(/Free space on the test bed's file system: \d+\.\d GiB/);
  });

  it("says nothing when the test bed was only told to stop, or never logged", async () => {
    expect(await unexpectedStop(name)).toBeUndefined();
    await supervisorLog({ msg: "Test bed is ready" }, { msg: "Stopping test bed", reason: "SIGTERM" });
    expect(await unexpectedStop(name)).toBeUndefined();
  });
});
