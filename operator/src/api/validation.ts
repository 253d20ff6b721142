import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { KindDefinition } from "./common.js";
import { objectSchema } from "./crd.js";
import { kinds } from "./kinds.js";

// ajv-formats is CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** A spec problem, with the field it concerns in the API server's dotted form (spec.backend.s3.bucket). */
export interface SpecProblem {
  readonly field: string;
  readonly message: string;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: false });
  addFormats(ajv);
  // Kubernetes' own keywords: the API server enforces them (CEL, list types);
  // ajv checks the structural part the same way, so they are known no-ops here.
  ajv.addVocabulary([
    "x-kubernetes-validations",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
  ]);
  return ajv;
}

const ajv = newAjv();
const validators = new Map<string, ValidateFunction>();

function validatorFor(def: KindDefinition): ValidateFunction {
  let v = validators.get(def.kind);
  if (!v) {
    v = ajv.compile(objectSchema(def));
    validators.set(def.kind, v);
  }
  return v;
}

function toProblem(e: ErrorObject): SpecProblem {
  const path = e.instancePath.replace(/^\//, "").replace(/\/(\d+)(?=\/|$)/g, "[$1]").replace(/\//g, ".");
  const field = e.keyword === "required" ? [path, (e.params as { missingProperty: string }).missingProperty].filter(Boolean).join(".") : path;
  return { field: field || "(root)", message: e.message ?? e.keyword };
}

/**
 * Validates an object against its kind's structural schema (CEL rules are the
 * API server's). The operator runs this before acting, so an object stored
 * under an older CRD never drives a reconciler with a shape it does not know.
 */
export function validateObject(kind: string, obj: unknown): SpecProblem[] {
  const def = kinds.find((k) => k.kind === kind);
  if (!def) return [{ field: "kind", message: `unknown kind ${kind}` }];
  const validate = validatorFor(def);
  if (validate(obj)) return [];
  return (validate.errors ?? []).map(toProblem);
}
