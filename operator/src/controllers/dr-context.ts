/**
 * Everything a protected server's DR steps need from its site pair, resolved
 * once per reconcile: each site's vCenter, Gateway (whose workers run there)
 * and vault (where data replicated *to* that site lands). Each reference is
 * kept with its own check, because a disaster is exactly when one site's
 * objects are not Ready and the other site's steps must still go on.
 */
import type { BackupVault, Gateway, ProtectedServer, SitePair, VCenter } from "../api/generated/types.js";
import type { ReconcileContext } from "../runtime/controller.js";
import type { ObjectReader, WithKind } from "../runtime/kube.js";
import type { VsphereClient } from "../vsphere/index.js";
import { vsphereClient } from "./dr-vsphere.js";
import { resolveRef, type Checked, type Problem } from "./references.js";
import type { VCenterConnections } from "./vcenter-connections.js";

/** One site of the pair. */
export interface DrSite {
  readonly name: "protected" | "recovery";
  readonly vcenter: Checked<WithKind<VCenter>>;
  readonly gateway: Checked<WithKind<Gateway>>;
  /** The vault at this site: the recovery site's receives forward replication, the protected site's reverse replication. */
  readonly vault: Checked<WithKind<BackupVault>>;
  readonly datacenter?: string | undefined;
  readonly datastore?: string | undefined;
}

/** A server and its site pair, with both sites resolved. */
export interface DrContext {
  readonly ps: WithKind<ProtectedServer>;
  readonly pair: WithKind<SitePair>;
  readonly protectedSite: DrSite;
  readonly recoverySite: DrSite;
  readonly ctx: ReconcileContext;
  readonly connections: VCenterConnections;
  /** Points retention must keep: in use by drills or an uncommitted failover. */
  readonly pins: ReadonlySet<string>;
}

export async function resolveSites(reader: ObjectReader, ns: string, pair: WithKind<SitePair>): Promise<{ protectedSite: DrSite; recoverySite: DrSite }> {
  const s = pair.spec;
  const unset = <T>(reason: string, field: string) => Promise.resolve<Checked<T>>({ ok: false, problem: { reason, message: `${field} is not set` } });
  const vc = (field: string, name: string | undefined) =>
    name ? resolveRef<WithKind<VCenter>>(reader, "VCenter", ns, field, name, "Connected") : unset<WithKind<VCenter>>("NoVCenter", field);
  const gw = (field: string, name: string | undefined) =>
    name ? resolveRef<WithKind<Gateway>>(reader, "Gateway", ns, field, name, "Activated") : unset<WithKind<Gateway>>("NoGateway", field);
  const bv = (field: string, name: string | undefined) =>
    name ? resolveRef<WithKind<BackupVault>>(reader, "BackupVault", ns, field, name, "Ready") : unset<WithKind<BackupVault>>("NoVault", field);
  const protectedSite: DrSite = {
    name: "protected",
    vcenter: await vc("SitePair spec.source.vCenterRef", s.source.vCenterRef?.name),
    gateway: await gw("SitePair spec.gatewayRef", s.gatewayRef?.name),
    vault: await bv(s.reverseVaultRef ? "SitePair spec.reverseVaultRef" : "SitePair spec.vaultRef", (s.reverseVaultRef ?? s.vaultRef)?.name),
    datacenter: s.source.datacenter,
    datastore: s.source.datastore,
  };
  const recoverySite: DrSite = {
    name: "recovery",
    vcenter: await vc("SitePair spec.target.vCenterRef", s.target.vCenterRef?.name),
    gateway: await gw(s.recoveryGatewayRef ? "SitePair spec.recoveryGatewayRef" : "SitePair spec.gatewayRef", (s.recoveryGatewayRef ?? s.gatewayRef)?.name),
    vault: await bv("SitePair spec.vaultRef", s.vaultRef?.name),
    datacenter: s.target.datacenter,
    datastore: s.target.datastore,
  };
  return { protectedSite, recoverySite };
}

/** The first problem among a site's references that `need` names, if any. */
export function siteProblem(site: DrSite, need: readonly ("vcenter" | "gateway" | "vault")[]): Problem | undefined {
  for (const n of need) {
    const c = site[n];
    if (!c.ok) return c.problem;
  }
  return undefined;
}

/** A site's references when all that `need` names are usable; otherwise the first one's problem. */
export function usable<K extends "vcenter" | "gateway" | "vault">(site: DrSite, need: readonly K[]): Checked<{ [P in K]: Extract<DrSite[P], { ok: true }>["value"] }> {
  const out: Record<string, unknown> = {};
  for (const n of need) {
    const c = site[n];
    if (!c.ok) return c;
    out[n] = c.value;
  }
  return { ok: true, value: out as { [P in K]: Extract<DrSite[P], { ok: true }>["value"] } };
}

/** The session of a site's vCenter; throws when the site has none usable. */
export function siteClient(dr: DrContext, site: DrSite): Promise<VsphereClient> {
  if (!site.vcenter.ok) throw new Error(`The ${site.name} site's vCenter is not usable: ${site.vcenter.problem.message}`);
  return vsphereClient(dr.ctx.kube, dr.connections, site.vcenter.value);
}

/** A name for a VM DR creates, within vSphere's 80 characters. */
export function vmNameWithin80(base: string, suffix: string): string {
  return `${base.slice(0, 80 - suffix.length)}${suffix}`;
}
