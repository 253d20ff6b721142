/**
 * A small vocabulary for writing structural OpenAPI v3 schemas as Kubernetes
 * CRDs want them. Each kind's schema is written once with these helpers and is
 * the single source for its CRD (crds/), its TypeScript type
 * (generated/types.ts) and its ajv validator.
 */

/** The subset of JSON Schema / OpenAPI v3 that structural CRD schemas use. */
export interface Schema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  items?: Schema;
  enum?: (string | number | boolean)[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  "x-kubernetes-validations"?: CelRule[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
}

/** A CEL rule; the message names the field and says what is allowed. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

type Extra = Omit<Schema, "type" | "properties" | "required">;

export function object(properties: Record<string, Schema>, required: string[] = [], extra: Extra = {}): Schema {
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}), ...extra };
}

export function string(description: string, extra: Omit<Schema, "type" | "description"> = {}): Schema {
  return { type: "string", description, ...extra };
}

export function integer(description: string, minimum?: number, maximum?: number, extra: Omit<Schema, "type" | "description"> = {}): Schema {
  return {
    type: "integer",
    description,
    ...(minimum !== undefined ? { minimum } : {}),
    ...(maximum !== undefined ? { maximum } : {}),
    ...extra,
  };
}

export function boolean(description: string, defaultValue?: boolean): Schema {
  return { type: "boolean", description, ...(defaultValue !== undefined ? { default: defaultValue } : {}) };
}

export function enumeration<T extends string>(description: string, values: readonly T[], defaultValue?: T): Schema {
  return { type: "string", description, enum: [...values], ...(defaultValue !== undefined ? { default: defaultValue } : {}) };
}

export function array(description: string, items: Schema, extra: Omit<Schema, "type" | "description" | "items"> = {}): Schema {
  return { type: "array", description, items, ...extra };
}

export function stringMap(description: string): Schema {
  return { type: "object", description, additionalProperties: { type: "string" } };
}

export function described(description: string, schema: Schema): Schema {
  return { ...schema, description };
}

/**
 * The rules that refuse an http:// endpoint while the object's `useHTTPS` is
 * true or unset: fail closed, plain HTTP only where a field says so. `fields` are
 * paths under the object (dotted for nested ones, each optional); `path` is
 * the object's own path, for the messages.
 */
export function httpsEndpointRules(path: string, fields: readonly string[]): CelRule[] {
  return fields.map((field) => {
    const parts = field.split(".");
    const present = parts.map((_, i) => `!has(self.${parts.slice(0, i + 1).join(".")})`).join(" || ");
    return {
      rule: `(has(self.useHTTPS) && !self.useHTTPS) || ${present} || self.${field}.startsWith('https://')`,
      message: `${path}.${field} must start with https:// while ${path}.useHTTPS is true; set useHTTPS: false to allow http://`,
    };
  });
}

/**
 * A spec schema as status holds it, for a copy of spec values the operator
 * records: without defaults (the API server would fill them in on every
 * status write, so the operator's copy would always differ from what it
 * reads back, and each reconcile would write again) and without CEL rules
 * (the spec's rules held when the values were written there).
 */
export function observed(schema: Schema): Schema {
  const { default: _default, "x-kubernetes-validations": _rules, properties, items, ...rest } = schema;
  return {
    ...rest,
    ...(properties ? { properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, observed(v)])) } : {}),
    ...(items ? { items: observed(items) } : {}),
  };
}

/** Adds CEL rules to a schema. */
export function withRules(schema: Schema, ...rules: CelRule[]): Schema {
  return { ...schema, "x-kubernetes-validations": [...(schema["x-kubernetes-validations"] ?? []), ...rules] };
}
