import { beforeAll, describe, expect, it } from "@jest/globals";
import { dump } from "js-yaml";
import { createNamespace, kubectl } from "../support/testbed.js";

let ns: string;

beforeAll(async () => {
  const applied = await kubectl(["apply", "--server-side", "-f", "crds/"]);
  expect(applied.code).toBe(0);
  const established = await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", "crds/"]);
  expect(established.code).toBe(0);
  ns = await createNamespace("api");
});

const ref = (name: string) => ({ name });
const vault = (spec: Record<string, unknown>) => ({ kind: "BackupVault", spec: { backend: { filesystem: { path: "/v" } }, encryption: { keySecretRef: ref("k") }, ...spec } });
const gateway = (spec: Record<string, unknown>, name = "gw") => ({ kind: "Gateway", name, spec: { vaultRef: ref("v"), ...spec } });
const vcenter = (spec: Record<string, unknown>) => ({ kind: "VCenter", spec: { address: "vc.example.com", credentialsSecretRef: ref("c"), gatewayRef: ref("g"), ...spec } });
const plan = (spec: Record<string, unknown>) => ({
  kind: "BackupPlan",
  spec: { vCenterRef: ref("vc"), vaultRef: ref("v"), gatewayRef: ref("g"), vms: { names: ["web-1"] }, retention: { keepLast: 3 }, ...spec },
});
const restore = (target: Record<string, unknown>) => ({ kind: "RestoreJob", spec: { recoveryPointRef: ref("rp"), gatewayRef: ref("g"), target } });
const vsphereTarget = (extra: Record<string, unknown>) => ({ vSphere: { vCenterRef: ref("vc"), datastore: "ds1", vmName: "new", ...extra } });
const pair = (spec: Record<string, unknown>) => ({ kind: "SitePair", spec: { vaultRef: ref("v"), gatewayRef: ref("g"), ...spec } });
const server = (spec: Record<string, unknown>) => ({ kind: "ProtectedServer", spec: { sitePairRef: ref("sp"), source: { vmName: "db" }, ...spec } });
const point = (spec: Record<string, unknown>) => ({
  kind: "RecoveryPoint",
  spec: { vaultRef: ref("v"), pointID: "p1", vm: { name: "web" }, time: "2026-11-29T02:00:00Z", consistency: "Crash", ...spec },
});

interface Case {
  readonly what: string;
  readonly object: { kind: string; name?: string; spec: Record<string, unknown> };
  /** Text the API server's refusal must contain: the field, and what is allowed. */
  readonly error: string;
}

