/**
 * The physical limits of `npm run bench:pipeline`: the same bytes the
 * pipeline moves, moved plainly on the same machine in the same run, through
 * the same endpoints, TLS and client code (Lifeboat's own vSphere client, so
 * the session cookie, the keep-alive agent and the certificate pinning are the
 * worker's), with nothing of the pipeline in between: no vault, no hashing,
 * no compression, no encryption. docs/benchmarks.md says why each is the
 * fair limit of its phase.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import type { DiskPiece } from "../../operator/src/image/formats.js";
import { createImageStream } from "../../operator/src/image/writer.js";
import { encodeGrains } from "../../operator/src/image/vmdk-grains.js";
import { isAllZero } from "../../operator/src/image/zeros.js";
import type { CreateVmSpec, DiskLocation, MoRef, VsphereClient } from "../../operator/src/vsphere/index.js";
import { extentsOfBlocks } from "./report.js";

/** How long something took, and when (epoch ms), so that the CPU time of vcsim and this process over it can be looked up. */
export interface Timed {
  readonly seconds: number;
  readonly fromMs: number;
  readonly toMs: number;
}

/** Runs `fn` and times it. */
async function timed<T>(fn: () => Promise<T>): Promise<Timed & { value: T }> {
  const fromMs = Date.now();
  const started = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - started) / 1000, fromMs, toMs: Date.now() };
}

/** Reads a stream to its end, discarding the bytes; resolves with their count. */
async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) bytes += chunk.length;
  return bytes;
}

/** The two plain ways of reading a disk's areas, timed apart. */
export interface PlainReadTimes {
  /** One ranged GET per run of adjacent blocks, one after the other: the plainest streaming read. */
  readonly perExtent: Timed;
  /** One ranged GET per block, `inFlight` at once: the worker's own request pattern without the worker. */
  readonly ranged: Timed;
  readonly bytes: number;
}

/**
 * Reads `blocks` (of `blockSize`, the last clipped at `size`) of the disk at
 * `loc` through the datastore interface (`GET /folder/...-flat.vmdk` with a
 * Range), both ways of PlainReadTimes, bytes discarded: the limit is the
 * transfer, and everything done with the bytes (the worker's zero check,
 * hashing, compression, encryption, pack writes) is the pipeline's work.
 * `rangedFirst` rotates which way goes first.
 */
export async function plainReads(client: VsphereClient, loc: DiskLocation, blocks: readonly number[], opts: { blockSize: number; size: number; inFlight: number; rangedFirst: boolean }): Promise<PlainReadTimes> {
  const { blockSize, size } = opts;
  const extents = extentsOfBlocks(blocks, blockSize, size);
  const want = extents.reduce((n, e) => n + e.length, 0);
  const read = async (offset: number, length: number): Promise<number> => {
    try {
      return await drain(await client.readDisk(loc, offset, length));
    } catch (err) {
      throw new Error(`The plain read of ${length} bytes at ${offset} failed`, { cause: err });
    }
  };
  const perExtent = (): Promise<Timed> => timed(async () => {
    let got = 0;
    for (const e of extents) {
      const n = await read(e.offset, e.length);
      got += n;
    }
    if (got !== want) throw new Error(`The plain read got ${got} of ${want} bytes`);
  });
  const ranged = (): Promise<Timed> => timed(async () => {
    let next = 0;
    let got = 0;
    const reader = async (): Promise<void> => {
      for (let i = next++; i < blocks.length; i = next++) {
        const offset = (blocks[i] ?? 0) * blockSize;
        const n = await read(offset, Math.min(blockSize, size - offset));
        got += n;
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.inFlight, blocks.length) }, reader));
    if (got !== want) throw new Error(`The plain ranged reads got ${got} of ${want} bytes`);
  });
  if (opts.rangedFirst) {
    const r = await ranged();
    return { ranged: r, perExtent: await perExtent(), bytes: want };
  }
  const e = await perExtent();
  return { perExtent: e, ranged: await ranged(), bytes: want };
}

/**
 * Imports a new VM from `spec` with its one disk's content from a prepared
 * stream-optimized VMDK file: ImportVApp, the lease, the chunked POST of the
 * file's bytes to the device URL, HttpNfcLeaseComplete, through the same
 * client call the worker's restore makes. The bytes come from the page cache,
 * ready made: what the restore does to make them (vault reads, decryption,
 * decompression, the VMDK writer's deflate) is the pipeline's work.
 */
export async function plainImport(client: VsphereClient, spec: CreateVmSpec, vmdkPath: string): Promise<Timed & { ref: MoRef; bytes: number }> {
  const { size: bytes } = await stat(vmdkPath);
  try {
    const { value: ref, ...time } = await timed(() => client.importVm(spec, [() => createReadStream(vmdkPath, { highWaterMark: 1024 * 1024 })]));
    return { ...time, ref, bytes };
  } catch (err) {
    throw new Error(`The plain import of ${vmdkPath} as VM ${spec.name} failed`, { cause: err });
  }
}

/**
 * Uploads the raw disk from `flatPath` over the disk at `loc` with the
 * datastore interface's `PUT /folder/...-flat.vmdk`, every byte, zeros
 * included: what an upload of a disk without a stream-optimized format (and
 * the worker's in-place restore) sends.
 */
export async function plainPut(client: VsphereClient, loc: DiskLocation, flatPath: string, size: number): Promise<Timed> {
  try {
    const { value: _, ...time } = await timed(() => client.uploadDisk(loc, createReadStream(flatPath, { highWaterMark: 1024 * 1024 }), size));
    return time;
  } catch (err) {
    throw new Error(`The plain upload of ${flatPath} to [${loc.datastoreName}] ${loc.path} failed`, { cause: err });
  }
}

