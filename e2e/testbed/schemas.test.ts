import { describe, expect, it } from "@jest/globals";
import yaml from "js-yaml";
import { crdSchemas, kubernetesSchemas, objectMetaSchema, schemaFileName, strictSchema } from "./schemas.js";

/** The OpenAPI-to-JSON-Schema rules of e2e/testbed/schemas.ts, one by one; chart-judges.test.ts runs the result in kubeconform. */
describe("strictSchema", () => {
  it("closes every object that lists its properties, at every depth", () => {
    expect(strictSchema({ type: "object", description: "dropped", properties: { spec: { type: "object", properties: { a: { type: "string" } } } } })).toEqual({
      type: "object",
      additionalProperties: false,
      properties: { spec: { type: "object", additionalProperties: false, properties: { a: { type: "string" } } } },
    });
  });

  it("leaves maps, objects without properties and preserved unknown fields open", () => {
    expect(strictSchema({ type: "object", additionalProperties: { type: "string" } })).toEqual({ type: "object", additionalProperties: { type: "string" } });
    expect(strictSchema({ type: "object" })).toEqual({ type: "object" });
    expect(strictSchema({ type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { a: { type: "string" } } })).toEqual({
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
      properties: { a: { type: "string" } },
    });
  });

  it("leaves value validations (allOf, anyOf, oneOf, not) open, and closes objects inside them only below their properties", () => {
    expect(strictSchema({ type: "object", properties: { a: { type: "string" }, b: { type: "string" } }, oneOf: [{ required: ["a"], properties: { a: {} } }, { required: ["b"] }] })).toEqual({
      type: "object",
      additionalProperties: false,
      properties: { a: { type: "string" }, b: { type: "string" } },
      oneOf: [{ required: ["a"], properties: { a: {} } }, { required: ["b"] }],
    });
  });

  it("accepts an integer or a string for int-or-string, in both spellings", () => {
    expect(strictSchema({ "x-kubernetes-int-or-string": true })).toEqual({ "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] });
    expect(strictSchema({ type: "string", format: "int-or-string" })).toEqual({ anyOf: [{ type: "integer" }, { type: "string" }] });
    // controller-gen writes its own anyOf beside the marker: kept as it is.
    expect(strictSchema({ "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }], pattern: "^\\d+%$" })).toEqual({
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
      pattern: "^\\d+%$",
    });
  });

  it("adds null only where the schema says nullable", () => {
    expect(strictSchema({ type: "string", nullable: true, enum: ["a"] })).toEqual({ type: ["string", "null"], enum: ["a", null] });
    expect(strictSchema({ type: "string" })).toEqual({ type: "string" });
  });

  it("does not mistake data for schemas", () => {
    const node = { type: "object", properties: { a: { type: "object", default: { properties: { x: 1 } }, "x-kubernetes-validations": [{ rule: "self.x > 0" }] } } };
    expect(strictSchema(node)).toEqual({ type: "object", additionalProperties: false, properties: { a: { type: "object", default: { properties: { x: 1 } }, "x-kubernetes-validations": [{ rule: "self.x > 0" }] } } });
  });
});

describe("schemaFileName", () => {
  it("follows kubeconform's {{.ResourceKind}}{{.KindSuffix}}.json", () => {
    expect(schemaFileName("Service", "", "v1")).toBe("service-v1.json");
    expect(schemaFileName("ClusterRole", "rbac.authorization.k8s.io", "v1")).toBe("clusterrole-rbac-v1.json");
    expect(schemaFileName("BackupVault", "lifeboat.io", "v1alpha1")).toBe("backupvault-lifeboat-v1alpha1.json");
  });
});

describe("crdSchemas", () => {
  it("gives one strict schema per served version with a schema", () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      spec: {
        group: "example.com",
        names: { kind: "Widget" },
        versions: [
          { name: "v1", served: true, schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: { size: { type: "integer" } } } } } } },
          { name: "v0", served: false, schema: { openAPIV3Schema: { type: "object" } } },
        ],
      },
    };
    const schemas = crdSchemas(`${yaml.dump({ kind: "ConfigMap" })}---\n${yaml.dump(crd)}`);
    expect([...schemas.keys()]).toEqual(["widget-example-v1.json"]);
    expect(schemas.get("widget-example-v1.json")).toEqual({
      type: "object",
      additionalProperties: false,
      properties: { spec: { type: "object", additionalProperties: false, properties: { size: { type: "integer" } } } },
    });
  });
});

