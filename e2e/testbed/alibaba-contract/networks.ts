// The VPC side the ECS API refers to: vSwitches and security groups. VPCs
// themselves are not an ECS resource (they belong to the VPC API), so the
// harness creates these records; ECS actions look them up, list them and
// check RunInstances against them.

/** A vSwitch: a CIDR block of a VPC in one zone. */
export interface VSwitchRecord {
  vSwitchId: string;
  vpcId: string;
  regionId: string;
  zoneId: string;
  cidrBlock: string;
  createdAt: number;
}

/** A security group of a VPC. */
export interface SecurityGroupRecord {
  securityGroupId: string;
  vpcId: string;
  regionId: string;
  createdAt: number;
}

/** A dotted IPv4 address as a number, or undefined when it is not one. */
export function ipToInt(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** `a.b.c.d/n` as its first address and prefix length, or undefined when malformed. */
export function parseCidr(cidr: string): { base: number; bits: number } | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const base = m ? ipToInt(m[1] ?? "") : undefined;
  const bits = Number(m?.[2]);
  if (base === undefined || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  if (base % size !== 0) return undefined;
  return { base, bits };
}

/**
 * The addresses an instance may get in a vSwitch: the VPC documentation
 * reserves the first and the last three addresses of every vSwitch CIDR
 * block for the system.
 */
export function usableRange(cidr: string): { first: number; last: number } {
  const c = parseCidr(cidr);
  if (!c) throw new Error(`not a CIDR block: ${cidr}`);
  return { first: c.base + 1, last: c.base + 2 ** (32 - c.bits) - 4 };
}
