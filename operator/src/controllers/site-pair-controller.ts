import type { SitePair } from "../api/generated/types.js";
import type { ReconcileContext, ReconcileResult, Reconciler } from "../runtime/controller.js";
import { holdWhileInUse, IN_USE_FINALIZER } from "./in-use-protection.js";
import { firstProblem, problemCondition, readSecretKeys, resolveRef, type Checked } from "./references.js";

/**
 * Checks a SitePair (seed 004 step 1): its vault Ready, its gateway
 * Activated, each vSphere site's VCenter Connected, and for cloud sites the
 * AccessKey pair present. The cloud APIs cannot be reached from here, so for
 * a cloud target Ready says exactly that only the credentials were checked.
 */
export class SitePairReconciler implements Reconciler<SitePair> {
  readonly kind = "SitePair";
  readonly readyCondition = "Ready";
  readonly finalizer = IN_USE_FINALIZER;

  async reconcile(pair: SitePair, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    const ns = pair.metadata.namespace ?? "";
    const s = pair.spec;
    const checks: Checked<unknown>[] = [
      await resolveRef(ctx.kube, "BackupVault", ns, "spec.vaultRef", s.vaultRef.name, "Ready"),
      await resolveRef(ctx.kube, "Gateway", ns, "spec.gatewayRef", s.gatewayRef.name, "Activated"),
    ];
    if (s.source.vCenterRef) checks.push(await resolveRef(ctx.kube, "VCenter", ns, "spec.source.vCenterRef", s.source.vCenterRef.name, "Connected"));
    if (s.target.vCenterRef) checks.push(await resolveRef(ctx.kube, "VCenter", ns, "spec.target.vCenterRef", s.target.vCenterRef.name, "Connected"));
    if (s.credentialsSecretRef) {
      checks.push(await readSecretKeys(ctx.kube, ns, "spec.credentialsSecretRef", s.credentialsSecretRef, { accessKeyIdKey: "accessKeyId", accessKeySecretKey: "accessKeySecret" }));
    }
    const problem = firstProblem(checks);
    if (problem) {
      ctx.setCondition(pair, problemCondition("Ready", problem));
      return undefined;
    }
    const users = (await ctx.kube.list("ProtectedServer", ns)).filter((p) => (p.spec as { sitePairRef: { name: string } }).sitePairRef.name === pair.metadata.name);
    (pair.status ??= {}).protectedServers = users.length;
    const cloud = s.type !== "VMwareToVMware";
    ctx.setCondition(pair, {
      type: "Ready",
      status: "True",
      reason: cloud ? "CredentialsPresent" : "SitesConnected",
      message: cloud
        ? "vault Ready, gateway Activated, vSphere sites Connected; for the cloud site only the AccessKey pair's presence was checked"
        : "vault Ready, gateway Activated, source and target VCenters Connected",
    });
    return undefined;
  }

  finalize(pair: SitePair, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
    return holdWhileInUse(pair, ctx, "Ready");
  }
}
