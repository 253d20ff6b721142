import { describe, expect, it } from "@jest/globals";
import { guestFromVSphere } from "./guest-os.js";

describe("guestFromVSphere", () => {
  it("maps vSphere guest ids and firmware to ECS image attributes", () => {
    expect(guestFromVSphere("ubuntu64Guest", "efi")).toEqual({ osType: "linux", platform: "Ubuntu", architecture: "x86_64", bootMode: "UEFI" });
    expect(guestFromVSphere("rhel9_64Guest", "bios")).toEqual({ osType: "linux", platform: "RedHat", architecture: "x86_64", bootMode: "BIOS" });
    expect(guestFromVSphere("windows2019srv_64Guest", "efi")).toEqual({ osType: "windows", platform: "Windows Server 2019", architecture: "x86_64", bootMode: "UEFI" });
    expect(guestFromVSphere("arm-ubuntu64Guest", "efi")).toEqual({ osType: "linux", platform: "Ubuntu", architecture: "arm64", bootMode: "UEFI" });
  });

  it("treats an unknown or missing guest id as a Linux of unknown distribution, booting BIOS", () => {
    expect(guestFromVSphere("otherLinux64Guest", undefined)).toEqual({ osType: "linux", platform: "Others Linux", architecture: "x86_64", bootMode: "BIOS" });
    expect(guestFromVSphere(undefined, undefined)).toEqual({ osType: "linux", platform: "Others Linux", architecture: "x86_64", bootMode: "BIOS" });
  });
});
