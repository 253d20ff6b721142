/**
 * Key slots. The repository's master keys (a data key for AES-256-GCM and an
 * id key for keyed BLAKE3) are random; each `keys/<id>` object holds them
 * wrapped by a key derived from the user's key (a Kubernetes Secret or a key
 * file). Rotating the user's key therefore rewrites one small object, never
 * the data.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt } from "node:crypto";
import { KeyedLock } from "../util/keyed-lock.js";
import { VaultError } from "./errors.js";

/** The unwrapped master keys. */
export interface MasterKeys {
  /** AES-256-GCM key for blocks, pack headers, index and manifests. */
  readonly dataKey: Buffer;
  /** Key of the keyed BLAKE3 block ids, so ids reveal nothing about content to the storage owner. */
  readonly idKey: Buffer;
}

/** A stored key slot (the JSON of `keys/<id>`). */
export interface KeySlot {
  readonly version: 1;
  readonly kdf: "scrypt";
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly nonce: string;
  readonly wrapped: string;
  readonly createdAt: string;
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 };

/** New random master keys for `init`. */
export function newMasterKeys(): MasterKeys {
  return { dataKey: randomBytes(32), idKey: randomBytes(32) };
}

/**
 * Derivations run one at a time in this process. Each holds 128 * N * r
 * bytes (32 MiB at init's parameters) on a libuv thread for about 150 ms,
 * and an operator opens every BackupVault at once after a restart: with two
 * vaults, heaptrack showed the two derivations as 64 of the 90 MiB malloc'd
 * at the restart's peak (docs/benchmarks.md). One at a time bounds that to
 * one derivation, at the cost of waiting up to 150 ms per vault ahead in line.
 */
const derivations = new KeyedLock();
const derivationCounts = { running: 0, completed: 0 };

/** scrypt derivations running now in this process (0 or 1), and completed since it started: what tests hold the key cache to. */
export function scryptDerivations(): { running: number; completed: number } {
  return { ...derivationCounts };
}

function deriveWrappingKey(userKey: Buffer, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return derivations.run("scrypt", () => {
    derivationCounts.running++;
    return new Promise<Buffer>((resolve, reject) => {
      // scrypt needs 128 * r * (N + p + 2) bytes; twice N leaves OpenSSL room.
      scrypt(userKey, salt, 32, { ...params, maxmem: 128 * params.r * (2 * params.N + params.p + 2) }, (err, key) => {
        derivationCounts.running--;
        derivationCounts.completed++;
        if (err) reject(new Error("Could not derive the wrapping key with scrypt", { cause: err }));
        else resolve(key);
      });
    });
  });
}

function slotAad(repositoryId: string): Buffer {
  return Buffer.from(`lifeboat-vault-key-slot:${repositoryId}`);
}

/** Wraps the master keys under the user's key, bound to the repository id. */
export async function wrapKeys(keys: MasterKeys, userKey: Buffer, repositoryId: string): Promise<KeySlot> {
  checkUserKey(userKey);
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const wrappingKey = await deriveWrappingKey(userKey, salt, SCRYPT);
  const cipher = createCipheriv("aes-256-gcm", wrappingKey, nonce);
  cipher.setAAD(slotAad(repositoryId));
  const wrapped = Buffer.concat([cipher.update(Buffer.concat([keys.dataKey, keys.idKey])), cipher.final(), cipher.getAuthTag()]);
  return {
    version: 1,
    kdf: "scrypt",
    ...SCRYPT,
    salt: salt.toString("base64"),
    nonce: nonce.toString("base64"),
    wrapped: wrapped.toString("base64"),
    createdAt: new Date().toISOString(),
  };
}

/**
 * Master keys this process has unwrapped, by everything the result depends
 * on (the user's key, the slot, the repository), most recently used last.
 * scrypt is slow on purpose (about 150 ms and 32 MiB per derivation on this
 * project's 2-core machines), to slow down whoever guesses keys; the
 * operator opens a vault in every RecoveryPoint reconcile, so deriving the
 * same key from the same inputs again each time cost 150 ms of CPU per point:
 * 25 minutes of CPU to reconcile 10,000 points after a restart, and RSS
 * peaks of 32 MiB per derivation in flight. Only keys that opened their slot
 * are kept, so a wrong key still pays the full derivation every time; a
 * rotated key is a new slot, so it is derived once.
 */
const unwrapped = new Map<string, Promise<MasterKeys | undefined>>();
/** Distinct (key, slot, repository) triples remembered; a process opens a handful of vaults. */
const UNWRAPPED_LIMIT = 64;

function unwrappedId(slot: KeySlot, userKey: Buffer, repositoryId: string): string {
  return createHash("sha256")
    .update(userKey)
    .update("\0")
    .update(JSON.stringify([repositoryId, slot.kdf, slot.N, slot.r, slot.p, slot.salt, slot.nonce, slot.wrapped]))
    .digest("hex");
}

/**
 * Unwraps a slot; returns undefined when the user's key does not open it.
 * A slot this process has already opened with the same key is answered from
 * memory (the same MasterKeys object) without deriving the key again, and
 * callers asking at once share one derivation (two RecoveryPoint workers
 * opening the same vault after a restart would otherwise hold 32 MiB each).
 */
