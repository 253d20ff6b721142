import { GROUP, VERSION, type KindDefinition } from "./common.js";
import type { Schema } from "./schema.js";

/** The complete OpenAPI schema of one kind's objects, as served by the API server. */
export function objectSchema(def: KindDefinition): Schema {
  return {
    type: "object",
    description: def.description,
    properties: {
      apiVersion: { type: "string", description: "APIVersion of the object." },
      kind: { type: "string", description: "Kind of the object." },
      metadata: { type: "object" },
      spec: { ...def.spec, description: def.spec.description ?? `Desired state of the ${def.kind}.` },
      status: { ...def.status, description: def.status.description ?? `Observed state of the ${def.kind}.` },
    },
    required: ["spec"],
    ...(def.rootRules ? { "x-kubernetes-validations": def.rootRules } : {}),
  };
}

/** The CustomResourceDefinition of one kind: status subresource, printer columns, short names, category `lifeboat`. */
export function customResourceDefinition(def: KindDefinition): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { "app.kubernetes.io/name": "lifeboat", "app.kubernetes.io/part-of": "lifeboat" },
    },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: [...def.shortNames],
        categories: ["lifeboat"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: objectSchema(def) },
        },
      ],
    },
  };
}
