import { describe, expect, it } from "@jest/globals";
import { decodeDiskChangeInfo } from "./cbt.js";
import { capturedDisksInVmOrder, decodeHardware, parseDatastorePath, snapshotExclusion } from "./devices.js";
import { datastoreFilePath, flatFilePath } from "./disk-io.js";
import { NotAuthenticatedError } from "./errors.js";
import { decodeObjectContents, throwIfUnauthenticated } from "./property-collector.js";
import { decodeSnapshotTree } from "./snapshots.js";
import { decodeTaskInfo } from "./tasks.js";
import { nicConnectionEditXml } from "./vm-config.js";
import { vmConfigSpecXml } from "./vm-create.js";
import { child, children, parseXml } from "./xml.js";

const xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';

describe("decodeHardware", () => {
  it("reads disks with their backing and changeId, controllers and NICs", () => {
    const doc = parseXml(
      `<val ${xsi} xsi:type="ArrayOfVirtualDevice">` +
        '<VirtualDevice xsi:type="ParaVirtualSCSIController"><key>1000</key><busNumber>0</busNumber></VirtualDevice>' +
        '<VirtualDevice xsi:type="VirtualDisk"><key>2000</key><deviceInfo><label>Hard disk 1</label></deviceInfo>' +
        '<backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds 1] vm/vm_1.vmdk</fileName><datastore type="Datastore">datastore-9</datastore>' +
        "<diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned><changeId>52 aa/7</changeId></backing>" +
        "<controllerKey>1000</controllerKey><unitNumber>1</unitNumber><capacityInKB>1024</capacityInKB><capacityInBytes>1048576</capacityInBytes></VirtualDevice>" +
        '<VirtualDevice xsi:type="VirtualVmxnet3"><key>4000</key><backing xsi:type="VirtualEthernetCardDistributedVirtualPortBackingInfo">' +
        "<port><switchUuid>50 1a</switchUuid><portgroupKey>dvportgroup-10</portgroupKey></port></backing><addressType>generated</addressType><macAddress>00:50:56:00:00:01</macAddress></VirtualDevice>" +
        "</val>",
    );
    const hw = decodeHardware(doc.val);
    expect(hw.controllers).toEqual([{ key: 1000, type: "ParaVirtualSCSIController", busNumber: 0 }]);
    expect(hw.disks).toEqual([
      {
        key: 2000,
        label: "Hard disk 1",
        capacityBytes: 1048576,
        fileName: "[ds 1] vm/vm_1.vmdk",
        datastoreName: "ds 1",
        path: "vm/vm_1.vmdk",
        datastore: { type: "Datastore", value: "datastore-9" },
        changeId: "52 aa/7",
        thinProvisioned: true,
        diskMode: "persistent",
        controllerKey: 1000,
        unitNumber: 1,
        backingType: "VirtualDiskFlatVer2BackingInfo",
      },
    ]);
    expect(hw.nics).toEqual([{ key: 4000, type: "VirtualVmxnet3", macAddress: "00:50:56:00:00:01", portgroupKey: "dvportgroup-10", switchUuid: "50 1a" }]);
  });

  it("tells the disks a snapshot leaves out: independent disks and physical-mode RDMs, not virtual-mode ones", () => {
    const disk = (key: number, unit: number, backing: string) =>
      `<VirtualDevice xsi:type="VirtualDisk"><key>${key}</key><deviceInfo><label>Hard disk ${unit + 1}</label></deviceInfo>${backing}` +
      `<controllerKey>1000</controllerKey><unitNumber>${unit}</unitNumber><capacityInBytes>1048576</capacityInBytes></VirtualDevice>`;
    const doc = parseXml(
      `<val ${xsi}>` +
        disk(2003, 3, '<backing xsi:type="VirtualDiskRawDiskMappingVer1BackingInfo"><fileName>[ds1] vm/vm_3.vmdk</fileName><deviceName>/vmfs/devices/disks/naa.1</deviceName><compatibilityMode>virtualMode</compatibilityMode><diskMode>persistent</diskMode></backing>') +
        disk(2000, 0, '<backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] vm/vm.vmdk</fileName><diskMode>persistent</diskMode></backing>') +
        disk(2001, 1, '<backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] vm/vm_1.vmdk</fileName><diskMode>independent_nonpersistent</diskMode></backing>') +
        disk(2002, 2, '<backing xsi:type="VirtualDiskRawDiskMappingVer1BackingInfo"><fileName>[ds1] vm/vm_2.vmdk</fileName><deviceName>/vmfs/devices/disks/naa.2</deviceName><compatibilityMode>physicalMode</compatibilityMode></backing>') +
        "</val>",
    );
    const disks = decodeHardware(doc.val).disks;
    expect(disks.map((d) => [d.key, d.backingType, d.compatibilityMode, snapshotExclusion(d)])).toEqual([
      [2003, "VirtualDiskRawDiskMappingVer1BackingInfo", "virtualMode", undefined],
      [2000, "VirtualDiskFlatVer2BackingInfo", undefined, undefined],
      [2001, "VirtualDiskFlatVer2BackingInfo", undefined, "IndependentDisk"],
      [2002, "VirtualDiskRawDiskMappingVer1BackingInfo", "physicalMode", "PhysicalModeRDM"],
    ]);
    expect(snapshotExclusion({ diskMode: "independent_persistent", backingType: "VirtualDiskRawDiskMappingVer1BackingInfo", compatibilityMode: "virtualMode" })).toBe("IndependentDisk");
    expect(capturedDisksInVmOrder(disks).map((d) => d.key)).toEqual([2000, 2003]);
  });

  it("reads a NIC's connection state", () => {
    const doc = parseXml(
      `<val ${xsi}><VirtualDevice xsi:type="VirtualE1000"><key>4001</key>` +
        "<connectable><startConnected>false</startConnected><allowGuestControl>false</allowGuestControl><connected>true</connected><status>ok</status></connectable>" +
        "<addressType>generated</addressType></VirtualDevice></val>",
    );
    expect(decodeHardware(doc.val).nics).toEqual([{ key: 4001, type: "VirtualE1000", connected: true, startConnected: false, allowGuestControl: false }]);
  });

  it("splits datastore paths", () => {
    expect(parseDatastorePath("[LocalDS_0] a/b.vmdk")).toEqual({ datastore: "LocalDS_0", path: "a/b.vmdk" });
  });
});

