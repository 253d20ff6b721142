import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Identities the test bed's components and users authenticate as (static tokens). */
export interface Identities {
  /** Cluster admin (group system:masters): the user running tests and kubectl. */
  readonly admin: string;
  /** kube-controller-manager, as kubeadm sets it up (per-controller service accounts). */
  readonly controllerManager: string;
  /** kube-scheduler. */
  readonly scheduler: string;
  /** The local node's agent, a kubelet identity checked by the Node authorizer. */
  readonly node: string;
}

/** Files the control plane needs, all under one directory. */
export interface Pki {
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  readonly tokenFile: string;
  readonly tokens: Identities;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args);
  } catch (err) {
    throw new Error(`openssl ${args[0] ?? ""} failed`, { cause: err });
  }
}

function token(): string {
  return randomBytes(24).toString("hex");
}

/**
 * Creates a certificate authority, the API server's serving certificate
 * (valid for 127.0.0.1 and the in-cluster names), the service-account signing
 * key pair and a static token file. ECDSA P-256 keeps generation fast.
 */
export async function createPki(dir: string, nodeName: string): Promise<Pki> {
  const p = (f: string) => join(dir, f);
  const pki: Pki = {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    tokenFile: p("tokens.csv"),
    tokens: { admin: token(), controllerManager: token(), scheduler: token(), node: token() },
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(["req", "-x509", ...ec, "-keyout", pki.caKey, "-out", pki.caCert, "-days", "30", "-subj", "/CN=lifeboat-testbed-ca"]);
  const ext = p("apiserver.ext");
  await writeFile(
    ext,
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n" +
      "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
  );
  const csr = p("apiserver.csr");
  await openssl(["req", "-new", ...ec, "-keyout", pki.serverKey, "-out", csr, "-subj", "/CN=kube-apiserver"]);
  await openssl(["x509", "-req", "-in", csr, "-CA", pki.caCert, "-CAkey", pki.caKey, "-CAcreateserial", "-out", pki.serverCert, "-days", "30", "-extfile", ext]);
  await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", pki.serviceAccountKey]);
  await openssl(["pkey", "-in", pki.serviceAccountKey, "-pubout", "-out", pki.serviceAccountPub]);
  const t = pki.tokens;
  await writeFile(
    pki.tokenFile,
    [
      `${t.admin},lifeboat-admin,uid-admin,"system:masters"`,
      `${t.controllerManager},system:kube-controller-manager,uid-kcm`,
      `${t.scheduler},system:kube-scheduler,uid-scheduler`,
      `${t.node},system:node:${nodeName},uid-node,"system:nodes"`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return pki;
}
