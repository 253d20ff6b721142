// Disaster recovery, part 2, against real components: the whole round trip
// with byte identity at every step. Data A at the source → replicated →
// planned failover from "latest" (the operator killed on the way) → the
// recovered VM equals the source at shutdown → the point changed before
// commit → commit fences the original → data B on the recovered VM →
// reverse replication moves about B across sites → failback in place (the
// operator killed again) → the original equals the recovered VM's final
// state → forward replication resumes reading only changed areas. Then an
// unplanned failover with the protected vCenter frozen.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { labelValue } from "../../operator/src/workloads/worker-job.js";
import {
  apply, betweenCycles, condition, firstDisk, getObject, hashFile, metricValue, MiB, mixedData, nextSucceededCycle, operatorMetrics, patchSpec, psStatus, restartOperator, sha256, startSites,
  vmByName, type DrSites, type PsStatus,
} from "../support/dr.js";
import { waitForCondition } from "../support/lifeboat.js";
import { eventually } from "../support/testbed.js";

jest.setTimeout(900_000);

const DATA = 64 * MiB;
let s: DrSites;
let vm: string;
/** What the protected VM's disk holds, as the test wrote it. */
let source: Buffer;
/** What it held before data A. */
let initialData: Buffer;
/** Content of the point the first failover's recovered VM is made from. */
let failoverContent: Buffer;
let recoveredName: string;
/** What the recovered VM's disk holds after the test's writes there. */
let recovered: Buffer;

function waitStage(name: string, stage: string, timeoutMs = 300_000): Promise<PsStatus> {
  return eventually(`${name} in stage ${stage}`, async () => {
    const st = await psStatus(s, name);
    return st.stage === stage ? st : undefined;
  }, timeoutMs);
}

async function recoveredVms(): Promise<number> {
  return (await vmByName(s.recoveryClient, recoveredName)).length;
}

async function restoreJobs(step: string): Promise<string[]> {
  const jobs = await s.batch.listNamespacedJob({ namespace: s.ns, labelSelector: `lifeboat.io/protected-server=${labelValue("db")},lifeboat.io/dr-job=restore` });
  return jobs.items.map((j) => j.metadata?.name ?? "").filter((n) => n.includes(step));
}

beforeAll(async () => {
  s = await startSites({ vms: 1, prefix: "dr2" });
  [vm = ""] = s.vms;
  recoveredName = vm;
  source = mixedData(DATA, 2);
  initialData = Buffer.from(source);
  await s.protectedSim.writeDisk(vm, (await firstDisk(s.protectedSim, vm)).key, 0, source);
  await apply(s, "ProtectedServer", "db", { sitePairRef: { name: "pair" }, source: { vmName: vm }, replication: { crashConsistentIntervalMinutes: 1 }, recovery: { cpu: 2, memoryGiB: 2 } });
  await waitStage("db", "RealTimeReplication");
});

afterAll(async () => {
  await (s as DrSites | undefined)?.stop();
});