describe("disk files", () => {
  it("maps a descriptor to its flat data file and an encoded /folder URL", () => {
    expect(flatFilePath("vm 1/disk.vmdk")).toBe("vm 1/disk-flat.vmdk");
    expect(() => flatFilePath("vm/disk.iso")).toThrow();
    expect(datastoreFilePath({ datacenterPath: "Europe/DC 1", datastoreName: "ds&1", path: "" }, "vm 1/d#1-flat.vmdk")).toBe(
      "/folder/vm%201/d%231-flat.vmdk?dcPath=Europe%2FDC+1&dsName=ds%261",
    );
  });
});

describe("decodeDiskChangeInfo", () => {
  it("reads the page span and the changed areas", () => {
    const doc = parseXml(
      "<returnval><startOffset>0</startOffset><length>33554432</length>" +
        "<changedArea><start>0</start><length>65536</length></changedArea><changedArea><start>131072</start><length>65536</length></changedArea></returnval>",
    );
    expect(decodeDiskChangeInfo(doc.returnval)).toEqual({
      startOffset: 0,
      length: 33554432,
      areas: [{ start: 0, length: 65536 }, { start: 131072, length: 65536 }],
    });
  });
});

describe("throwIfUnauthenticated", () => {
  const missing = (fault: string) =>
    parseXml(
      `<returnval ${xsi}><objects><obj type="VirtualMachine">vm-29</obj><missingSet><path>snapshot</path><fault><fault xsi:type="${fault}">` +
        '<object type="VirtualMachine">vm-29</object><privilegeId>System.Read</privilegeId></fault><localizedMessage></localizedMessage></fault></missingSet></objects></returnval>',
    ).returnval;

  it("turns properties refused for a lost session into NotAuthenticatedError, which makes the session log in again", () => {
    expect(() => throwIfUnauthenticated(missing("NotAuthenticated"))).toThrow(NotAuthenticatedError);
    expect(() => throwIfUnauthenticated(missing("NotAuthenticated"))).toThrow("the server refused to read snapshot of vm-29: the session is not authenticated");
  });

  it("passes other missing properties through, as missing", () => {
    const result = missing("NoPermission");
    expect(throwIfUnauthenticated(result)).toBe(result);
    expect(decodeObjectContents(result)).toEqual([{ obj: { type: "VirtualMachine", value: "vm-29" }, props: new Map(), missing: ["snapshot"] }]);
  });
});

describe("decodeTaskInfo", () => {
  it("reads a failed task's fault name and message, skipping vcsim's Go type names", () => {
    const doc = parseXml(
      `<info ${xsi}><state>error</state><cancelled>false</cancelled><error><fault xsi:type="FileFault"><faultMessage><key>k</key><message>disk is locked</message></faultMessage></fault>` +
        "<localizedMessage>*types.FileFault</localizedMessage></error></info>",
    );
    expect(decodeTaskInfo(doc.info)).toMatchObject({ state: "error", errorName: "FileFault", errorMessage: "disk is locked", cancelled: false });
  });

  it("reads progress and the result reference", () => {
    const doc = parseXml(`<info ${xsi}><state>success</state><progress>100</progress><result type="VirtualMachineSnapshot" xsi:type="ManagedObjectReference">snapshot-3</result></info>`);
    const info = decodeTaskInfo(doc.info);
    expect(info.progress).toBe(100);
    expect(info.state).toBe("success");
  });
});

