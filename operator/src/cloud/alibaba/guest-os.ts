/**
 * What an ECS image must say about the guest, derived from what vSphere says
 * about the VM: ImportImage and CreateImage need the OS type, the platform
 * (distribution), the architecture and the boot mode, and a wrong one makes
 * an instance that does not boot (a UEFI guest started in BIOS mode) or that
 * ECS initialises wrongly (cloud-init for the wrong distribution). vSphere's
 * guest id (config.guestId, e.g. `ubuntu64Guest`, `windows2019srv_64Guest`,
 * `rhel9_64Guest`, `otherLinux64Guest`) names family, distribution and
 * architecture; the firmware (`bios` or `efi`) names the boot mode.
 */

/** ImportImage's OSType values. */
export type EcsOsType = "linux" | "windows";
/** ImportImage's Architecture values. */
export type EcsArchitecture = "x86_64" | "arm64";
/** ImportImage's BootMode values. */
export type EcsBootMode = "BIOS" | "UEFI";

/** The image attributes of one guest. */
export interface EcsGuest {
  readonly osType: EcsOsType;
  /** ImportImage's Platform, e.g. "Ubuntu", "Windows Server 2019", "Others Linux". */
  readonly platform: string;
  readonly architecture: EcsArchitecture;
  readonly bootMode: EcsBootMode;
}

/**
 * Distributions by the guest id's prefix, to ImportImage's Platform values
 * (Alibaba's documented list). The order matters: longer prefixes first.
 */
const LINUX_PLATFORMS: readonly [RegExp, string][] = [
  [/^ubuntu/i, "Ubuntu"],
  [/^centos/i, "CentOS"],
  [/^rhel/i, "RedHat"],
  [/^debian/i, "Debian"],
  [/^sles/i, "SUSE"],
  [/^opensuse/i, "OpenSUSE"],
  [/^(oracleLinux|oracle)/i, "OracleLinux"],
  [/^fedora/i, "Fedora"],
  [/^coreos/i, "CoreOS"],
  [/^freebsd/i, "FreeBSD"],
  [/^rockylinux/i, "Rocky Linux"],
  [/^almalinux/i, "AlmaLinux"],
  [/^amazonlinux/i, "Others Linux"],
];

/** Windows versions by the guest id, to ImportImage's Platform values. */
const WINDOWS_PLATFORMS: readonly [RegExp, string][] = [
  [/^windows2022srv/i, "Windows Server 2022"],
  [/^windows2019srv/i, "Windows Server 2019"],
  [/^windows9Server/i, "Windows Server 2016"],
  [/^windows8Server/i, "Windows Server 2012"],
  [/^windows7Server/i, "Windows Server 2008"],
  [/^windows(9|11|10)/i, "Windows Server 2016"],
];

/**
 * The image attributes of a guest, from its vSphere guest id and firmware.
 * An unknown or missing guest id is a Linux of unknown distribution ("Others
 * Linux", which ECS boots without distribution-specific initialisation).
 */
export function guestFromVSphere(guestId: string | undefined, firmware: string | undefined): EcsGuest {
  // ESXi on Arm's guest ids are the x86 ones with an "arm-" prefix (arm-ubuntu64Guest).
  const arm = /^arm-/i.test(guestId ?? "");
  const id = (guestId ?? "").replace(/^arm-/i, "");
  const architecture: EcsArchitecture = arm ? "arm64" : "x86_64";
  const bootMode: EcsBootMode = firmware === "efi" ? "UEFI" : "BIOS";
  if (/^win/i.test(id)) {
    const platform = WINDOWS_PLATFORMS.find(([re]) => re.test(id))?.[1] ?? "Windows Server 2016";
    return { osType: "windows", platform, architecture, bootMode };
  }
  const platform = LINUX_PLATFORMS.find(([re]) => re.test(id))?.[1] ?? "Others Linux";
  return { osType: "linux", platform, architecture, bootMode };
}
