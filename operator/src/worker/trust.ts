/**
 * The CAs a worker trusts when a spec names none. Node verifies against its
 * bundled Mozilla CA list (tls.rootCertificates); that list is what Lifeboat
 * calls "the system CAs". The operator extends it with NODE_EXTRA_CA_CERTS,
 * which Node reads from a file at start-up; a worker cannot (its pod has no
 * such file), so it gets the same certificates in EXTRA_CA_ENV and adds them
 * to the bundled list itself. A CA a spec names (caSecretRef) replaces the
 * default trust instead, in the operator and in workers alike.
 */
import { rootCertificates } from "node:tls";
import { EXTRA_CA_ENV } from "./spec.js";

/**
 * The default trust as a PEM bundle for an https Agent's `ca`: Node's list
 * plus the extra certificates; undefined when there are none, so that Node's
 * own default applies unchanged.
 */
export function defaultTrust(env: NodeJS.ProcessEnv): string | undefined {
  const extra = env[EXTRA_CA_ENV]?.trim();
  if (!extra) return undefined;
  return [...rootCertificates, extra].join("\n");
}

/** The CA bundle for one endpoint: the one its spec names (in the environment variable `caCertEnv`), else the default trust. */
export function trustFor(env: NodeJS.ProcessEnv, caCertEnv: string | undefined): string | undefined {
  return caCertEnv ? env[caCertEnv] : defaultTrust(env);
}