export async function unwrapKeys(slot: KeySlot, userKey: Buffer, repositoryId: string): Promise<MasterKeys | undefined> {
  const id = unwrappedId(slot, userKey, repositoryId);
  let pending = unwrapped.get(id);
  if (pending) {
    unwrapped.delete(id);
  } else {
    pending = deriveAndUnwrap(slot, userKey, repositoryId);
    // A key that does not open the slot (or a failure) is not remembered: the next try derives again.
    void pending.then((keys) => { if (!keys) unwrapped.delete(id); }, () => unwrapped.delete(id));
  }
  unwrapped.set(id, pending);
  for (const oldest of unwrapped.keys()) {
    if (unwrapped.size <= UNWRAPPED_LIMIT) break;
    unwrapped.delete(oldest);
  }
  return pending;
}

async function deriveAndUnwrap(slot: KeySlot, userKey: Buffer, repositoryId: string): Promise<MasterKeys | undefined> {
  // Only the three numbers: scrypt also reads options such as cost or maxmem, which a slot must not set.
  const wrappingKey = await deriveWrappingKey(userKey, Buffer.from(slot.salt, "base64"), { N: slot.N, r: slot.r, p: slot.p });
  const wrapped = Buffer.from(slot.wrapped, "base64");
  const decipher = createDecipheriv("aes-256-gcm", wrappingKey, Buffer.from(slot.nonce, "base64"));
  decipher.setAAD(slotAad(repositoryId));
  decipher.setAuthTag(wrapped.subarray(64));
  try {
    const plain = Buffer.concat([decipher.update(wrapped.subarray(0, 64)), decipher.final()]);
    return { dataKey: plain.subarray(0, 32), idKey: plain.subarray(32, 64) };
  } catch {
    return undefined;
  }
}

/**
 * The most a slot may make scrypt spend: 128 * N * r bytes of memory (4 x
 * what init writes), and N * r * p rounds of it. A slot's own numbers decide
 * the cost of trying it, so an altered slot must not be able to ask the
 * operator (512 MiB) for gigabytes or minutes.
 */
const MAX_SCRYPT_NR = 4 * SCRYPT.N * SCRYPT.r;
const MAX_SCRYPT_NRP = 2 * MAX_SCRYPT_NR;

/** `value` is canonical base64 of `length` bytes (or at least `min` bytes). */
function isBase64(value: unknown, length: { exactly?: number; min?: number }): boolean {
  if (typeof value !== "string") return false;
  const bytes = Buffer.from(value, "base64");
  return bytes.toString("base64") === value && (length.exactly === undefined || bytes.length === length.exactly) && bytes.length >= (length.min ?? 0);
}

/** What is wrong with a parsed slot's fields, or undefined when they can be used. */
function slotProblem(slot: Partial<Record<keyof KeySlot, unknown>>): string | undefined {
  const { N, r, p } = slot;
  if (typeof N !== "number" || typeof r !== "number" || typeof p !== "number" || ![N, r, p].every(Number.isSafeInteger)) return "has scrypt parameters that are not integers";
  if (N < 2 || !Number.isInteger(Math.log2(N)) || r < 1 || p < 1 || N * r > MAX_SCRYPT_NR || N * r * p > MAX_SCRYPT_NRP) {
    return `has scrypt parameters N=${N}, r=${r}, p=${p} outside what a key slot may use (N a power of two, N*r up to ${MAX_SCRYPT_NR}, N*r*p up to ${MAX_SCRYPT_NRP})`;
  }
  if (!isBase64(slot.salt, { min: 16 })) return "has a salt that is not base64 of at least 16 bytes";
  if (!isBase64(slot.nonce, { exactly: 12 })) return "has a nonce that is not base64 of 12 bytes";
  if (!isBase64(slot.wrapped, { exactly: 64 + 16 })) return "has a wrapped key that is not base64 of 80 bytes";
  return undefined;
}

/** Parses a stored key slot; throws Corrupt (or UnsupportedFormat) naming the slot. */
export function parseKeySlot(bytes: Buffer, name: string): KeySlot {
  let slot: unknown;
  try {
    slot = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new VaultError("Corrupt", `Key slot ${name} is not readable`, { cause: err });
  }
  if (typeof slot !== "object" || slot === null || Array.isArray(slot)) throw new VaultError("Corrupt", `Key slot ${name} is not a JSON object`);
  const fields = slot as Partial<Record<keyof KeySlot, unknown>>;
  if (fields.version !== 1 || fields.kdf !== "scrypt") {
    throw new VaultError("UnsupportedFormat", `Key slot ${name} has version ${JSON.stringify(fields.version)} and kdf ${JSON.stringify(fields.kdf)}; this program reads version 1 with scrypt`);
  }
  const problem = slotProblem(fields);
  if (problem) throw new VaultError("Corrupt", `Key slot ${name} ${problem}`);
  return slot as KeySlot;
}

/** A user key must have some entropy; 16 bytes is the floor, 32 random bytes is the advice. */
export function checkUserKey(userKey: Buffer): void {
  if (userKey.length < 16) {
    throw new VaultError("InvalidArgument", `The vault key is ${userKey.length} bytes; use at least 16 (32 random bytes recommended, e.g. head -c 32 /dev/urandom)`);
  }
}
