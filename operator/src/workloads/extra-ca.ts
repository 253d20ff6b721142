/**
 * The operator's extra trusted CAs, passed on to workers. The chart mounts a
 * ConfigMap's PEM bundle into the operator and points NODE_EXTRA_CA_CERTS at
 * it, so Node trusts it in the operator on top of its bundled list. Workers
 * run in users' namespaces and cannot mount that ConfigMap, and Node reads
 * NODE_EXTRA_CA_CERTS only from a file at start-up; so the operator hands the
 * certificates (public, not secret) to each worker in EXTRA_CA_ENV.
 */
import { readFileSync } from "node:fs";
import type * as k8s from "@kubernetes/client-node";
import { EXTRA_CA_ENV } from "../worker/spec.js";

let cached: { readonly file: string; readonly pem: string | undefined } | undefined;

/** The PEM text of the file NODE_EXTRA_CA_CERTS names, read once per file; undefined when unset or unreadable (Node itself warns then). */
export function operatorExtraCACerts(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  if (cached?.file !== file) {
    let pem: string | undefined;
    try {
      pem = readFileSync(file, "utf8").trim() || undefined;
    } catch {
      pem = undefined;
    }
    cached = { file, pem };
  }
  return cached.pem;
}

/** The env var that gives a worker the operator's extra CAs; none when there are none. */
export function extraCAEnv(env: NodeJS.ProcessEnv = process.env): k8s.V1EnvVar[] {
  const pem = operatorExtraCACerts(env);
  return pem ? [{ name: EXTRA_CA_ENV, value: pem }] : [];
}
