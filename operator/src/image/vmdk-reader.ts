/**
 * Reads a stream-optimized VMDK as it arrives, front to back, yielding each
 * grain's offset and bytes: what a writer of a block device needs to lay the
 * image onto a disk that is all zeros (a new cloud disk) without a temporary
 * copy and without seeking in the source.
 *
 * Follows the same "Stream-Optimized Compressed Sparse Extents" layout that
 * vmdk.ts writes (VMware's "Virtual Disk Format 5.0"): a SparseExtentHeader
 * with the compressed-grains and markers flags, then, after `overHead`
 * sectors, markers on sector boundaries: a grain marker (LBA, compressed
 * size > 0, zlib data, padded to a sector), or a metadata marker (size 0)
 * whose type says what follows (grain table, grain directory, footer: skipped,
 * as the grain markers already carry each grain's place) or that the stream
 * ends (end-of-stream). Grains left out read as zeros.
 */
import { promisify } from "node:util";
import { inflate } from "node:zlib";
import { ImageFormatError } from "./errors.js";
import { MARKER_EOS } from "./vmdk.js";

const inflateAsync = promisify(inflate);

const SECTOR = 512;
const VMDK_MAGIC = 0x564d444b;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
/** Larger metadata than this (in sectors) is not what a stream-optimized writer makes. */
const MAX_METADATA_SECTORS = 1 << 20;

/** One grain of the disk: its bytes at `offset` (bytes from the disk's start). */
export interface VmdkGrain {
  readonly offset: number;
  readonly data: Buffer;
}

/** What the header says about the disk. */
export interface VmdkStreamInfo {
  /** The virtual size in bytes. */
  readonly capacityBytes: number;
  readonly grainBytes: number;
}

/** Exact-length reads from an async stream of chunks. */
class ChunkReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  async read(length: number): Promise<Buffer> {
    while (this.pending.length < length) {
      const next = await this.source.next();
      if (next.done) throw new ImageFormatError(`The VMDK stream ended in the middle of a record (wanted ${length} bytes, had ${this.pending.length}); the upload was probably cut short`);
      this.pending = this.pending.length === 0 ? next.value : Buffer.concat([this.pending, next.value]);
    }
    const out = this.pending.subarray(0, length);
    this.pending = this.pending.subarray(length);
    return out;
  }

  async skip(length: number): Promise<void> {
    for (let left = length; left > 0; ) {
      const n = Math.min(left, 1024 * 1024);
      await this.read(n);
      left -= n;
    }
  }
}

function u64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x100000000;
}

/**
 * Yields the grains of the stream-optimized VMDK in `source` in stream order
 * (the disk's order, for the files Lifeboat and VMware write). `onInfo`
 * receives the header's capacity before the first grain, so a caller can
 * check that its target is large enough. Throws ImageFormatError on anything
 * that is not a well-formed stream-optimized extent.
 */
export async function* readStreamOptimizedVmdk(source: AsyncIterable<Buffer>, onInfo?: (info: VmdkStreamInfo) => void): AsyncGenerator<VmdkGrain> {
  const reader = new ChunkReader(source[Symbol.asyncIterator]());
  const header = await reader.read(SECTOR);
  if (header.readUInt32LE(0) !== VMDK_MAGIC) throw new ImageFormatError("Not a VMDK sparse extent: the magic number KDMV is missing");
  const flags = header.readUInt32LE(8);
  if ((flags & FLAG_COMPRESSED) === 0 || (flags & FLAG_MARKERS) === 0) throw new ImageFormatError("Not a stream-optimized VMDK: its header lacks the compressed-grains and markers flags");
  const capacityBytes = u64(header, 12) * SECTOR;
  const grainBytes = u64(header, 20) * SECTOR;
  const overHead = u64(header, 64);
  if (grainBytes === 0 || grainBytes > 1024 * 1024 || overHead < 1) throw new ImageFormatError(`The VMDK header is not plausible (grain ${grainBytes} bytes, overhead ${overHead} sectors)`);
  onInfo?.({ capacityBytes, grainBytes });
  await reader.skip((overHead - 1) * SECTOR);

  for (;;) {
    const marker = await reader.read(SECTOR);
    const value = u64(marker, 0);
    const size = marker.readUInt32LE(8);
    if (size > 0) {
      const recordBytes = Math.ceil((12 + size) / SECTOR) * SECTOR;
      const rest = recordBytes > SECTOR ? await reader.read(recordBytes - SECTOR) : Buffer.alloc(0);
      const compressed = Buffer.concat([marker.subarray(12), rest]).subarray(0, size);
      const offset = value * SECTOR;
      if (offset >= capacityBytes || offset % grainBytes !== 0) {
        throw new ImageFormatError(`A grain at sector ${value} lies outside the disk of ${capacityBytes} bytes or off a grain boundary`);
      }
      let data: Buffer;
      try {
        data = await inflateAsync(compressed, { maxOutputLength: grainBytes });
      } catch (err) {
        throw new ImageFormatError(`The grain at sector ${value} does not inflate`, { cause: err });
      }
      yield { offset, data };
      continue;
    }
    const type = marker.readUInt32LE(12);
    if (type === MARKER_EOS) return;
    if (value > MAX_METADATA_SECTORS) throw new ImageFormatError(`A metadata marker announces ${value} sectors: not a stream-optimized VMDK`);
    await reader.skip(value * SECTOR);
  }
}