const cases: Case[] = [
  { what: "vault with both backends", object: vault({ backend: { filesystem: { path: "/v" }, s3: { bucket: "bkt", credentialsSecretRef: ref("s") } } }), error: "spec.backend: set exactly one of filesystem or s3" },
  { what: "vault with no backend", object: vault({ backend: {} }), error: "spec.backend: set exactly one of filesystem or s3" },
  { what: "vault filesystem with path and PVC", object: vault({ backend: { filesystem: { path: "/v", persistentVolumeClaim: ref("pvc") } } }), error: "spec.backend.filesystem: set exactly one of path or persistentVolumeClaim" },
  { what: "vault relative path", object: vault({ backend: { filesystem: { path: "relative/dir" } } }), error: "spec.backend.filesystem.path" },
  { what: "vault bucket name too short", object: vault({ backend: { s3: { bucket: "ab", credentialsSecretRef: ref("s") } } }), error: "spec.backend.s3.bucket" },
  { what: "vault http endpoint with HTTPS required", object: vault({ backend: { s3: { endpoint: "http://minio:9000", bucket: "bkt", credentialsSecretRef: ref("s") } } }), error: "spec.backend.s3.endpoint must start with https:// while useHTTPS is true" },
  { what: "vault without encryption", object: { kind: "BackupVault", spec: { backend: { filesystem: { path: "/v" } } } }, error: "spec.encryption: Required value" },
  { what: "vault odd block size", object: vault({ blockSize: "3Mi" }), error: 'spec.blockSize: Unsupported value: "3Mi"' },
  { what: "vault compression level 9", object: vault({ compressionLevel: 9 }), error: "spec.compressionLevel: Invalid value: 9: spec.compressionLevel in body should be less than or equal to 3" },
  { what: "vault lock without retention", object: vault({ lock: { enabled: true } }), error: "spec.lock.retentionDays is required when spec.lock.enabled is true" },
  { what: "vault lock mode unknown", object: vault({ lock: { enabled: true, mode: "Strict", retentionDays: 3 } }), error: 'spec.lock.mode: Unsupported value: "Strict"' },
  { what: "gateway name over 64 characters", object: gateway({}, `gw-${"x".repeat(62)}`), error: "metadata.name: a Gateway name is 1-64 characters" },
  { what: "gateway without vault", object: { kind: "Gateway", spec: {} }, error: "spec.vaultRef: Required value" },
  { what: "gateway unknown platform", object: gateway({ platform: "HyperV" }), error: 'spec.platform: Unsupported value: "HyperV"' },
  { what: "gateway zero workers", object: gateway({ maxWorkers: 0 }), error: "spec.maxWorkers: Invalid value: 0: spec.maxWorkers in body should be greater than or equal to 1" },
  { what: "gateway flow window bad time", object: gateway({ flowControl: [{ days: ["Mon"], start: "25:00", end: "06:00", bandwidth: "10Mi" }] }), error: "spec.flowControl[0].start" },
  { what: "gateway flow window empty", object: gateway({ flowControl: [{ days: ["Mon"], start: "09:00", end: "09:00", bandwidth: "10Mi" }] }), error: "spec.flowControl[].end must differ from start" },
  { what: "gateway flow window bad day", object: gateway({ flowControl: [{ days: ["Funday"], start: "09:00", end: "10:00", bandwidth: "10Mi" }] }), error: 'spec.flowControl[0].days[0]: Unsupported value: "Funday"' },
  { what: "gateway bandwidth not a quantity", object: gateway({ flowControl: [{ days: ["Mon"], start: "09:00", end: "10:00", bandwidth: "fast" }] }), error: "spec.flowControl[0].bandwidth" },
  { what: "vcenter address with scheme", object: vcenter({ address: "https://vc.example.com/sdk" }), error: "spec.address" },
  { what: "vcenter short thumbprint", object: vcenter({ tls: { thumbprint: "AB:CD" } }), error: "spec.tls.thumbprint" },
  { what: "vcenter two trust settings", object: vcenter({ tls: { thumbprint: "a".repeat(64), insecureSkipVerify: true } }), error: "spec.tls: set at most one of caSecretRef, thumbprint or insecureSkipVerify" },
  { what: "vcenter without credentials", object: { kind: "VCenter", spec: { address: "vc", gatewayRef: ref("g") } }, error: "spec.credentialsSecretRef: Required value" },
  { what: "plan selecting no VM", object: plan({ vms: {} }), error: "spec.vms: select at least one VM with names, folders or namePatterns" },
  { what: "plan without retention rule", object: plan({ retention: {} }), error: "spec.retention: set at least one of keepLast, daily, weekly, monthly, yearly or maxAge" },
  { what: "plan cron with 3 fields", object: plan({ schedule: { cron: "0 2 *" } }), error: "spec.schedule.cron" },
  { what: "plan bad maxAge", object: plan({ retention: { maxAge: "3 months" } }), error: "spec.retention.maxAge" },
  { what: "plan unknown overlap policy", object: plan({ overlapPolicy: "Queue" }), error: 'spec.overlapPolicy: Unsupported value: "Queue"' },
  { what: "restore with two targets", object: restore({ ...vsphereTarget({}), imageFile: { persistentVolumeClaim: ref("images") } }), error: "spec.target: set exactly one of vSphere, cloudImage or imageFile" },
  { what: "restore in place unconfirmed", object: restore({ vSphere: { vCenterRef: ref("vc"), datastore: "ds1", inPlace: true } }), error: "spec.target.vSphere.confirmInPlace must be true to restore in place over the original VM" },
  { what: "restore new VM without a name", object: restore({ vSphere: { vCenterRef: ref("vc"), datastore: "ds1" } }), error: "spec.target.vSphere.vmName is required unless inPlace is true" },
  { what: "restore image without bucket", object: restore({ cloudImage: { region: "cn-shanghai", imageName: "web01", credentialsSecretRef: ref("ak") } }), error: "spec.target.cloudImage.ossBucket: Required value" },
  { what: "restore intermediate instance without its instance", object: restore({ cloudImage: { region: "cn-shanghai", imageName: "web01", strategy: "IntermediateInstance", ossBucket: "stage", credentialsSecretRef: ref("ak") } }), error: "spec.target.cloudImage.intermediateInstance is required for strategy IntermediateInstance" },
  { what: "restore intermediate instance without security group", object: restore({ cloudImage: { region: "cn-shanghai", imageName: "web01", strategy: "IntermediateInstance", ossBucket: "stage", intermediateInstance: { imageId: "aliyun_3_x64", instanceType: "ecs.g7.large", vSwitchId: "vsw-1" }, credentialsSecretRef: ref("ak") } }), error: "spec.target.cloudImage.intermediateInstance.securityGroupId: Required value" },
  { what: "restore import with an instance", object: restore({ cloudImage: { region: "cn-shanghai", imageName: "web01", ossBucket: "stage", intermediateInstance: { imageId: "aliyun_3_x64", instanceType: "ecs.g7.large", vSwitchId: "vsw-1", securityGroupId: "sg-1" }, credentialsSecretRef: ref("ak") } }), error: "spec.target.cloudImage.intermediateInstance is only for strategy IntermediateInstance" },
  { what: "restore image over plain HTTP", object: restore({ cloudImage: { region: "cn-shanghai", imageName: "web01", ossBucket: "stage", ecsEndpoint: "http://ecs.lab:8080", credentialsSecretRef: ref("ak") } }), error: "spec.target.cloudImage.ecsEndpoint must start with https:// while spec.target.cloudImage.useHTTPS is true; set useHTTPS: false to allow http://" },
  { what: "restore instance downloading over plain HTTP", object: restore({ cloudImage: { region: "cn-shanghai", imageName: "web01", strategy: "IntermediateInstance", ossBucket: "stage", intermediateInstance: { imageId: "aliyun_3_x64", instanceType: "ecs.g7.large", vSwitchId: "vsw-1", securityGroupId: "sg-1", ossEndpoint: "http://oss.lab" }, credentialsSecretRef: ref("ak") } }), error: "spec.target.cloudImage.intermediateInstance.ossEndpoint must start with https://" },
  { what: "restore file to claim and bucket", object: restore({ imageFile: { persistentVolumeClaim: ref("images"), s3: { bucket: "bkt", credentialsSecretRef: ref("s") } } }), error: "spec.target.imageFile: set exactly one of persistentVolumeClaim (with an optional path inside it) or s3" },
  { what: "restore file to a worker's own filesystem", object: restore({ imageFile: { path: "out" } }), error: "spec.target.imageFile.path is a directory inside a claim: set spec.target.imageFile.persistentVolumeClaim" },
  { what: "restore file out of its claim", object: restore({ imageFile: { persistentVolumeClaim: ref("images"), path: "a/../../etc" } }), error: "spec.target.imageFile.path must stay inside the claim" },
  { what: "site pair VMware without target vCenter", object: pair({ type: "VMwareToVMware", source: { vCenterRef: ref("a") }, target: {} }), error: "spec.target.vCenterRef is required when type is VMwareToVMware" },
  { what: "site pair cross-zone in one zone", object: pair({ type: "CrossZone", source: { region: "cn-hangzhou", zone: "h" }, target: { region: "cn-hangzhou", zone: "h" }, credentialsSecretRef: ref("ak") }), error: "CrossZone: spec.source and spec.target must be different zones of the same region" },
  { what: "site pair cloud site over plain HTTP", object: pair({ type: "CrossZone", source: { region: "cn-hangzhou", zone: "h", vpcEndpoint: "http://vpc.lab" }, target: { region: "cn-hangzhou", zone: "i" }, credentialsSecretRef: ref("ak") }), error: "spec.source.vpcEndpoint must start with https:// while spec.source.useHTTPS is true; set useHTTPS: false to allow http://" },
  { what: "site pair staging images over plain HTTP", object: pair({ type: "VMwareToCloud", source: { vCenterRef: ref("a") }, target: { region: "cn-hangzhou", zone: "h" }, credentialsSecretRef: ref("ak"), imageConversion: { ossBucket: "stage", ossEndpoint: "http://oss.lab" } }), error: "spec.imageConversion.ossEndpoint must start with https://" },
  { what: "site pair cloud target without credentials", object: pair({ type: "VMwareToCloud", source: { vCenterRef: ref("a") }, target: { region: "cn-hangzhou", zone: "h" } }), error: "spec.credentialsSecretRef is required when the target is a cloud site" },
  { what: "protected server with two sources", object: server({ source: { vmName: "db", instanceId: "i-1" } }), error: "spec.source: set exactly one of vmName or instanceId" },
  { what: "protected server app interval 13h", object: server({ replication: { appConsistentIntervalHours: 13 } }), error: "spec.replication.appConsistentIntervalHours: Invalid value: 13" },
  { what: "protected server unknown state", object: server({ desiredState: "Exploded" }), error: 'spec.desiredState: Unsupported value: "Exploded"' },
  { what: "protected server unconfirmed reverse in place", object: server({ reverseInPlace: true }), error: "spec.confirmReverseInPlace must be true when spec.reverseInPlace is true" },
  { what: "protected server committing while replicating", object: server({ commitFailover: true }), error: "spec.commitFailover must be false while desiredState is Replicating" },
  { what: "protected server reverse without commit", object: server({ desiredState: "ReverseReplicating" }), error: "spec.commitFailover must be true for ReverseReplicating and FailedBack" },
  { what: "protected server drill as a state", object: server({ desiredState: "Drill" }), error: 'spec.desiredState: Unsupported value: "Drill"' },
  { what: "protected server RPO threshold below the (default) interval", object: server({ replication: { rpoThresholdMinutes: 2 } }), error: "spec.replication.rpoThresholdMinutes must be at least crashConsistentIntervalMinutes" },
  { what: "protected server app-consistent points forgotten before the next", object: server({ replication: { appConsistentIntervalHours: 4, retention: { keepAppConsistentForDays: 0 } } }), error: "spec.replication.retention.keepAppConsistentForDays must cover appConsistentIntervalHours" },
  { what: "protected server interval of 0 minutes", object: server({ replication: { crashConsistentIntervalMinutes: 0 } }), error: "spec.replication.crashConsistentIntervalMinutes" },
  { what: "site pair VMware without target datastore", object: pair({ type: "VMwareToVMware", source: { vCenterRef: ref("a") }, target: { vCenterRef: ref("b") } }), error: "spec.target.datastore is required when type is VMwareToVMware" },
  { what: "site pair mapping without recovery network", object: pair({ type: "VMwareToVMware", source: { vCenterRef: ref("a") }, target: { vCenterRef: ref("b"), datastore: "ds" }, networkMappings: [{ source: "VM Network", test: "Test" }] }), error: "spec.networkMappings[0].recovery: Required value" },
  { what: "site pair mapping a network twice", object: pair({ type: "VMwareToVMware", source: { vCenterRef: ref("a") }, target: { vCenterRef: ref("b"), datastore: "ds" }, networkMappings: [{ source: "VM Network", recovery: "A" }, { source: "VM Network", recovery: "B" }] }), error: '.spec.networkMappings: duplicate entries for key [source="VM Network"]' },
  { what: "protected server business hours that end as they start", object: server({ replication: { businessHours: { days: ["Mon"], start: "09:00", end: "09:00" } } }), error: "spec.replication.businessHours.end must differ from start" },
  { what: "protected server with its own settings and a policy", object: server({ replication: { crashConsistentIntervalMinutes: 5 }, replicationPolicyRef: ref("gold") }), error: "spec: set spec.replication or spec.replicationPolicyRef, not both" },
  { what: "protected server policy without a name", object: server({ replicationPolicyRef: {} }), error: "spec.replicationPolicyRef.name: Required value" },
  { what: "protected server consistency group that is not a DNS label", object: server({ consistencyGroup: "Shop_1" }), error: "spec.consistencyGroup: Invalid value: \"Shop_1\": spec.consistencyGroup in body should match" },
  { what: "replication policy RPO threshold below its interval", object: { kind: "ReplicationPolicy", spec: { crashConsistentIntervalMinutes: 10, rpoThresholdMinutes: 5 } }, error: "spec.rpoThresholdMinutes must be at least crashConsistentIntervalMinutes" },
  { what: "replication policy business hours that end as they start", object: { kind: "ReplicationPolicy", spec: { businessHours: { days: ["Mon"], start: "09:00", end: "09:00" } } }, error: "spec.businessHours.end must differ from start" },
  { what: "protected server business hours at 25:00", object: server({ replication: { businessHours: { days: ["Mon"], start: "09:00", end: "25:00" } } }), error: "spec.replication.businessHours.end" },
  { what: "protected server's own recovery network without its security group", object: server({ recovery: { network: { vSwitchId: "vsw-app" } } }), error: "spec.recovery.network.securityGroupId: Required value" },
  { what: "drill's own test network without its vSwitch", object: { kind: "RecoveryDrill", spec: { protectedServerRef: ref("db"), testNetwork: { securityGroupId: "sg-1" } } }, error: "spec.testNetwork.vSwitchId: Required value" },
  { what: "drill without its server", object: { kind: "RecoveryDrill", spec: { recoveryPoint: "latest" } }, error: "spec: set exactly one of protectedServerRef (drill one server) and recoveryPlanRef" },
  { what: "protected server post script without its content", object: server({ recovery: { postScript: { type: "RunShellScript" } } }), error: "spec.recovery.postScript.content: Required value" },
  { what: "post script of a type Cloud Assistant does not run", object: server({ failback: { postScript: { type: "RunPythonScript", content: "print(1)" } } }), error: 'spec.failback.postScript.type: Unsupported value: "RunPythonScript"' },
  { what: "post script of more bytes than Cloud Assistant takes", object: server({ recovery: { postScript: { content: "あ".repeat(7000) } } }), error: "spec.recovery.postScript.content: Invalid value: at most 18432 bytes of UTF-8" },
  { what: "post script of a Windows type as another user", object: server({ recovery: { postScript: { type: "RunBatScript", content: "dir", username: "app" } } }), error: "spec.recovery.postScript.username: Invalid value: only a Linux script (RunShellScript) runs as another user" },
  { what: "plan drill with a post script", object: { kind: "RecoveryDrill", spec: { recoveryPlanRef: ref("shop"), postScript: { content: "true" } } }, error: "postScript describe one server's test VM" },
  { what: "plan drill from a named point", object: { kind: "RecoveryDrill", spec: { recoveryPlanRef: ref("shop"), recoveryPoint: "db-20261201" } }, error: "spec.recoveryPoint: a RecoveryPlan drill takes" },
  { what: "recovery plan without groups", object: { kind: "RecoveryPlan", spec: { groups: [] } }, error: "spec.groups: Invalid value" },
  { what: "recovery plan group twice", object: { kind: "RecoveryPlan", spec: { groups: [{ name: "a", protectedServers: ["db"] }, { name: "a", protectedServers: ["web"] }] } }, error: '.spec.groups: duplicate entries for key [name="a"]' },
  { what: "recovery plan script without image", object: { kind: "RecoveryPlan", spec: { groups: [{ name: "a", protectedServers: ["db"], script: { command: ["/x"] } }] } }, error: "spec.groups[0].script.image: Required value" },
  { what: "recovery plan reverse without commit", object: { kind: "RecoveryPlan", spec: { groups: [{ name: "a", protectedServers: ["db"] }], desiredState: "ReverseReplicating" } }, error: "spec.commitFailover must be true for ReverseReplicating and FailedBack" },
  { what: "recovery point bad time", object: point({ time: "yesterday" }), error: "spec.time" },
  { what: "recovery point in a vault and of snapshots", object: point({ cloudSnapshots: { region: "cn-hangzhou", snapshots: [{ device: "/dev/xvda", snapshotId: "s-1" }] } }), error: "spec: set exactly one of vaultRef (a point in a vault) or cloudSnapshots" },
  { what: "site pair VMware without vault", object: { kind: "SitePair", spec: { type: "VMwareToVMware", source: { vCenterRef: ref("a") }, target: { vCenterRef: ref("b"), datastore: "ds" }, gatewayRef: ref("g") } }, error: "spec.vaultRef and spec.gatewayRef are required when the protected site is vSphere" },
  { what: "site pair VMware to cloud without image conversion", object: pair({ type: "VMwareToCloud", source: { vCenterRef: ref("a") }, target: { region: "cn-hangzhou", zone: "h" }, credentialsSecretRef: ref("ak") }), error: "spec.imageConversion is required when type is VMwareToCloud" },
  { what: "recovery point unknown consistency", object: point({ consistency: "Perfect" }), error: 'spec.consistency: Unsupported value: "Perfect"' },
];

