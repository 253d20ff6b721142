import { describe, expect, it } from "@jest/globals";
import { vmConfigSpecXml, type CreateVmSpec } from "./vm-create.js";
import { decodeLeaseInfo, deviceUrlForDisk, importVAppXml, leaseAbortFaultXml, resolveDeviceUrl, type LeaseDeviceUrl } from "./vm-import.js";
import { child, children, moRef, parseXml, text, xsiType } from "./xml.js";

const xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';

const spec: CreateVmSpec = {
  name: "web-1 <restored>",
  folder: { type: "Folder", value: "group-v3" },
  resourcePool: { type: "ResourcePool", value: "resgroup-8" },
  host: { type: "HostSystem", value: "host-12" },
  datastoreName: "ds1",
  guestId: "ubuntu64Guest",
  annotation: "restored by lifeboat",
  firmware: "efi",
  controller: "lsilogic",
  disks: Array.from({ length: 9 }, () => ({ capacityBytes: 1048576 })),
  nics: [{ network: { ref: { type: "Network", value: "network-7" }, name: "VM Network" } }],
};

describe("importVAppXml", () => {
  const body = parseXml(`<ImportVApp ${xsi}>${importVAppXml(spec)}</ImportVApp>`).ImportVApp;

  it("calls ImportVApp on the pool with a VirtualMachineImportSpec, the folder and the host, in WSDL order", () => {
    expect(Object.keys(body as object).filter((k) => !k.startsWith("@_"))).toEqual(["_this", "spec", "folder", "host"]);
    expect(moRef(body, "_this")).toEqual({ type: "ResourcePool", value: "resgroup-8" });
    expect(xsiType(child(body, "spec"))).toBe("VirtualMachineImportSpec");
    expect(moRef(body, "folder")).toEqual({ type: "Folder", value: "group-v3" });
    expect(moRef(body, "host")).toEqual({ type: "HostSystem", value: "host-12" });
  });

  it("carries the same configSpec as CreateVM_Task, from the one encoder", () => {
    expect(importVAppXml(spec)).toContain(`<configSpec>${vmConfigSpecXml(spec)}</configSpec>`);
    const config = child(child(body, "spec"), "configSpec");
    expect(text(config, "name")).toBe("web-1 <restored>");
    expect(text(config, "guestId")).toBe("ubuntu64Guest");
    expect(text(config, "annotation")).toBe("restored by lifeboat");
    expect(text(config, "firmware")).toBe("efi");
    expect(children(config, "deviceChange")).toHaveLength(1 + 9 + 1);
  });

  it("leaves out the host when the spec has none", () => {
    const { host: _host, ...noHost } = spec;
    expect(importVAppXml(noHost)).not.toContain("<host");
  });
});

describe("decodeLeaseInfo", () => {
  it("reads the VM and the device URLs", () => {
    const info = parseXml(
      `<info ${xsi}><lease type="HttpNfcLease">session[1]2</lease><entity type="VirtualMachine">vm-42</entity>` +
        "<deviceUrl><key>/vm-42/VirtualLsiLogicController0:0</key><importKey>/web-1/VirtualLsiLogicController0:0</importKey>" +
        "<url>https://*/nfc/52c1/disk-0.vmdk</url><sslThumbprint>69:44:03</sslThumbprint><disk>true</disk><targetId>disk-0.vmdk</targetId></deviceUrl>" +
        "<deviceUrl><key>/vm-42/cdrom:0</key><importKey>/web-1/cdrom:0</importKey><url>https://10.0.0.5/nfc/52c1/disk-1.iso</url><disk>false</disk></deviceUrl>" +
        "<totalDiskCapacityInKB>1024</totalDiskCapacityInKB><leaseTimeout>300</leaseTimeout></info>",
    ).info;
    expect(decodeLeaseInfo(info)).toEqual({
      entity: { type: "VirtualMachine", value: "vm-42" },
      deviceUrls: [
        {
          key: "/vm-42/VirtualLsiLogicController0:0",
          importKey: "/web-1/VirtualLsiLogicController0:0",
          url: "https://*/nfc/52c1/disk-0.vmdk",
          sslThumbprint: "69:44:03",
          disk: true,
          targetId: "disk-0.vmdk",
        },
        { key: "/vm-42/cdrom:0", importKey: "/web-1/cdrom:0", url: "https://10.0.0.5/nfc/52c1/disk-1.iso", disk: false },
      ],
      leaseTimeoutSeconds: 300,
    });
  });

  it("refuses info without the VM", () => {
    expect(() => decodeLeaseInfo(parseXml("<info><leaseTimeout>300</leaseTimeout></info>").info)).toThrow(/entity/);
  });
});

describe("deviceUrlForDisk", () => {
  const url = (importKey: string): LeaseDeviceUrl => ({ key: importKey, importKey, url: `https://*/nfc/x${importKey}`, disk: true });

  it("finds a disk by its place on the controller, as vCenter names it (unit 7 is the controller's)", () => {
    const urls = [url("/web-1%2frestored/VirtualLsiLogicController0:8"), url("/web-1%2frestored/VirtualLsiLogicController0:0")];
    expect(deviceUrlForDisk(spec, 0, urls)).toBe(urls[1]);
    expect(deviceUrlForDisk(spec, 7, urls)).toBe(urls[0]);
  });

  it("finds a disk by its order, as govmomi's simulator names it", () => {
    const urls = [url("/web-1/disk:0"), url("/web-1/disk:1")];
    expect(deviceUrlForDisk(spec, 1, urls)).toBe(urls[1]);
  });

  it("names the missing disk and what the lease offers", () => {
    expect(() => deviceUrlForDisk(spec, 2, [url("/web-1/disk:0")])).toThrow(/disk 2 .*VirtualLsiLogicController0:2.*offers \/web-1\/disk:0/);
  });
});

describe("resolveDeviceUrl", () => {
  const endpoint = new URL("https://vc.example.com:8443/sdk");

  it("puts the host this client talks to, with its port, in place of *", () => {
    expect(resolveDeviceUrl("https://*/nfc/52c1/disk-0.vmdk", endpoint).href).toBe("https://vc.example.com:8443/nfc/52c1/disk-0.vmdk");
    expect(resolveDeviceUrl("https://*:443/nfc/52c1/disk-0.vmdk", endpoint).host).toBe("vc.example.com:8443");
  });

  it("keeps a named host (an ESXi host that vCenter hands out) and the path as given", () => {
    const u = resolveDeviceUrl("https://esx-01.example.com/nfc/session[52 a1]b2/disk-0.vmdk", endpoint);
    expect(u.host).toBe("esx-01.example.com");
    expect(u.pathname).toContain("/nfc/session");
  });

  it("refuses plain http", () => {
    expect(() => resolveDeviceUrl("http://esx-01/nfc/x/disk-0.vmdk", endpoint)).toThrow(/not https/);
  });
});

describe("leaseAbortFaultXml", () => {
  it("gives the reason as a SystemError on one line", () => {
    const fault = parseXml(`<r ${xsi}>${leaseAbortFaultXml("upload of disk 0 failed:\nconnection reset & <gone>")}</r>`).r;
    const outer = child(fault, "fault");
    expect(xsiType(child(outer, "fault"))).toBe("SystemError");
    expect(text(child(outer, "fault"), "reason")).toBe("upload of disk 0 failed: connection reset & <gone>");
    expect(text(outer, "localizedMessage")).toBe("upload of disk 0 failed: connection reset & <gone>");
  });
});
