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
  /** The node's kubelet, an identity checked by the Node authorizer. */
  readonly node: string;
  /** kube-proxy, bound to system:node-proxier by the API server's default RBAC. */
  readonly kubeProxy: string;
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
  /** The kubelet's serving certificate, for the node's address. */
  readonly kubeletCert: string;
  readonly kubeletKey: string;
  /** The API server's client certificate for kubelets (logs, exec), in system:masters as kubeadm makes it. */
  readonly kubeletClientCert: string;
  readonly kubeletClientKey: string;
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
 * (valid for the node's address, 127.0.0.1 and the in-cluster names), the
 * kubelet's serving certificate, the API server's kubelet client certificate,
 * the service-account signing key pair and a static token file. ECDSA P-256
 * keeps generation fast.
 */
export async function createPki(dir: string, nodeName: string, nodeAddress: string): Promise<Pki> {
  const p = (f: string) => join(dir, f);
  const pki: Pki = {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    tokenFile: p("tokens.csv"),
    tokens: { admin: token(), controllerManager: token(), scheduler: token(), node: token(), kubeProxy: token() },
    kubeletCert: p("kubelet.crt"),
    kubeletKey: p("kubelet.key"),
    kubeletClientCert: p("apiserver-kubelet-client.crt"),
    kubeletClientKey: p("apiserver-kubelet-client.key"),
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(["req", "-x509", ...ec, "-keyout", pki.caKey, "-out", pki.caCert, "-days", "30", "-subj", "/CN=lifeboat-testbed-ca"]);
  const apiserverExtensions =
    `subjectAltName=IP:${nodeAddress},IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n` +
    "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n";
  const sign = async (name: string, subject: string, extensions: string, cert: string, key: string) => {
    const extFile = p(`${name}.ext`);
    const csr = p(`${name}.csr`);
    await writeFile(extFile, extensions);
    await openssl(["req", "-new", ...ec, "-keyout", key, "-out", csr, "-subj", subject]);
    await openssl(["x509", "-req", "-in", csr, "-CA", pki.caCert, "-CAkey", pki.caKey, "-CAcreateserial", "-out", cert, "-days", "30", "-extfile", extFile]);
  };
  await sign("apiserver", "/CN=kube-apiserver", apiserverExtensions, pki.serverCert, pki.serverKey);
  await sign("kubelet", `/CN=${nodeName}`, `subjectAltName=IP:${nodeAddress},DNS:${nodeName}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`, pki.kubeletCert, pki.kubeletKey);
  await sign("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n", pki.kubeletClientCert, pki.kubeletClientKey);
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
      `${t.kubeProxy},system:kube-proxy,uid-kube-proxy`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return pki;
}