describe("decodeSnapshotTree", () => {
  it("flattens the tree with parents", () => {
    const doc = parseXml(
      "<s><rootSnapshotList><snapshot type=\"VirtualMachineSnapshot\">snapshot-1</snapshot><vm type=\"VirtualMachine\">vm-1</vm><name>lifeboat-a</name>" +
        "<id>1</id><createTime>2025-01-01T00:00:00Z</createTime><state>poweredOff</state><quiesced>true</quiesced>" +
        "<childSnapshotList><snapshot type=\"VirtualMachineSnapshot\">snapshot-2</snapshot><vm type=\"VirtualMachine\">vm-1</vm><name>b</name><id>2</id>" +
        "<createTime>2025-01-02T00:00:00Z</createTime><state>poweredOn</state><quiesced>false</quiesced></childSnapshotList></rootSnapshotList></s>",
    );
    const list = decodeSnapshotTree(children(doc.s, "rootSnapshotList"));
    expect(list.map((s) => [s.ref.value, s.name, s.parent?.value, s.quiesced])).toEqual([
      ["snapshot-1", "lifeboat-a", undefined, true],
      ["snapshot-2", "b", "snapshot-1", false],
    ]);
  });
});

describe("nicConnectionEditXml", () => {
  const nic = (connectable: string) =>
    parseXml(
      `<r ${xsi}><d xsi:type="VirtualVmxnet3"><key>4000</key><deviceInfo><label>NIC 1</label></deviceInfo>` +
        '<backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName><network type="Network">network-7</network></backing>' +
        `${connectable}<controllerKey>100</controllerKey><unitNumber>7</unitNumber><addressType>generated</addressType><macAddress>00:50:56:00:00:01</macAddress></d></r>`,
    ).r as Record<string, unknown>;

  it("edits the connection state and sends the rest of the device back unchanged, in order", () => {
    const device = nic(
      "<connectable><migrateConnect>unset</migrateConnect><startConnected>true</startConnected><allowGuestControl>true</allowGuestControl><connected>true</connected><status>ok</status></connectable>",
    ).d;
    expect(nicConnectionEditXml(device, false)).toBe(
      '<deviceChange><operation>edit</operation><device xsi:type="VirtualVmxnet3"><key>4000</key><deviceInfo><label>NIC 1</label></deviceInfo>' +
        '<backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName><network type="Network">network-7</network></backing>' +
        "<connectable><migrateConnect>unset</migrateConnect><startConnected>false</startConnected><allowGuestControl>false</allowGuestControl><connected>false</connected><status>ok</status></connectable>" +
        "<controllerKey>100</controllerKey><unitNumber>7</unitNumber><addressType>generated</addressType><macAddress>00:50:56:00:00:01</macAddress></device></deviceChange>",
    );
  });

  it("adds a connectable where the WSDL puts it when the device had none", () => {
    const xml = nicConnectionEditXml(nic("").d, true);
    expect(xml).toContain(
      "</backing><connectable><startConnected>true</startConnected><allowGuestControl>true</allowGuestControl><connected>true</connected></connectable><controllerKey>",
    );
  });
});

describe("vmConfigSpecXml", () => {
  it("writes a well-formed spec in WSDL order with escaped values and one device per disk and NIC", () => {
    const xml = vmConfigSpecXml({
      name: "restore <1> & co",
      folder: { type: "Folder", value: "group-3" },
      resourcePool: { type: "ResourcePool", value: "resgroup-1" },
      datastoreName: "ds1",
      disks: [{ capacityBytes: 1048576 }, { capacityBytes: 2097152, thin: false }],
      nics: [{ network: { ref: { type: "Network", value: "network-7" }, name: "VM Network" } }],
      changeTracking: true,
      annotation: "lifeboat: drill of web-1\nsecond line",
    });
    const spec = parseXml(`<config ${xsi}>${xml}</config>`).config;
    expect(Object.keys(spec as object).filter((k) => !k.startsWith("@_"))).toEqual([
      "name",
      "guestId",
      "annotation",
      "files",
      "numCPUs",
      "memoryMB",
      "deviceChange",
      "changeTrackingEnabled",
    ]);
    expect(child(spec, "name")).toBe("restore <1> & co");
    expect(child(spec, "annotation")).toBe("lifeboat: drill of web-1\nsecond line");
    const changes = children(spec, "deviceChange");
    expect(changes).toHaveLength(4); // controller, 2 disks, NIC
    expect(xml).toContain("<unitNumber>1</unitNumber><capacityInKB>2048</capacityInKB>");
    expect(xml).toContain("<thinProvisioned>false</thinProvisioned>");
  });

  it("refuses capacities that are not whole KiB", () => {
    expect(() =>
      vmConfigSpecXml({ name: "x", folder: { type: "Folder", value: "f" }, resourcePool: { type: "ResourcePool", value: "r" }, datastoreName: "d", disks: [{ capacityBytes: 1000 }] }),
    ).toThrow(/1 KiB/);
  });
});
