/**
 * The repository format: object names, the config object and the settings
 * fixed at `init`. Documented for humans in docs/vault-format.md; bump
 * FORMAT_VERSION on any incompatible change there and here together.
 */
import { randomBytes } from "node:crypto";
import { formatBytes } from "../util/quantity.js";
import { describeError, VaultError } from "./errors.js";

/** Version of the on-storage format this code reads and writes. */
export const FORMAT_VERSION = 1;

export const MiB = 1024 * 1024;

/** Block sizes a vault may use (the BackupVault CRD's blockSize enum). */
export const BLOCK_SIZES = [256 * 1024, 512 * 1024, MiB, 2 * MiB, 4 * MiB, 8 * MiB] as const;
export const DEFAULT_BLOCK_SIZE = MiB;
/** Packs are closed once they reach the target size; 16-64 MiB keeps object counts and request costs low. */
export const MIN_PACK_SIZE = 16 * MiB;
export const MAX_PACK_SIZE = 64 * MiB;
export const DEFAULT_PACK_SIZE = 32 * MiB;

/** Object Lock modes, named as S3 and the BackupVault CRD name them. */
export type LockMode = "Governance" | "Compliance";

/** The vault's lock ("backup lock" of seed 000). */
export interface LockSettings {
  readonly enabled: boolean;
  readonly mode: LockMode;
  /** Days each recovery point stays locked after it is written. */
  readonly retentionDays: number;
}

export const NO_LOCK: LockSettings = { enabled: false, mode: "Governance", retentionDays: 0 };

/** The plaintext `config` object: what a reader needs before it can decrypt anything. */
export interface VaultConfig {
  readonly formatVersion: number;
  /** Random id, reported as status.repositoryID and bound into every key slot. */
  readonly repositoryId: string;
  readonly createdAt: string;
  readonly blockSize: number;
  readonly packSize: number;
  readonly compressionLevel: number;
  readonly blockHash: "blake3-keyed-256";
  readonly compression: "zstd";
  readonly encryption: "aes-256-gcm";
  readonly lock: LockSettings;
}

/** Settings chosen at `init`. */
export interface InitOptions {
  blockSize?: number;
  packSize?: number;
  compressionLevel?: number;
  lock?: LockSettings;
}

/** The settings fixed at init, as init and every opening of the vault check them. */
type Settings = Pick<VaultConfig, "blockSize" | "packSize" | "compressionLevel" | "lock">;

/** Throws InvalidArgument naming the first setting out of range. */
function checkSettings({ blockSize, packSize, compressionLevel, lock }: Settings): void {
  if (!(BLOCK_SIZES as readonly number[]).includes(blockSize)) {
    throw new VaultError("InvalidArgument", `Block size ${blockSize} is not supported; use one of ${BLOCK_SIZES.map(formatBytes).join(", ")}`);
  }
  if (!Number.isInteger(packSize) || packSize < MIN_PACK_SIZE || packSize > MAX_PACK_SIZE) {
    throw new VaultError("InvalidArgument", `Pack size ${packSize} is out of range; use 16Mi to 64Mi`);
  }
  if (!Number.isInteger(compressionLevel) || compressionLevel < 1 || compressionLevel > 3) {
    throw new VaultError("InvalidArgument", `Compression level ${compressionLevel} is out of range; use 1, 2 or 3`);
  }
  validateLock(lock);
}

/** Validates init options and fills defaults; throws InvalidArgument naming the bad setting. */
export function newConfig(options: InitOptions): VaultConfig {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const packSize = options.packSize ?? DEFAULT_PACK_SIZE;
  const compressionLevel = options.compressionLevel ?? 1;
  const lock = options.lock ?? NO_LOCK;
  checkSettings({ blockSize, packSize, compressionLevel, lock });
  return {
    formatVersion: FORMAT_VERSION,
    repositoryId: randomBytes(16).toString("hex"),
    createdAt: new Date().toISOString(),
    blockSize,
    packSize,
    compressionLevel,
    blockHash: "blake3-keyed-256",
    compression: "zstd",
    encryption: "aes-256-gcm",
    lock: lock.enabled ? { enabled: true, mode: lock.mode, retentionDays: lock.retentionDays } : NO_LOCK,
  };
}

