/**
 * `lifeboat vault ...`: init, backup, restore, ls, forget, prune, check,
 * repair-index, stats on a vault given by --repo (a directory or s3://bucket/prefix). The
 * key comes from --key-file, LIFEBOAT_VAULT_KEY_FILE or LIFEBOAT_VAULT_KEY;
 * S3 credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Results go
 * to stdout (JSON with --json), progress and errors to stderr. Exit codes:
 * 0 success, 1 failure (or problems found by check), 2 usage error.
 */
import { readFile } from "node:fs/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import {
  backup, check, forget, initVault, openDiskSource, openDiskTarget, openVault, parseDuration, parseSize, prune,
  reasonOf, repairIndex, restoreDisk, stats, VaultError, type DiskBackup, type DiskSource, type Extent, type RetentionPolicy,
  type Vault, type VaultBackendSpec, type VaultSpec,
} from "../vault/index.js";
import { formatBytes, formatRatio } from "../util/quantity.js";
import { ProgressReporter } from "./progress.js";

const COMMON = {
  repo: { type: "string" },
  "key-file": { type: "string" },
  "s3-endpoint": { type: "string" },
  "s3-region": { type: "string" },
  "s3-path-style": { type: "boolean" },
  "s3-virtual-host": { type: "boolean" },
  "s3-ca-file": { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

const HELP = `Usage: lifeboat vault <command> [options]

Commands:
  init      create a vault        [--block-size 1Mi] [--pack-size 32Mi] [--compression 1]
                                  [--lock-mode Governance|Compliance --lock-days N]
  backup    back up disk images   --disk KEY=PATH... [--changed KEY=EXTENTS.json] [--change-id KEY=ID]
                                  [--parent ID|latest] [--label k=v]... [--consistency crash|app]
                                  [--retain-until ISO-TIME]
  restore   restore a point       POINT --disk KEY=PATH... (or --target PATH for a one-disk point)
  ls        list points           [--label k=v]...
  forget    delete points         ID... | --keep-last N --keep-daily N --keep-weekly N --keep-monthly N
                                  --keep-yearly N --max-age 90d [--group-by plan,vm] [--dry-run]
  prune     free unused data      [--margin 1h] [--dry-run]
  check     verify the vault      [--read-data]
  repair-index  rebuild the index from the packs' own headers (after index objects were lost)
  stats     show sizes and dedup

Common options:
  --repo DIR | s3://BUCKET[/PREFIX]   (env LIFEBOAT_VAULT_REPO)
  --key-file PATH                     (env LIFEBOAT_VAULT_KEY_FILE, or the key itself in LIFEBOAT_VAULT_KEY)
  --s3-endpoint URL --s3-region R --s3-ca-file PEM
  --s3-path-style (default with an endpoint) | --s3-virtual-host
                                      (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
  --threads N   worker threads (default: one per core)
  --json        machine-readable output on stdout

EXTENTS.json is a JSON array of {"offset": bytes, "length": bytes}: the changed
areas that VMware CBT reports since the parent's changeId (or the allocated areas).
`;

class UsageError extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

function int(values: Values, name: string): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} wants a whole number, not "${v}"`);
  return Number(v);
}

/** Splits "key=value" pairs. */
function pairs(items: string[], option: string): [string, string][] {
  return items.map((item) => {
    const at = item.indexOf("=");
    if (at <= 0) throw new UsageError(`--${option} wants KEY=VALUE, not "${item}"`);
    return [item.slice(0, at), item.slice(at + 1)];
  });
}

async function readKey(values: Values): Promise<Buffer> {
  const file = str(values, "key-file") ?? process.env.LIFEBOAT_VAULT_KEY_FILE;
  if (file) {
    try {
      return await readFile(file);
    } catch (err) {
      throw new VaultError("InvalidArgument", `Could not read the key file ${file}`, { cause: err });
    }
  }
  const env = process.env.LIFEBOAT_VAULT_KEY;
  if (env) return Buffer.from(env, "utf8");
  throw new UsageError("No vault key: pass --key-file PATH or set LIFEBOAT_VAULT_KEY_FILE or LIFEBOAT_VAULT_KEY");
}

/** Builds the backend spec from --repo and the S3 options. */
async function backendSpec(values: Values): Promise<VaultBackendSpec> {
  const repo = str(values, "repo") ?? process.env.LIFEBOAT_VAULT_REPO;
  if (!repo) throw new UsageError("No vault given: pass --repo DIR or --repo s3://BUCKET/PREFIX (or set LIFEBOAT_VAULT_REPO)");
  if (!repo.startsWith("s3://")) return { filesystem: { path: repo } };
  const [bucket = "", ...rest] = repo.slice(5).split("/");
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new UsageError("S3 vaults need AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment");
  const ca = str(values, "s3-ca-file");
  return {
    s3: {
      bucket,
      prefix: rest.join("/"),
      endpoint: str(values, "s3-endpoint") ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL,
      region: str(values, "s3-region") ?? process.env.AWS_REGION ?? "us-east-1",
      forcePathStyle: values["s3-virtual-host"] ? false : values["s3-path-style"] ? true : undefined,
      accessKeyId,
      secretAccessKey,
      caBundle: ca ? await readFile(ca) : undefined,
    },
  };
}

async function spec(values: Values): Promise<VaultSpec> {
  const threads = int(values, "threads");
  return { backend: await backendSpec(values), key: await readKey(values), threads };
}

function out(values: Values, json: unknown, human: string): void {
  process.stdout.write(values.json ? `${JSON.stringify(json)}\n` : `${human}\n`);
}

/** Runs `fn` on the vault the options name, then closes it; `bootThreads` for a command that moves blocks (VaultOptions.bootThreads). */
async function withVault<T>(values: Values, fn: (vault: Vault) => Promise<T>, options: { bootThreads?: boolean } = {}): Promise<T> {
  const vault = await openVault({ ...(await spec(values)), ...options });
  try {
    return await fn(vault);
  } finally {
    await vault.close();
  }
}

async function cmdInit(values: Values): Promise<number> {
  const lockMode = str(values, "lock-mode");
  const lockDays = int(values, "lock-days");
  if ((lockMode === undefined) !== (lockDays === undefined)) throw new UsageError("A lock needs both --lock-mode and --lock-days");
  if (lockMode !== undefined && lockMode !== "Governance" && lockMode !== "Compliance") throw new UsageError("--lock-mode is Governance or Compliance");
  const blockSize = str(values, "block-size");
  const packSize = str(values, "pack-size");
  const vault = await initVault(await spec(values), {
    blockSize: blockSize ? parseSize(blockSize) : undefined,
    packSize: packSize ? parseSize(packSize) : undefined,
    compressionLevel: int(values, "compression"),
    lock: lockMode ? { enabled: true, mode: lockMode, retentionDays: lockDays ?? 0 } : undefined,
  });
  try {
    out(values, vault.config, `Created vault ${vault.config.repositoryId} at ${vault.backend.location} (block size ${formatBytes(vault.config.blockSize)}, lock ${vault.config.lock.enabled ? `${vault.config.lock.mode} ${vault.config.lock.retentionDays} days` : "off"})`);
  } finally {
    await vault.close();
  }
  return 0;
}

async function readExtents(path: string): Promise<Extent[]> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new VaultError("InvalidArgument", `Could not read changed extents from ${path}; it must be a JSON array of {"offset","length"}`, { cause: err });
  }
  if (!Array.isArray(value) || !value.every((e: unknown) => typeof (e as Extent).offset === "number" && typeof (e as Extent).length === "number")) {
    throw new VaultError("InvalidArgument", `${path} must be a JSON array of {"offset": number, "length": number}`);
  }
  return value as Extent[];
}

async function cmdBackup(values: Values): Promise<number> {
  const disks = pairs(list(values, "disk"), "disk");
  if (disks.length === 0) throw new UsageError("backup needs at least one --disk KEY=PATH");
  const changed = new Map(pairs(list(values, "changed"), "changed"));
  const changeIds = new Map(pairs(list(values, "change-id"), "change-id"));
  const labels = Object.fromEntries(pairs(list(values, "label"), "label"));
  const consistency = str(values, "consistency") ?? "crash";
  if (consistency !== "crash" && consistency !== "app") throw new UsageError("--consistency is crash or app");
  const retainUntil = str(values, "retain-until");
  if (retainUntil !== undefined && Number.isNaN(Date.parse(retainUntil))) throw new UsageError(`--retain-until wants an ISO 8601 time, not "${retainUntil}"`);
  const reporter = new ProgressReporter();
  return withVault(values, async (vault) => {
    let parent = str(values, "parent");
    if (parent) parent = await vault.resolvePoint(parent, parent === "latest" ? labels : {});
    const sources: DiskSource[] = [];
    try {
      const items: DiskBackup[] = [];
      for (const [key, path] of disks) {
        const source = await openDiskSource(path);
        sources.push(source);
        const extentsFile = changed.get(key);
        items.push({ key, source, changedExtents: extentsFile ? await readExtents(extentsFile) : undefined, changeId: changeIds.get(key) });
      }
      const point = await backup(vault, items, {
        parent,
        labels,
        consistency,
        retainUntil: retainUntil ? new Date(retainUntil) : undefined,
        progressIntervalMs: reporter.intervalMs,
        onProgress: (p) => {
          reporter.update({
            op: "backup", disk: p.disk, bytesDone: p.bytesRead, bytesTotal: p.bytesToRead, throughput: p.throughput, etaSeconds: p.etaSeconds, done: p.done,
            detail: { new: p.bytesNew, reused: p.bytesReused, zero: p.bytesZero, parent: p.bytesFromParent, stored: p.bytesStored },
          });
        },
      });
      reporter.finish();
      out(values, point, `Created recovery point ${point.id}${point.parent ? ` (parent ${point.parent})` : ""}: ${point.disks.map((d) => `disk ${d.key} ${formatBytes(d.size)}, read ${formatBytes(d.readBytes)}, new ${formatBytes(d.newBytes)}`).join("; ")}; stored ${formatBytes(point.storedBytes)}`);
      return 0;
    } finally {
      reporter.finish();
      await Promise.all(sources.map((s) => s.close()));
    }
  }, { bootThreads: true });
}

async function cmdRestore(values: Values, positionals: string[]): Promise<number> {
  const ref = positionals[0];
  if (!ref) throw new UsageError("restore needs the recovery point id (or latest)");
  const reporter = new ProgressReporter();
  return withVault(values, async (vault) => {
    const id = await vault.resolvePoint(ref);
    const point = await vault.getPoint(id);
    let targets = pairs(list(values, "disk"), "disk");
    const single = str(values, "target");
    if (single) {
      if (point.disks.length !== 1 || !point.disks[0]) throw new UsageError(`Point ${id} has ${point.disks.length} disks; name each with --disk KEY=PATH`);
      targets = [[point.disks[0].key, single]];
    }
    if (targets.length === 0) throw new UsageError("restore needs --disk KEY=PATH (or --target PATH for a one-disk point)");
    const { index } = await vault.loadIndex();
    for (const [key, path] of targets) {
      const disk = point.disks.find((d) => d.key === key);
      if (!disk) throw new VaultError("NotFound", `Point ${id} has no disk ${key}; it has ${point.disks.map((d) => d.key).join(", ")}`);
      const target = await openDiskTarget(path, disk.size);
      try {
        await restoreDisk(vault, id, key, target, {
          index,
          progressIntervalMs: reporter.intervalMs,
          onProgress: (p) => {
            reporter.update({ op: "restore", disk: key, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, throughput: p.throughput, etaSeconds: p.etaSeconds, done: p.done, detail: { fetched: p.bytesFetched } });
          },
        });
      } finally {
        await target.close();
      }
      reporter.finish();
      out(values, { point: id, disk: key, path, bytes: disk.size }, `Restored disk ${key} of point ${id} to ${path} (${formatBytes(disk.size)})`);
    }
    return 0;
  }, { bootThreads: true });
}

async function cmdLs(values: Values): Promise<number> {
  const labels = Object.fromEntries(pairs(list(values, "label"), "label"));
  return withVault(values, async (vault) => {
    const points = (await vault.listPoints()).filter((p) => Object.entries(labels).every(([k, v]) => p.labels[k] === v));
    if (values.json) {
      out(values, points, "");
      return 0;
    }
    for (const p of points) {
      const disks = p.disks.map((d) => `${d.key}:${formatBytes(d.size)}`).join(",");
      const lbl = Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(",");
      process.stdout.write(`${p.id}  ${p.time}  ${p.consistency.padEnd(5)}  ${disks}  ${lbl}${p.retainUntil ? `  locked until ${p.retainUntil}` : ""}${p.parent ? `  parent ${p.parent}` : ""}\n`);
    }
    return 0;
  });
}

async function cmdForget(values: Values, positionals: string[]): Promise<number> {
  const maxAge = str(values, "max-age");
  const policy: RetentionPolicy = {
    keepLast: int(values, "keep-last"),
    keepDaily: int(values, "keep-daily"),
    keepWeekly: int(values, "keep-weekly"),
    keepMonthly: int(values, "keep-monthly"),
    keepYearly: int(values, "keep-yearly"),
    maxAgeMs: maxAge ? parseDuration(maxAge) : undefined,
    groupBy: str(values, "group-by")?.split(",").filter(Boolean),
  };
  const hasPolicy = Object.entries(policy).some(([k, v]) => k !== "groupBy" && v !== undefined);
  if (hasPolicy === positionals.length > 0) throw new UsageError("forget takes either point ids or a policy (--keep-last, --keep-daily, ..., --max-age), not both and not neither");
  return withVault(values, async (vault) => {
    const ids = await Promise.all(positionals.map((p) => vault.resolvePoint(p)));
    const result = await forget(vault, hasPolicy ? { policy } : { ids }, { dryRun: !!values["dry-run"] });
    if (values.json) {
      out(values, { forgotten: result.forgotten, decisions: result.decisions.map((d) => ({ id: d.point.id, keep: d.keep, reasons: d.reasons })) }, "");
    } else {
      for (const d of result.decisions) process.stdout.write(`${d.keep ? "keep  " : values["dry-run"] ? "would forget" : "forget"}  ${d.point.id}  ${d.reasons.join(", ")}\n`);
    }
    return 0;
  });
}

async function cmdPrune(values: Values): Promise<number> {
  const margin = str(values, "margin");
  return withVault(values, async (vault) => {
    const result = await prune(vault, {
      marginMs: margin ? parseDuration(margin) : undefined,
      dryRun: !!values["dry-run"],
      log: values.json ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    out(values, result, `${result.dryRun ? "Would delete" : "Deleted"} ${result.packsDeleted} packs (${result.packsRepacked} repacked into ${result.packsWritten}), freeing ${formatBytes(result.bytesFreed)}; kept ${result.packsKeptLocked} locked and ${result.packsKeptYoung} recent packs`);
    return 0;
  });
}

async function cmdCheck(values: Values): Promise<number> {
  return withVault(values, async (vault) => {
    const result = await check(vault, { readData: !!values["read-data"], onProgress: values.json ? undefined : (line) => process.stderr.write(`${line}\n`) });
    if (values.json) out(values, result, "");
    else {
      for (const w of result.warnings) process.stdout.write(`warning: ${w}\n`);
      for (const e of result.errors) process.stdout.write(`error: ${e}\n`);
      process.stdout.write(`${result.ok ? "No errors" : `${result.errors.length} errors`} in ${result.points} points, ${result.packs} packs, ${result.blocks} blocks${values["read-data"] ? `; verified ${formatBytes(result.bytesVerified)}` : ""}\n`);
    }
    return result.ok ? 0 : 1;
  });
}

async function cmdRepairIndex(values: Values): Promise<number> {
  return withVault(values, async (vault) => {
    const result = await repairIndex(vault, { log: values.json ? undefined : (line) => process.stderr.write(`${line}\n`) });
    out(values, result, `Rebuilt the index: ${result.packs} packs, ${result.blocks} blocks; replaced ${result.replacedIndexObjects} index objects${result.unreadablePacks.length ? `; ${result.unreadablePacks.length} packs did not open and were left out (run check)` : ""}`);
    return result.unreadablePacks.length ? 1 : 0;
  });
}

async function cmdStats(values: Values): Promise<number> {
  return withVault(values, async (vault) => {
    // The point headers stay out of the figures printed: `lifeboat vault ls` lists the points.
    const { points: _points, ...s } = await stats(vault);
    out(values, s, `Vault ${s.repositoryId}: ${s.pointCount} points, ${s.packCount} packs; stored ${formatBytes(s.storedBytes)}, logical ${formatBytes(s.logicalBytes)} (allocated ${formatBytes(s.allocatedBytes)}), dedup ratio ${formatRatio(s.dedupRatio)} (zeros excluded), compression ratio ${formatRatio(s.compressionRatio)}`);
    return 0;
  });
}

const COMMANDS: Record<string, { options: ParseArgsConfig["options"]; run: (values: Values, positionals: string[]) => Promise<number> }> = {
  init: { options: { "block-size": { type: "string" }, "pack-size": { type: "string" }, compression: { type: "string" }, "lock-mode": { type: "string" }, "lock-days": { type: "string" } }, run: cmdInit },
  backup: {
    options: { disk: { type: "string", multiple: true }, changed: { type: "string", multiple: true }, "change-id": { type: "string", multiple: true }, parent: { type: "string" }, label: { type: "string", multiple: true }, tag: { type: "string", multiple: true }, consistency: { type: "string" }, "retain-until": { type: "string" } },
    run: (v) => cmdBackup({ ...v, label: [...list(v, "label"), ...list(v, "tag")] }),
  },
  restore: { options: { disk: { type: "string", multiple: true }, target: { type: "string" } }, run: cmdRestore },
  ls: { options: { label: { type: "string", multiple: true } }, run: cmdLs },
  forget: {
    options: { "keep-last": { type: "string" }, "keep-daily": { type: "string" }, "keep-weekly": { type: "string" }, "keep-monthly": { type: "string" }, "keep-yearly": { type: "string" }, "max-age": { type: "string" }, "group-by": { type: "string" }, "dry-run": { type: "boolean" } },
    run: cmdForget,
  },
  prune: { options: { margin: { type: "string" }, "dry-run": { type: "boolean" } }, run: cmdPrune },
  check: { options: { "read-data": { type: "boolean" } }, run: cmdCheck },
  "repair-index": { options: {}, run: cmdRepairIndex },
  stats: { options: {}, run: cmdStats },
};

/** Runs `lifeboat vault <command> ...`; returns the exit code. */
export async function runVaultCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`lifeboat vault: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: { ...COMMON, ...command.options }, allowPositionals: true, strict: true }));
  } catch (err) {
    process.stderr.write(`lifeboat vault ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    return await command.run(values, positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`lifeboat vault ${name}: ${err.message}\n`);
      return 2;
    }
    const reason = reasonOf(err) ?? "Failed";
    const chain: string[] = [];
    for (let e: unknown = err; e instanceof Error && chain.length < 6; e = e.cause) chain.push(e.message);
    process.stderr.write(`lifeboat vault ${name}: ${chain.join(": ")} [${reason}]\n`);
    if (values.json) process.stdout.write(`${JSON.stringify({ error: { reason, message: chain.join(": ") } })}\n`);
    return 1;
  }
}
