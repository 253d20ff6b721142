import type { VCenter } from "../api/generated/types.js";
import { isoSeconds } from "../util/time.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import type { Kube } from "../runtime/kube.js";
import { findCondition, type ConditionInput } from "../runtime/conditions.js";
import { describe } from "../runtime/errors.js";
import { conditionReason, type ConnectOptions, type TlsTrust } from "../vsphere/index.js";
import { holdWhileInUse, IN_USE_FINALIZER } from "./in-use-protection.js";
import { problemCondition, readSecretKeys, type Checked } from "./references.js";
import type { VCenterConnections } from "./vcenter-connections.js";

/** What to do about each way a connection fails. */
const advice: Record<string, string> = {
  AuthenticationFailed: "check the user name and password in spec.credentialsSecretRef",
  Unreachable: "check spec.address and that vCenter is reachable from the operator",
  CertificateMismatch: "vCenter's certificate does not match spec.tls; update the thumbprint or CA, or fix the address",
};

/** The condition that says how vCenter's certificate is checked. */
export const CERTIFICATE_VERIFIED = "CertificateVerified";

/**
 * How the operator and its workers check vCenter's certificate, as a
 * condition: True with the way (the system CAs by default), or False when
 * spec.tls.insecureSkipVerify turned the check off. That setting is honoured
 * (labs need it) but is weaker than what the object otherwise promises, so
 * it is said where `kubectl describe` shows it, not only in the spec.
 */
export function certificateCondition(tls: NonNullable<VCenter["spec"]["tls"]> | undefined): ConditionInput {
  const t = tls ?? {};
  if (t.caSecretRef) return { type: CERTIFICATE_VERIFIED, status: "True", reason: "CASecret", message: `vCenter's certificate is verified against the CA in Secret ${t.caSecretRef.name}` };
  if (t.thumbprint) return { type: CERTIFICATE_VERIFIED, status: "True", reason: "Thumbprint", message: "vCenter's certificate is pinned by its SHA-256 thumbprint" };
  if (t.insecureSkipVerify) {
    return {
      type: CERTIFICATE_VERIFIED,
      status: "False",
      reason: "InsecureSkipVerify",
      message: "spec.tls.insecureSkipVerify is true: neither the operator nor its workers verify vCenter's certificate, so anyone on the network path can read the credentials; set spec.tls.caSecretRef or spec.tls.thumbprint instead",
    };
  }
  return { type: CERTIFICATE_VERIFIED, status: "True", reason: "SystemCAs", message: "vCenter's certificate is verified against the system CAs (and the chart's extraCACertificates)" };
}

/** How to log in to a VCenter: its address, the credentials from its Secret and the trust in spec.tls. */
export async function vcenterConnectOptions(kube: Kube, vc: VCenter): Promise<Checked<ConnectOptions>> {
  const ns = vc.metadata.namespace ?? "";
  const creds = await readSecretKeys(kube, ns, "spec.credentialsSecretRef", vc.spec.credentialsSecretRef, { usernameKey: "username", passwordKey: "password" });
  if (!creds.ok) return creds;
  const tlsSpec = vc.spec.tls ?? {};
  let tls: TlsTrust = {};
  if (tlsSpec.caSecretRef) {
    const ca = await readSecretKeys(kube, ns, "spec.tls.caSecretRef", tlsSpec.caSecretRef, { key: "ca.crt" });
    if (!ca.ok) return ca;
    tls = { caCert: ca.value.key ?? Buffer.alloc(0) };
  } else if (tlsSpec.thumbprint) {
    tls = { thumbprint: tlsSpec.thumbprint };
  } else if (tlsSpec.insecureSkipVerify) {
    tls = { insecureSkipVerify: true };
  }
  return {
    ok: true,
    value: {
      address: vc.spec.address,
      username: creds.value.usernameKey?.toString("utf8") ?? "",
      password: creds.value.passwordKey?.toString("utf8") ?? "",
      tls,
      timeoutMs: (vc.spec.requestTimeoutSeconds ?? 60) * 1000,
    },
  };
}

/**
 * Connects to a vCenter with the credentials in its Secret and the trust in
 * spec.tls. Connected is True only after a successful login; version and
 * inventory counts come from that session and are kept current by vCenter's
 * change feed. A rotated password in the Secret reconnects without a restart;
 * a wrong one gives AuthenticationFailed, and no message ever holds it.
 */
export class VCenterReconciler implements Reconciler<VCenter> {
  readonly kind = "VCenter";
  readonly readyCondition = "Connected";
  readonly finalizer = IN_USE_FINALIZER;

  constructor(private readonly connections: VCenterConnections) {}

  async reconcile(vc: VCenter, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const key = `${vc.metadata.namespace ?? ""}/${vc.metadata.name ?? ""}`;
    const trust = certificateCondition(vc.spec.tls);
    // The Warning once, when verification goes off (the condition keeps saying it).
    if (trust.status === "False" && findCondition(vc.status?.conditions, CERTIFICATE_VERIFIED)?.status !== "False") {
      await ctx.events.record(vc, "Warning", trust.reason, trust.message);
    }
    ctx.setCondition(vc, trust);
    const options = await vcenterConnectOptions(ctx.kube, vc);
    if (!options.ok) {
      await this.connections.close(key);
      ctx.setCondition(vc, problemCondition("Connected", options.problem));
      return undefined;
    }
    try {
      const conn = await this.connections.get(key, options.value, { name: "vcenter", onChange: () => { ctx.enqueue(vc); } });
      if (conn.stale || !conn.summary) {
        conn.stale = false;
        conn.summary = await conn.client.summary();
        conn.lastRefresh = new Date();
      }
      const s = conn.summary;
      const status = (vc.status ??= {});
      status.version = s.version;
      status.build = s.build;
      status.apiVersion = s.apiVersion;
      status.instanceUuid = s.instanceUuid;
      status.inventory = { datacenters: s.datacenters, clusters: s.clusters, hosts: s.hosts, datastores: s.datastores, networks: s.networks, virtualMachines: s.vms };
      if (conn.lastRefresh) status.lastRefresh = isoSeconds(conn.lastRefresh);
      ctx.setCondition(vc, {
        type: "Connected",
        status: "True",
        reason: "Connected",
        message: `logged in to ${s.fullName || `vCenter ${s.version}`}; inventory followed through its change feed`,
      });
      return undefined;
    } catch (err) {
      await this.connections.close(key);
      const reason = conditionReason(err);
      const hint = advice[reason];
      ctx.setCondition(vc, { type: "Connected", status: "False", reason: reason === "Error" ? "ConnectFailed" : reason, message: `${describe(err)}${hint ? `; ${hint}` : ""}` });
      return { requeueAfterMs: 30_000 };
    }
  }

  async finalize(vc: VCenter, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const held = await holdWhileInUse(vc, ctx, "Connected");
    if (held) return held;
    await this.connections.close(`${vc.metadata.namespace ?? ""}/${vc.metadata.name ?? ""}`);
    return undefined;
  }
}
