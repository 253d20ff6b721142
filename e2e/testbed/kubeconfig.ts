import { readFile, writeFile } from "node:fs/promises";
import { dump } from "js-yaml";

/**
 * Writes a kubeconfig that authenticates with a bearer token and verifies the
 * server against the test bed's CA. Used for the admin, for the control-plane
 * components, and for each pod (with its service-account token).
 */
export async function writeKubeconfig(path: string, server: string, caCertPath: string, user: string, token: string, namespace = "default"): Promise<void> {
  const ca = (await readFile(caCertPath)).toString("base64");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "lifeboat-testbed", cluster: { server, "certificate-authority-data": ca } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: "lifeboat-testbed", context: { cluster: "lifeboat-testbed", user, namespace } }],
    "current-context": "lifeboat-testbed",
  };
  await writeFile(path, dump(config), { mode: 0o600 });
}
