import { ageColumn, clockTime, conditionColumn, conditions, localRef, observedGeneration, placement, quantity, reasonColumn, secretRef, WEEKDAYS, type KindDefinition } from "./common.js";
import { array, boolean, enumeration, integer, object, string, withRules } from "./schema.js";


/**
 * Gateway: the fleet of dedup-upload workers for one site (seed 000's backup
 * gateway; seed 001's gateway settings: worker and CPU limits, HTTPS, flow
 * control). Activation (seed 001 step 5) becomes a condition that checks the
 * credentials and the vault, and re-checks when the Secret rotates.
 */
export const gateway: KindDefinition = {
  kind: "Gateway",
  plural: "gateways",
  singular: "gateway",
  shortNames: ["gw"],
  description: "A site's fleet of dedup-upload workers, with its limits, flow control and credentials.",
  rootRules: [{ rule: "self.metadata.name.size() <= 64", message: "metadata.name: a Gateway name is 1-64 characters" }],
  spec: object(
    {
      vaultRef: localRef("BackupVault the workers write to"),
      platform: enumeration("Where the VMs run (seed 001): on-premises vSphere or Alibaba Cloud VMware Service.", ["OnPremVSphere", "ACVS"], "OnPremVSphere"),
      networkType: enumeration("How workers reach the vault: over the Internet or inside a VPC.", ["Internet", "VPC"], "Internet"),
      useHTTPS: boolean("Send data to the vault over HTTPS (seed 001: slower, but encrypted in transit as well as at rest).", true),
      credentialsSecretRef: secretRef("the AccessKey pair the workers use for the vault instead of the vault's own credentials (a per-site RAM user, as seed 001 recommends)", {
        accessKeyIdKey: { default: "accessKeyId", description: "Key of the AccessKey id." },
        accessKeySecretKey: { default: "accessKeySecret", description: "Key of the AccessKey secret." },
      }),
      maxWorkers: integer("Most worker pods running at once (seed 001: maximum worker threads).", 1, 64, { default: 4 }),
      maxCpu: integer("Most CPU cores all workers together may request (seed 001: maximum CPU cores).", 1, 256, { default: 4 }),
      flowControl: array(
        "Bandwidth limits by time window (seed 001 flow control). Outside every window, uploads are unlimited. Times are in timeZone.",
        withRules(
          object(
            {
              days: array("Days the window applies to.", enumeration("Day.", WEEKDAYS), { minItems: 1, maxItems: 7, "x-kubernetes-list-type": "set" }),
              start: clockTime,
              end: clockTime,
              bandwidth: quantity("Upload limit for all workers together, in bytes per second, e.g. 50Mi."),
            },
            ["days", "start", "end", "bandwidth"],
          ),
          { rule: "self.start != self.end", message: "spec.flowControl[].end must differ from start; a window that ends before it starts runs past midnight" },
        ),
        { maxItems: 32 },
      ),
      timeZone: string("IANA time zone of the flow-control windows, e.g. Asia/Tokyo.", { default: "UTC", maxLength: 64 }),
      workers: placement,
    },
    ["vaultRef"],
  ),
  status: object({
    observedGeneration,
    conditions,
    activeWorkers: integer("Worker pods running now.", 0),
    throughputBytesPerSecond: integer("Upload throughput of all workers, averaged over the last minute.", 0),
    bandwidthLimitBytesPerSecond: integer("The flow-control limit in force now; absent when unlimited.", 0),
    activatedSecretVersion: string("resourceVersion of the credentials Secret when the gateway was last activated."),
  }),
  printerColumns: [
    { name: "Vault", type: "string", jsonPath: ".spec.vaultRef.name" },
    { name: "Platform", type: "string", jsonPath: ".spec.platform" },
    conditionColumn("Activated"),
    reasonColumn("Activated"),
    { name: "Workers", type: "integer", jsonPath: ".status.activeWorkers" },
    ageColumn,
  ],
};