/**
 * Copies the disk at `from` into a new sparse file at `to` as the worker's
 * restore to a raw file writes it: truncated to the disk's size, only the
 * blocks that are not all zeros written, `inFlight` positional writes at
 * once, then fsync. The source is vcsim's data file of the same content, in
 * the page cache; resolves with the seconds and the bytes written.
 */
export async function plainSparseCopy(from: string, to: string, opts: { size: number; blockSize: number; inFlight: number }): Promise<Timed & { bytes: number }> {
  const fromMs = Date.now();
  const started = performance.now();
  const src = await open(from, "r");
  try {
    const dst = await open(to, "w");
    try {
      await dst.truncate(opts.size);
      const blocks = Math.ceil(opts.size / opts.blockSize);
      let next = 0;
      let bytes = 0;
      const copier = async (): Promise<void> => {
        const buffer = Buffer.allocUnsafe(opts.blockSize);
        for (let b = next++; b < blocks; b = next++) {
          const offset = b * opts.blockSize;
          const view = buffer.subarray(0, Math.min(opts.blockSize, opts.size - offset));
          await readFully(src, view, offset, from);
          if (isAllZero(view)) continue;
          for (let done = 0; done < view.length;) done += (await dst.write(view, done, view.length - done, offset + done)).bytesWritten;
          bytes += view.length;
        }
      };
      await Promise.all(Array.from({ length: opts.inFlight }, copier));
      await dst.sync();
      return { seconds: (performance.now() - started) / 1000, fromMs, toMs: Date.now(), bytes };
    } finally {
      await dst.close();
    }
  } catch (err) {
    throw new Error(`The plain copy of ${from} to ${to} failed`, { cause: err });
  } finally {
    await src.close();
  }
}

async function readFully(fh: Awaited<ReturnType<typeof open>>, view: Buffer, offset: number, path: string): Promise<void> {
  for (let done = 0; done < view.length;) {
    const { bytesRead } = await fh.read(view, done, view.length - done, offset + done);
    if (bytesRead === 0) throw new Error(`${path} ended at ${offset + done}`);
    done += bytesRead;
  }
}

/** What a restored disk must be: its hash, its all-zero blocks, and the grains a VMDK of it must carry. */
export interface DiskScan {
  /** blake3 of the disk's bytes (as bench/support/vm.ts hashFile gives it). */
  readonly hash: string;
  /** One entry per block of `blockSize`: true when it holds only zeros (a hole in the vault's point). */
  readonly zeroBlocks: readonly boolean[];
  /** Grains of `grainSize` holding a non-zero byte: what a stream-optimized VMDK of the disk must send, and all it may send. */
  readonly nonZeroGrains: number;
  /** Bytes of the blocks that are not all zeros. */
  readonly allocatedBytes: number;
}

/** Reads the disk's data file once (not timed) and describes it (DiskScan). */
export async function scanDisk(path: string, opts: { size: number; blockSize: number; grainSize: number }): Promise<DiskScan> {
  const hasher = new Blake3Hasher();
  const zeroBlocks: boolean[] = [];
  let nonZeroGrains = 0;
  let allocatedBytes = 0;
  const fh = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(opts.blockSize);
    for (let offset = 0; offset < opts.size; offset += opts.blockSize) {
      const view = buffer.subarray(0, Math.min(opts.blockSize, opts.size - offset));
      await readFully(fh, view, offset, path);
      hasher.update(view);
      const zero = isAllZero(view);
      zeroBlocks.push(zero);
      if (zero) continue;
      allocatedBytes += view.length;
      for (let g = 0; g < view.length; g += opts.grainSize) if (!isAllZero(view.subarray(g, g + opts.grainSize))) nonZeroGrains++;
    }
  } catch (err) {
    throw new Error(`Could not scan the disk ${path}`, { cause: err });
  } finally {
    await fh.close();
  }
  return { hash: hasher.digest("hex"), zeroBlocks, nonZeroGrains, allocatedBytes };
}

/**
 * Writes the stream-optimized VMDK of the disk at `from` to `to` with
 * Lifeboat's own VMDK writer, given the same pieces a restore gives it (the
 * blocks that are not holes, in order): the bytes the lease restore sends,
 * made ahead of time for plainImport. Resolves with the file's length.
 */
export async function writeVmdk(from: string, to: string, opts: { size: number; blockSize: number; zeroBlocks: readonly boolean[] }): Promise<number> {
  const { size, blockSize, zeroBlocks } = opts;
  const image = createImageStream("vmdk", { size, blockSize, allocated: (b) => zeroBlocks[b] === false });
  async function* pieces(): AsyncGenerator<DiskPiece> {
    const fh = await open(from, "r");
    try {
      for (let b = 0; b * blockSize < size; b++) {
        if (zeroBlocks[b] !== false) continue;
        const data = Buffer.allocUnsafe(Math.min(blockSize, size - b * blockSize));
        await readFully(fh, data, b * blockSize, from);
        // Encoded as a restore's vault threads encode them, for the same bytes.
        yield { offset: b * blockSize, data, vmdkGrains: encodeGrains(data, b * blockSize) };
      }
    } finally {
      await fh.close();
    }
  }
  try {
    await pipeline(Readable.from(pieces()), image.stream, createWriteStream(to));
  } catch (err) {
    throw new Error(`Could not write the VMDK of ${from} to ${to}`, { cause: err });
  }
  return (await stat(to)).size;
}
