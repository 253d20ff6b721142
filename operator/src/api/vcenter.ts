import { ageColumn, conditionColumn, conditions, localRef, observedGeneration, reasonColumn, secretRef, type KindDefinition } from "./common.js";
import { boolean, integer, object, string, withRules } from "./schema.js";

/**
 * VCenter: a vCenter Server Lifeboat talks to (seeds 000, 001 "add vCenter").
 * The password may hold any character (seed 001's tool failed on
 * `` ` ^ ~ = ; ! / ( [ ] { } @ $ \ & # % + ``); it lives in a Secret, never in spec.
 */
export const vCenter: KindDefinition = {
  kind: "VCenter",
  plural: "vcenters",
  singular: "vcenter",
  shortNames: ["vc"],
  description: "A vCenter Server: how to reach it, its credentials and how to trust its certificate.",
  spec: object(
    {
      address: string("Host name or IP address of vCenter, optionally with :port.", {
        minLength: 1,
        maxLength: 261,
        pattern: "^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$|^\\[[0-9a-fA-F:.]+\\](:[0-9]{1,5})?$",
      }),
      credentialsSecretRef: secretRef("the vCenter user name and password", {
        usernameKey: { default: "username", description: "Key of the user name, e.g. backup@vsphere.local." },
        passwordKey: { default: "password", description: "Key of the password; any characters." },
      }),
      tls: withRules(
        object(
          {
            caSecretRef: secretRef("the CA bundle that signed vCenter's certificate", { key: { default: "ca.crt", description: "Key of the PEM bundle." } }),
            thumbprint: string("SHA-256 fingerprint of vCenter's certificate, hex with or without colons.", {
              pattern: "^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$",
            }),
            insecureSkipVerify: boolean("Do not verify vCenter's certificate at all. Only for labs.", false),
          },
          [],
          { description: "How to trust vCenter's certificate; with none set, the system's CAs." },
        ),
        {
          rule: "(has(self.caSecretRef) ? 1 : 0) + (has(self.thumbprint) ? 1 : 0) + (self.insecureSkipVerify ? 1 : 0) <= 1",
          message: "spec.tls: set at most one of caSecretRef, thumbprint or insecureSkipVerify",
        },
      ),
      gatewayRef: localRef("Gateway whose workers reach this vCenter"),
      requestTimeoutSeconds: integer("Timeout of one vSphere API call.", 5, 600, { default: 60 }),
    },
    ["address", "credentialsSecretRef", "gatewayRef"],
  ),
  status: object({
    observedGeneration,
    conditions,
    version: string("vCenter's product version, e.g. 8.0.2."),
    build: string("vCenter's build number."),
    apiVersion: string("vSphere API version."),
    instanceUuid: string("vCenter instance UUID; recovery points record it to tell vCenters apart."),
    inventory: object(
      {
        datacenters: integer("Datacenters.", 0),
        clusters: integer("Clusters.", 0),
        hosts: integer("ESXi hosts.", 0),
        datastores: integer("Datastores.", 0),
        networks: integer("Networks.", 0),
        virtualMachines: integer("Virtual machines (templates excluded).", 0),
      },
      [],
      { description: "Inventory counts, kept current from vCenter's change feed." },
    ),
    lastRefresh: string("When the inventory counts were last updated.", { format: "date-time" }),
  }),
  printerColumns: [
    { name: "Address", type: "string", jsonPath: ".spec.address" },
    conditionColumn("Connected"),
    reasonColumn("Connected"),
    { name: "Version", type: "string", jsonPath: ".status.version" },
    { name: "VMs", type: "integer", jsonPath: ".status.inventory.virtualMachines" },
    ageColumn,
  ],
};
