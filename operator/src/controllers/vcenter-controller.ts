import type { VCenter } from "../api/generated/types.js";
import { isoSeconds } from "../util/time.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import type { Kube } from "../runtime/kube.js";
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