/** Throws InvalidArgument when lock settings are inconsistent. */
export function validateLock(lock: LockSettings): void {
  if (!["Governance", "Compliance"].includes(lock.mode)) {
    throw new VaultError("InvalidArgument", `Lock mode ${lock.mode} is invalid; use Governance or Compliance`);
  }
  if (lock.enabled && (!Number.isInteger(lock.retentionDays) || lock.retentionDays < 1 || lock.retentionDays > 36500)) {
    throw new VaultError("InvalidArgument", `Lock retention of ${lock.retentionDays} days is invalid; use 1 to 36500 days`);
  }
}

/** Parses and checks a stored config object. */
export function parseConfig(bytes: Buffer): VaultConfig {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new VaultError("Corrupt", "The repository's config object is not valid JSON", { cause: err });
  }
  const config = value as Partial<VaultConfig> | null;
  if (!config || typeof config !== "object" || typeof config.formatVersion !== "number") {
    throw new VaultError("Corrupt", "The repository's config object has no formatVersion");
  }
  if (config.formatVersion > FORMAT_VERSION) {
    throw new VaultError("UnsupportedFormat", `The repository's config object has format version ${config.formatVersion}; this program reads up to ${FORMAT_VERSION}. Upgrade Lifeboat.`);
  }
  const lock = config.lock as Partial<Record<keyof LockSettings, unknown>> | null | undefined;
  if (
    typeof config.repositoryId !== "string" || typeof config.blockSize !== "number" || typeof config.packSize !== "number" || typeof config.compressionLevel !== "number" ||
    typeof lock !== "object" || lock === null || typeof lock.enabled !== "boolean" || typeof lock.mode !== "string" || typeof lock.retentionDays !== "number"
  ) {
    throw new VaultError("Corrupt", "The repository's config object lacks repositoryId, blockSize, packSize, compressionLevel or lock");
  }
  // Backups size their buffers and retention from these: a damaged value must stop here, not as a RangeError later.
  try {
    checkSettings(config as VaultConfig);
  } catch (err) {
    throw new VaultError("Corrupt", `The repository's config object holds a setting init never writes: ${describeError(err)}`, { cause: err });
  }
  return config as VaultConfig;
}

/** Object names. Everything lives under these prefixes of the backend. */
export const paths = {
  config: "config",
  keysPrefix: "keys/",
  key: (id: string) => `keys/${id}`,
  packsPrefix: "data/",
  pack: (id: string) => `data/${id.slice(0, 2)}/${id}`,
  indexPrefix: "index/",
  index: (id: string) => `index/${id}`,
  manifestsPrefix: "manifests/",
  manifest: (id: string) => `manifests/${id}`,
  locksPrefix: "locks/",
  lock: (id: string) => `locks/${id}`,
};

/** The id part of an object name (after the last slash). */
export function baseName(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

/** A random 32-byte id in hex, for packs, index objects and locks. */
export function randomId(): string {
  return randomBytes(32).toString("hex");
}

/**
 * A recovery point id: UTC time first so ids sort by time, then random bits
 * so two points written in the same second by different workers never collide.
 */
export function newPointId(time: Date): string {
  const stamp = time.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(4).toString("hex")}`;
}

const SIZE_UNITS: Record<string, number> = { "": 1, k: 1000, K: 1000, Ki: 1024, M: 1e6, Mi: MiB, G: 1e9, Gi: 1024 * MiB, T: 1e12, Ti: MiB * MiB };

/** Parses "1Mi", "512Ki", "4Gi", "1048576" into bytes; throws InvalidArgument otherwise. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kKMGT]i?)?B?$/.exec(text.trim());
  const unit = SIZE_UNITS[match?.[2] ?? ""];
  if (!match || unit === undefined) throw new VaultError("InvalidArgument", `"${text}" is not a size; write e.g. 1Mi, 512Ki or 4Gi`);
  return Math.round(Number(match[1]) * unit);
}