describe("failover, commit, reverse replication and failback between two vSphere sites", () => {
  it("fails over from 'latest' as a planned failover: the recovered VM equals the source at shutdown, made once though the operator was killed", async () => {
    const before = await betweenCycles(s, "db");
    // Data A, written after the newest point: only a planned failover keeps it.
    const a = randomBytes(4 * MiB);
    a.copy(source, 8 * MiB);
    await s.protectedSim.writeDisk(vm, (await firstDisk(s.protectedSim, vm)).key, 8 * MiB, a);
    await patchSpec(s, "ProtectedServer", "db", { desiredState: "FailedOver" });
    await eventually("the failover to start its steps", async () => ((await psStatus(s, "db")).failover?.step ? true : undefined), 60_000);
    await restartOperator(s.core);
    const st = await waitStage("db", "FailedOver", 600_000);
    expect(st.failover?.planned).toBe(true);
    expect(st.failover?.dataAtRiskSeconds).toBe(0);
    expect(st.failover?.latestUsed).toBe(true);
    expect(st.failover?.rtoSeconds).toBeGreaterThan(0);
    expect(st.lastCycle?.id).not.toBe(before.lastCycle?.id);
    const [protectedVm] = await vmByName(s.protectedClient, vm);
    expect(protectedVm?.powerState).toBe("poweredOff");
    // Exactly one recovered VM and one restore Job, whatever the restart did.
    expect(await recoveredVms()).toBe(1);
    expect(await restoreJobs("failover")).toHaveLength(1);
    const [rvm] = await vmByName(s.recoveryClient, recoveredName);
    expect(rvm?.powerState).toBe("poweredOn");
    expect(rvm?.numCpu).toBe(2);
    expect(rvm?.memoryMB).toBe(2048);
    const disk = await firstDisk(s.recoverySim, recoveredName);
    expect(await hashFile(disk.flatPath, DATA)).toBe(sha256(source));
    failoverContent = Buffer.from(source);
    const metrics = await operatorMetrics();
    expect(metricValue(metrics, "lifeboat_protected_server_rto_seconds", { namespace: s.ns, protected_server: "db", operation: "failover" })).toBeGreaterThan(0);
  });

  it("changes the point before commit: one recovered VM at a time, from the new point; 'latest' cannot be used twice", async () => {
    const rps = (await s.custom.listNamespacedCustomObject({ group: "lifeboat.io", version: "v1alpha1", namespace: s.ns, plural: "recoverypoints" })) as { items: { metadata: { name: string }; spec: { pointID: string; time: string; protectedServerRef?: { name: string } } }[] };
    const mine = rps.items.filter((r) => r.spec.protectedServerRef?.name === "db").sort((a, b) => a.spec.time.localeCompare(b.spec.time));
    const first = mine[0];
    const planned = (await psStatus(s, "db")).failover;
    expect(first).toBeDefined();
    await patchSpec(s, "ProtectedServer", "db", { recoveryPoint: first?.metadata.name });
    const changed = await eventually("the recovered VM made from the first point", async () => {
      const st = await psStatus(s, "db");
      if ((await recoveredVms()) > 1) throw new Error("two recovered VMs at once");
      return st.failover?.recoveryPoint === first?.metadata.name && st.failover?.step === "Done" ? st : undefined;
    }, 300_000);
    expect(changed.failover?.vm?.moRef).not.toBe(planned?.vm?.moRef);
    expect(await recoveredVms()).toBe(1);
    // The first point holds the initial data, without A.
    const disk = await firstDisk(s.recoverySim, recoveredName);
    expect(await hashFile(disk.flatPath, DATA)).toBe(sha256(initialData));

    await patchSpec(s, "ProtectedServer", "db", { recoveryPoint: "latest" });
    const refused = await waitForCondition("ProtectedServer", s.ns, "db", "FailedOver", "True", "LatestUsed", 60_000);
    expect(refused.message).toContain("can be used once per failover");
    // Back to the planned point, by its name.
    await patchSpec(s, "ProtectedServer", "db", { recoveryPoint: planned?.recoveryPoint });
    await eventually("the recovered VM made from the planned point again", async () => {
      const st = await psStatus(s, "db");
      return st.failover?.recoveryPoint === planned?.recoveryPoint && st.failover?.step === "Done" ? st : undefined;
    }, 300_000);
    expect(await recoveredVms()).toBe(1);
    expect(await hashFile((await firstDisk(s.recoverySim, recoveredName)).flatPath, DATA)).toBe(sha256(failoverContent));
  });

  it("commit fences the original: powered off, NICs disconnected, never deleted", async () => {
    await patchSpec(s, "ProtectedServer", "db", { commitFailover: true });
    await waitForCondition("ProtectedServer", s.ns, "db", "SourceFenced", "True", "Fenced", 120_000);
    const [original] = await vmByName(s.protectedClient, vm);
    expect(original).toBeDefined();
    expect(original?.powerState).toBe("poweredOff");
    expect(original?.nics.length).toBeGreaterThan(0);
    for (const nic of original?.nics ?? []) {
      expect(nic.connected).toBe(false);
      expect(nic.startConnected).toBe(false);
    }
    expect((await psStatus(s, "db")).pinnedPoints ?? []).toHaveLength(0);
  });

  it("reverse replication moves about B's size between sites, not the disk", async () => {
    const disk = await firstDisk(s.recoverySim, recoveredName);
    recovered = Buffer.from(failoverContent);
    const b = randomBytes(6 * MiB);
    b.copy(recovered, 20 * MiB);
    await s.recoverySim.writeDisk(recoveredName, disk.key, 20 * MiB, b);
    await patchSpec(s, "ProtectedServer", "db", { desiredState: "ReverseReplicating", reverseInPlace: true, confirmReverseInPlace: true });
    const st = await waitStage("db", "ReverseRealTimeReplication", 600_000);
    expect(st.direction).toBe("Reverse");
    // A planned failover left the original equal to the failover point: the seed fetched nothing.
    expect(st.reverse?.seedBytesTransferred).toBeLessThan(MiB);
    expect(st.lastCycle?.bytesRead).toBe(6 * MiB);
    expect(st.reverse?.bytesTransferred).toBeGreaterThan(5 * MiB);
    expect(st.reverse?.bytesTransferred).toBeLessThan(8 * MiB);
    const metrics = await operatorMetrics();
    const moved = metricValue(metrics, "lifeboat_replication_transferred_bytes_total", { namespace: s.ns, protected_server: "db", direction: "reverse" }) ?? 0;
    expect(moved).toBeGreaterThan(5 * MiB);
    expect(moved).toBeLessThan(8 * MiB);
  });

  it("fails back in place exactly once though the operator was killed: the original equals the recovered VM's final state", async () => {
    const c = randomBytes(2 * MiB);
    c.copy(recovered, 30 * MiB);
    await s.recoverySim.writeDisk(recoveredName, (await firstDisk(s.recoverySim, recoveredName)).key, 30 * MiB, c);
    await patchSpec(s, "ProtectedServer", "db", { desiredState: "FailedBack" });
    await eventually("the failback's restore to start", async () => ((await psStatus(s, "db")).failback?.step === "Restoring" ? true : undefined), 300_000);
    await restartOperator(s.core);
    const st = await waitStage("db", "FailedBack", 600_000);
    expect(await restoreJobs("failback")).toHaveLength(1);
    const [original] = await vmByName(s.protectedClient, vm);
    expect(st.failback?.vm?.moRef).toBe(original?.ref.value);
    expect(original?.powerState).toBe("poweredOn");
    for (const nic of original?.nics ?? []) expect(nic.connected).toBe(true);
    expect(await hashFile((await firstDisk(s.protectedSim, vm)).flatPath, DATA)).toBe(sha256(recovered));
    const [fenced] = await vmByName(s.recoveryClient, recoveredName);
    expect(fenced?.powerState).toBe("poweredOff");
    for (const nic of fenced?.nics ?? []) expect(nic.connected).toBe(false);
  });

  it("replicates forward again without a full resync: the next cycle reads only what changed", async () => {
    await patchSpec(s, "ProtectedServer", "db", { desiredState: "Replicating", commitFailover: false });
    const st = await waitStage("db", "RealTimeReplication", 300_000);
    expect(st.direction).toBe("Forward");
    expect(await vmByName(s.recoveryClient, recoveredName)).toHaveLength(0);
    const before = await betweenCycles(s, "db");
    await s.protectedSim.writeDisk(vm, (await firstDisk(s.protectedSim, vm)).key, 44 * MiB, randomBytes(3 * MiB));
    const cycle = await nextSucceededCycle(s, "db", before.lastCycle?.id);
    expect(cycle.bytesRead).toBe(3 * MiB);
    expect(cycle.resync).toBeUndefined();
  });

  it("an unplanned failover with the protected vCenter frozen uses the newest point, says the data at risk, and fences once the site is back", async () => {
    const last = await betweenCycles(s, "db");
    s.protectedSim.pause();
    try {
      await waitForCondition("VCenter", s.ns, "vc-protected", "Connected", "False", undefined, 240_000);
      await patchSpec(s, "ProtectedServer", "db", { desiredState: "FailedOver", recoveryPoint: "latest" });
      const st = await waitStage("db", "FailedOver", 600_000);
      expect(st.failover?.planned).toBe(false);
      expect(st.failover?.pointID).toBe(last.lastCycle?.pointID);
      expect(st.failover?.dataAtRiskSeconds).toBeGreaterThan(0);
      await patchSpec(s, "ProtectedServer", "db", { commitFailover: true });
      const waiting = await waitForCondition("ProtectedServer", s.ns, "db", "SourceFenced", "False", "SourceUnreachable", 120_000);
      expect(waiting.message).toContain("waiting for the protected site");
    } finally {
      s.protectedSim.resume();
    }
    await waitForCondition("ProtectedServer", s.ns, "db", "SourceFenced", "True", undefined, 300_000);
    const [original] = await vmByName(s.protectedClient, vm);
    expect(original?.powerState).toBe("poweredOff");
    const st = await getObject<{ status: PsStatus }>(s, "ProtectedServer", "db");
    expect(condition(st.status, "FailedOver")?.status).toBe("True");
  });
});
