import { repoRoot } from "./paths.js";

/**
 * How the local node runs a container image without a container runtime: each
 * image it knows maps to a program on this machine. Container `command` and
 * `args` keep their Kubernetes meaning (command replaces the entrypoint, args
 * follow it); paths under `pathPrefix` are rewritten to `hostPath`, so the
 * operator image's `/app/...` paths resolve to this checkout's built code.
 *
 * | image                                   | runs                                        |
 * |-----------------------------------------|---------------------------------------------|
 * | node, docker.io/library/node:TAG        | this machine's Node.js (the test bed's own) |
 * | ghcr.io/lifeboat-io/lifeboat:TAG        | node /app/dist/operator/src/main.js, /app = this checkout |
 * | busybox, alpine, debian (any tag)       | /bin/sh and the host's tools                |
 */
export interface ImageMapping {
  readonly name: string;
  readonly pattern: RegExp;
  readonly entrypoint: readonly string[];
  readonly pathPrefix?: string;
  readonly hostPath?: string;
  readonly workingDir?: string;
}

const tag = String.raw`(:[\w][\w.-]*)?(@sha256:[a-f0-9]{64})?`;

export const imageTable: readonly ImageMapping[] = [
  { name: "node", pattern: new RegExp(`^(docker\\.io/)?(library/)?node${tag}$`), entrypoint: ["node"] },
  {
    name: "ghcr.io/lifeboat-io/lifeboat",
    pattern: new RegExp(`^(ghcr\\.io/lifeboat-io/)?lifeboat${tag}$`),
    entrypoint: ["node", "/app/dist/operator/src/main.js"],
    pathPrefix: "/app/",
    hostPath: `${repoRoot}/`,
    workingDir: repoRoot,
  },
  { name: "busybox/alpine/debian", pattern: new RegExp(`^(docker\\.io/)?(library/)?(busybox|alpine|debian)${tag}$`), entrypoint: ["/bin/sh"] },
];

/** What to execute for one container. */
export interface ResolvedCommand {
  readonly file: string;
  readonly args: string[];
  readonly workingDir?: string;
}

/** Thrown when a pod names an image the table does not map; reported like a failed image pull. */
export class ImageNotMappedError extends Error {}

/**
 * Resolves a container's image, command and args into a host command line.
 * `node` always means the Node.js running the test bed, so pods run on the
 * same runtime version as the tests.
 */
export function resolveContainerCommand(image: string, command: readonly string[] | undefined, args: readonly string[] | undefined): ResolvedCommand {
  const mapping = imageTable.find((m) => m.pattern.test(image));
  if (!mapping) {
    throw new ImageNotMappedError(
      `image ${image} is not in the local node's image table (known: ${imageTable.map((m) => m.name).join(", ")}); see e2e/testbed/images.ts`,
    );
  }
  const argv = command && command.length > 0 ? [...command, ...(args ?? [])] : [...mapping.entrypoint, ...(args ?? [])];
  const mapped = argv.map((a) => (mapping.pathPrefix && mapping.hostPath && a.startsWith(mapping.pathPrefix) ? mapping.hostPath + a.slice(mapping.pathPrefix.length) : a));
  const [file, ...rest] = mapped;
  if (file === undefined) throw new ImageNotMappedError(`container of image ${image} has no command`);
  const result: ResolvedCommand = { file: file === "node" ? process.execPath : file, args: rest };
  return mapping.workingDir ? { ...result, workingDir: mapping.workingDir } : result;
}
