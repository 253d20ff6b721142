// Checks a response body against the SDK's response model: every key the
// server sends must be one the model declares (its `names()` map, walked
// recursively through `types()`), with a value of the declared kind. A field
// the SDK does not know is a field the contract server invented.

/** What the SDK's generated models (`$dara.Model` subclasses) expose statically. */
export interface SdkModelClass {
  names(): Record<string, string>;
  types(): Record<string, unknown>;
}

function isModelClass(t: unknown): t is SdkModelClass {
  return typeof t === "function" && "names" in t && "types" in t;
}

function checkScalar(kind: string, value: unknown, path: string, problems: string[]): void {
  const ok =
    kind === "string" ? typeof value === "string"
    : kind === "boolean" ? typeof value === "boolean"
    : ["number", "integer", "long", "float", "double", "int32", "int64"].includes(kind) ? typeof value === "number"
    : true;
  if (!ok) problems.push(`${path}: ${JSON.stringify(value)} is not a ${kind}`);
}

function checkValue(type: unknown, value: unknown, path: string, problems: string[]): void {
  if (value === null || value === undefined) return;
  if (typeof type === "string") {
    checkScalar(type, value, path, problems);
  } else if (isModelClass(type)) {
    if (typeof value !== "object" || Array.isArray(value)) problems.push(`${path}: expected an object`);
    else problems.push(...unknownFields(type, value, path));
  } else if (type && typeof type === "object" && (type as { type?: unknown }).type === "array") {
    if (!Array.isArray(value)) {
      problems.push(`${path}: expected an array`);
      return;
    }
    const item = (type as { itemType: unknown }).itemType;
    value.forEach((v, i) => { checkValue(item, v, `${path}[${i}]`, problems); });
  }
  // Maps and `any` accept whatever they hold.
}

/**
 * Lists the problems of a JSON body against an SDK model class, e.g.
 * `unknownFields(DescribeDisksResponseBody, body)`: keys the model does not
 * declare, and values of the wrong kind. Empty when the body conforms.
 */
export function unknownFields(model: SdkModelClass, body: unknown, path = "$"): string[] {
  const problems: string[] = [];
  if (body === null || typeof body !== "object") return [`${path}: expected an object`];
  const names = model.names();
  const types = model.types();
  const byWire = new Map(Object.entries(names).map(([prop, wire]) => [wire, prop]));
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const prop = byWire.get(key);
    if (prop === undefined) {
      problems.push(`${path}.${key}: not declared by the SDK model`);
      continue;
    }
    checkValue(types[prop], value, `${path}.${key}`, problems);
  }
  return problems;
}
