/**
 * `npm run bench:vault`: Lifeboat's vault engine beside kopia and restic
 * (built from pinned Go module versions, e2e/testbed/go/{kopia,restic}) on
 * one generated disk image, on the filesystem backend: a full backup, an
 * incremental after 5% of the 1 MiB blocks changed (ours is told the changed
 * extents, as VMware CBT would tell it; the others rescan the file, as they
 * must), and a restore. Each run is a child process measured by GNU time
 * (wall time, user+system CPU, peak RSS). Not a test: it prints a table.
 *
 *   npm run bench:vault -- [--size 4Gi] [--dir DIR] [--keep]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { ensureComponent } from "../../e2e/testbed/components.js";
import { repoRoot } from "../../e2e/testbed/paths.js";
import { formatBytes } from "../../operator/src/util/quantity.js";
import { parseSize } from "../../operator/src/vault/format.js";

const MiB = 1024 * 1024;
const PASSWORD = "lifeboat-bench-password-0123456789";

interface Measured {
  wallSeconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

/** Runs a command under GNU time; throws with its output when it fails. */
async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measured> {
  const timeFile = join(tmpdir(), `bench-time-${process.pid}-${Date.now()}`);
  const started = process.hrtime.bigint();
  const child = spawn("/usr/bin/time", ["-o", timeFile, "-f", "%U %S %M", cmd, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  child.stderr.on("data", (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${output}`);
  const [user = "0", sys = "0", rssKb = "0"] = (await readFile(timeFile, "utf8")).trim().split("\n").pop()?.split(" ") ?? [];
  await rm(timeFile, { force: true });
  return { wallSeconds, cpuSeconds: Number(user) + Number(sys), peakRssBytes: Number(rssKb) * 1024 };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function fileHash(path: string): Promise<string> {
  const hasher = new Blake3Hasher();
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) hasher.update(chunk as Buffer);
  return hasher.digest("hex");
}

/** A small deterministic generator (xorshift) so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/**
 * The disk image: 64 MiB regions cycling through zeros, compressible text,
 * random data and a copy of an earlier random region (what clones and
 * copied files look like on a VM disk).
 */
async function generateImage(path: string, size: number): Promise<void> {
  const region = 64 * MiB;
  const fh = await open(path, "w");
  const text = Buffer.from(Array.from({ length: 4096 }, (_, i) => `${i} INFO request handled in ${i % 97} ms path=/api/v1/items/${i * 7} user=${i % 13}\n`).join(""));
  const randomRegions: Buffer[] = [];
  try {
    for (let at = 0, r = 0; at < size; at += region, r++) {
      const len = Math.min(region, size - at);
      let data: Buffer;
      switch (r % 4) {
        case 0: data = Buffer.alloc(len); break;
        case 1: {
          data = Buffer.allocUnsafe(len);
          for (let o = 0; o < len; o += text.length) text.copy(data, o, 0, Math.min(text.length, len - o));
          data.writeUInt32LE(r, 0);
          break;
        }
        case 2: data = randomBytes(len); if (randomRegions.length < 4) randomRegions.push(data); break;
        default: data = (randomRegions[r % randomRegions.length] ?? randomBytes(len)).subarray(0, len);
      }
      await fh.write(data, 0, len, at);
    }
  } finally {
    await fh.close();
  }
}

/** Overwrites 5% of the 1 MiB blocks with new random data; returns the changed extents. */
async function changeBlocks(path: string, size: number): Promise<{ offset: number; length: number }[]> {
  const blocks = Math.floor(size / MiB);
  const next = rng(42);
  const chosen = new Set<number>();
  while (chosen.size < Math.max(1, Math.round(blocks * 0.05))) chosen.add(Math.floor(next() * blocks));
  const fh = await open(path, "r+");
  try {
    for (const b of chosen) await fh.write(randomBytes(MiB), 0, MiB, b * MiB);
  } finally {
    await fh.close();
  }
  return [...chosen].sort((a, b) => a - b).map((b) => ({ offset: b * MiB, length: MiB }));
}

interface Row {
  tool: string;
  phase: string;
  m: Measured;
  stored: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: "string", default: "4Gi" }, dir: { type: "string" }, keep: { type: "boolean" } } });
  const size = parseSize(values.size);
  if (size % MiB !== 0) throw new Error("--size must be a whole number of MiB");
  const work = values.dir ?? (await mkdtemp(join(tmpdir(), "lifeboat-bench-")));
  await mkdir(work, { recursive: true });
  const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`); };
  log(`Building kopia and restic (cached after the first time)`);
  const kopia = join(await ensureComponent("kopia", log), "kopia");
  const restic = join(await ensureComponent("restic", log), "restic");
  const lifeboat = join(repoRoot, "dist", "operator", "src", "cli", "main.js");

  const srcDir = join(work, "src");
  await mkdir(srcDir, { recursive: true });
  const image = join(srcDir, "disk.img");
  log(`Generating a ${formatBytes(size)} disk image in ${image}`);
  await generateImage(image, size);
  const keyFile = join(work, "vault.key");
  await writeFile(keyFile, PASSWORD);

  const rows: Row[] = [];
  const hashes: Record<string, string> = {};
  const ours = { repo: join(work, "lifeboat-repo"), env: { LIFEBOAT_VAULT_KEY_FILE: keyFile } };
  const k = { config: join(work, "kopia.config"), repo: join(work, "kopia-repo"), env: { KOPIA_PASSWORD: PASSWORD, KOPIA_CHECK_FOR_UPDATES: "false" } };
  const kArgs = ["--config-file", k.config];
  const r = { repo: join(work, "restic-repo"), env: { RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: join(work, "restic-repo"), RESTIC_CACHE_DIR: join(work, "restic-cache") } };

  const node = process.execPath;
  const run = async (tool: string, phase: string, repo: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> => {
    // Flush the previous run's dirty pages so that their writeback is not billed to this run.
    await measure("sync", []);
    log(`${tool}: ${phase}`);
    const m = await measure(cmd, args, env);
    rows.push({ tool, phase, m, stored: await dirBytes(repo) });
    log(`${tool}: ${phase} took ${m.wallSeconds.toFixed(1)} s`);
  };

  await measure(node, [lifeboat, "vault", "init", "--repo", ours.repo], ours.env);
  await measure(kopia, ["repository", "create", "filesystem", "--path", k.repo, "--cache-directory", join(work, "kopia-cache"), "--no-persist-credentials", ...kArgs], k.env);
  await measure(restic, ["init"], r.env);

  // Full backups.
  await run("lifeboat", "full backup", ours.repo, node, [lifeboat, "vault", "backup", "--repo", ours.repo, "--disk", `2000=${image}`], ours.env);
  await run("kopia", "full backup", k.repo, kopia, ["snapshot", "create", srcDir, ...kArgs], k.env);
  await run("restic", "full backup", r.repo, restic, ["backup", srcDir], r.env);

  // Incremental after changing 5% of the blocks.
  const extents = await changeBlocks(image, size);
  const extentsFile = join(work, "changed.json");
  await writeFile(extentsFile, JSON.stringify(extents));
  hashes.source = await fileHash(image);
  await run("lifeboat", "incremental (5%)", ours.repo, node, [lifeboat, "vault", "backup", "--repo", ours.repo, "--disk", `2000=${image}`, "--parent", "latest", "--changed", `2000=${extentsFile}`], ours.env);
  await run("kopia", "incremental (5%)", k.repo, kopia, ["snapshot", "create", srcDir, ...kArgs], k.env);
  await run("restic", "incremental (5%)", r.repo, restic, ["backup", srcDir], r.env);

  // Restores of the latest point.
  const outDir = join(work, "restored");
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await run("lifeboat", "restore", ours.repo, node, [lifeboat, "vault", "restore", "--repo", ours.repo, "latest", "--target", join(outDir, "lifeboat.img")], ours.env);
  hashes.lifeboat = await fileHash(join(outDir, "lifeboat.img"));
  await rm(join(outDir, "lifeboat.img"));
  const { stdout: list } = await capture(kopia, ["snapshot", "list", srcDir, "--json", ...kArgs], k.env);
  const snapshots = JSON.parse(list) as { id: string }[];
  const latest = snapshots.at(-1)?.id ?? "";
  await run("kopia", "restore", k.repo, kopia, ["snapshot", "restore", latest, join(outDir, "kopia"), ...kArgs], k.env);
  hashes.kopia = await fileHash(join(outDir, "kopia", "disk.img"));
  await rm(join(outDir, "kopia"), { recursive: true });
  await run("restic", "restore", r.repo, restic, ["restore", "latest", "--target", join(outDir, "restic")], r.env);
  const resticFile = (await readdir(join(outDir, "restic"), { recursive: true })).find((f) => f.endsWith("disk.img")) ?? "";
  hashes.restic = await fileHash(join(outDir, "restic", resticFile));
  await rm(join(outDir, "restic"), { recursive: true });

  for (const tool of ["lifeboat", "kopia", "restic"]) {
    if (hashes[tool] !== hashes.source) throw new Error(`${tool} restored a different image (blake3 ${String(hashes[tool])} vs ${hashes.source})`);
  }
  printTable(rows, size);
  if (!values.keep && !values.dir) await rm(work, { recursive: true, force: true });
}

function capture(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => { if (code === 0) resolve({ stdout }); else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`)); });
  });
}

function printTable(rows: Row[], size: number): void {
  const mbps = (row: Row): number => size / 1e6 / row.m.wallSeconds;
  const header = ["phase", "tool", "time s", "MB/s", "CPU s", "peak RSS", "stored", "ours vs kopia", "ours vs restic"];
  const lines: string[][] = [];
  for (const phase of [...new Set(rows.map((r) => r.phase))]) {
    const of = (tool: string): Row | undefined => rows.find((r) => r.phase === phase && r.tool === tool);
    const ours = of("lifeboat");
    for (const tool of ["lifeboat", "kopia", "restic"]) {
      const row = of(tool);
      if (!row) continue;
      const ratio = (peer: Row | undefined): string => (tool === "lifeboat" && peer && ours ? `${(mbps(ours) / mbps(peer)).toFixed(2)}x` : "");
      lines.push([phase, tool, row.m.wallSeconds.toFixed(2), mbps(row).toFixed(0), row.m.cpuSeconds.toFixed(1), formatBytes(row.m.peakRssBytes), formatBytes(row.stored), ratio(of("kopia")), ratio(of("restic"))]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  process.stdout.write(`\nImage ${formatBytes(size)}; MB/s = image size / wall time (incremental: the whole image's size, as the point is a full).\n`);
  process.stdout.write(`${fmt(header)}\n${fmt(widths.map((w) => "-".repeat(w)))}\n${lines.map(fmt).join("\n")}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:vault failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