function manifest(c: Case, i: number): string {
  return dump({ apiVersion: "lifeboat.io/v1alpha1", kind: c.object.kind, metadata: { name: c.object.name ?? `invalid-${i}` }, spec: c.object.spec });
}

describe("the lifeboat.io API refuses invalid manifests, naming the field", () => {
  it("has at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map((c, i) => [c.what, c, i] as const))("%s", async (_what, c, i) => {
    const r = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], manifest(c, i));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(c.error);
  });

  it("refuses changes the API forbids after creation", async () => {
    const name = "immutable-vault";
    const base = { apiVersion: "lifeboat.io/v1alpha1", kind: "BackupVault", metadata: { name }, spec: { backend: { filesystem: { path: "/v" } }, encryption: { keySecretRef: ref("k") }, blockSize: "1Mi", lock: { enabled: true, mode: "Compliance", retentionDays: 30 } } };
    expect((await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump(base))).code).toBe(0);
    const resized = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...base, spec: { ...base.spec, blockSize: "4Mi" } }));
    expect(resized.stderr).toContain("spec.blockSize is immutable");
    const unlocked = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...base, spec: { ...base.spec, lock: { enabled: false, mode: "Compliance", retentionDays: 30 } } }));
    expect(unlocked.stderr).toContain("spec.lock: a Compliance lock cannot be disabled, weakened to Governance or shortened");
    const shortened = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...base, spec: { ...base.spec, lock: { enabled: true, mode: "Compliance", retentionDays: 7 } } }));
    expect(shortened.stderr).toContain("spec.lock: a Compliance lock cannot be disabled");

    const ps = { apiVersion: "lifeboat.io/v1alpha1", kind: "ProtectedServer", metadata: { name: "db" }, spec: { sitePairRef: ref("sp"), source: { vmName: "db" } } };
    expect((await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump(ps))).code).toBe(0);
    const jump = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...ps, spec: { ...ps.spec, desiredState: "FailedBack" } }));
    expect(jump.stderr).toContain("spec.desiredState: allowed changes are Replicating→FailedOver");
    // A committed failover is final: it cannot be undone, nor its point changed, nor abandoned for forward replication.
    const failedOver = { ...ps, spec: { ...ps.spec, desiredState: "FailedOver" } };
    expect((await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump(failedOver))).code).toBe(0);
    const committed = { ...failedOver, spec: { ...failedOver.spec, commitFailover: true } };
    expect((await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump(committed))).code).toBe(0);
    const undo = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...committed, spec: { ...committed.spec, commitFailover: false } }));
    expect(undo.stderr).toContain("spec.commitFailover cannot be undone");
    const otherPoint = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...committed, spec: { ...committed.spec, recoveryPoint: "db-older" } }));
    expect(otherPoint.stderr).toContain("spec.recoveryPoint cannot change once the failover is committed");
    const abandon = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...committed, spec: { ...committed.spec, desiredState: "Replicating", commitFailover: false } }));
    expect(abandon.stderr).toContain("a committed failover goes back through ReverseReplicating and FailedBack");
    const drill = { apiVersion: "lifeboat.io/v1alpha1", kind: "RecoveryDrill", metadata: { name: "drill" }, spec: { protectedServerRef: ref("db") } };
    expect((await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump(drill))).code).toBe(0);
    const changed = await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], dump({ ...drill, spec: { ...drill.spec, recoveryPoint: "other" } }));
    expect(changed.stderr).toContain("spec is immutable: delete the drill and create another");
  });
});
