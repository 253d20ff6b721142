import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { clusterUp } from "./cluster.js";

const execFileAsync = promisify(execFile);

/**
 * The README's main job on the local test bed. For now it brings the control
 * plane up and shows it working: a Job runs on the local node through the real
 * scheduler and Job controller, and kubectl shows the result. Later issues
 * grow this into the backup-and-restore demo.
 */
export async function runDemo(name: string): Promise<void> {
  const tb = await clusterUp(name);
  const kubectl = async (...args: string[]) => {
    const { stdout } = await execFileAsync(tb.kubectl, ["--kubeconfig", tb.kubeconfig, ...args]);
    return stdout;
  };
  const job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: `hello-${Date.now().toString(36)}`, namespace: "default" },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "hello", image: "node:20", command: ["node", "-e", "console.log(`hello from ${process.env.HOSTNAME} on Node ${process.version}`)"] }],
        },
      },
    },
  };
  console.log(`\n$ kubectl version\n${await kubectl("version")}`);
  console.log(`$ kubectl get nodes -o wide\n${await kubectl("get", "nodes", "-o", "wide")}`);
  const child = execFile(tb.kubectl, ["--kubeconfig", tb.kubeconfig, "apply", "-f", "-"]);
  child.stdin?.end(JSON.stringify(job));
  await new Promise<void>((resolve, reject) => {
    child.on("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`kubectl apply exited with ${code}`));
    });
  });
  console.log(`$ kubectl wait --for=condition=Complete job/${job.metadata.name}`);
  console.log(await kubectl("wait", "--for=condition=Complete", "--timeout=120s", `job/${job.metadata.name}`));
  console.log(`$ kubectl get jobs,pods\n${await kubectl("get", "jobs,pods")}`);
  console.log(`The test bed stays up. export KUBECONFIG=${tb.kubeconfig}; stop it with: npm run cluster:down`);
}