describe("objectMetaSchema", () => {
  it("holds a custom resource's metadata to Kubernetes' ObjectMeta, not to the CRD's bare object", () => {
    const meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
    const objectMeta = objectMetaSchema({ definitions: { [meta]: { type: "object", properties: { name: { type: "string" } } }, "io.k8s.api.apps.v1.Other": { type: "object" } } });
    expect(objectMeta).toEqual({ $ref: `#/definitions/${meta}`, definitions: { [meta]: { type: "object", additionalProperties: false, properties: { name: { type: "string" } } } } });
    const crd = { kind: "CustomResourceDefinition", spec: { group: "example.com", names: { kind: "Widget" }, versions: [{ name: "v1", schema: { openAPIV3Schema: { type: "object", properties: { metadata: { type: "object" } } } } }] } };
    expect(crdSchemas(yaml.dump(crd), objectMeta).get("widget-example-v1.json")).toEqual({
      type: "object",
      additionalProperties: false,
      properties: { metadata: { $ref: `#/definitions/${meta}` } },
      definitions: { [meta]: { type: "object", additionalProperties: false, properties: { name: { type: "string" } } } },
    });
  });
});

describe("kubernetesSchemas", () => {
  const swagger = {
    definitions: {
      "io.k8s.api.apps.v1.Widget": {
        type: "object",
        "x-kubernetes-group-version-kind": [{ group: "apps", version: "v1", kind: "Widget" }],
        properties: { spec: { $ref: "#/definitions/io.k8s.api.apps.v1.WidgetSpec" } },
      },
      "io.k8s.api.apps.v1.WidgetSpec": {
        type: "object",
        properties: { port: { $ref: "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString" }, child: { $ref: "#/definitions/io.k8s.api.apps.v1.WidgetSpec" } },
      },
      "io.k8s.apimachinery.pkg.util.intstr.IntOrString": { type: "string", format: "int-or-string" },
      "io.k8s.apimachinery.pkg.api.resource.Quantity": { type: "string" },
      "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": {
        type: "object",
        "x-kubernetes-group-version-kind": [{ group: "", version: "v1", kind: "DeleteOptions" }, { group: "apps", version: "v1", kind: "DeleteOptions" }],
      },
    },
  };

  it("gives each kind a standalone strict file holding the definitions it reaches, recursive ones included", () => {
    const schemas = kubernetesSchemas(swagger);
    expect([...schemas.keys()]).toEqual(["widget-apps-v1.json"]);
    expect(schemas.get("widget-apps-v1.json")).toEqual({
      type: "object",
      additionalProperties: false,
      "x-kubernetes-group-version-kind": [{ group: "apps", version: "v1", kind: "Widget" }],
      properties: { spec: { $ref: "#/definitions/io.k8s.api.apps.v1.WidgetSpec" } },
      definitions: {
        "io.k8s.api.apps.v1.WidgetSpec": {
          type: "object",
          additionalProperties: false,
          properties: { port: { $ref: "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString" }, child: { $ref: "#/definitions/io.k8s.api.apps.v1.WidgetSpec" } },
        },
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": { anyOf: [{ type: "integer" }, { type: "string" }] },
      },
    });
  });

  it("refuses a spec that refers to a definition it lacks", () => {
    const broken = { definitions: { "io.k8s.api.apps.v1.Widget": { ...swagger.definitions["io.k8s.api.apps.v1.Widget"] } } };
    expect(() => kubernetesSchemas(broken)).toThrow(/refers to io\.k8s\.api\.apps\.v1\.WidgetSpec/);
  });
});
