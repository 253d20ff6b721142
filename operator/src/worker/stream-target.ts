/**
 * A restore target that turns the vault's positional writes into one
 * in-order byte stream, for uploads that take a whole disk as a stream
 * (the datastore PUT of a restore to vSphere).
 *
 * The vault restores runs of blocks in disk order with a few in flight, so a
 * write ahead of the stream's position waits (unbuffered) until the writes
 * before it went out; holes (known from the point's block list) are sent as
 * zeros. Memory is bounded by the vault's runs in flight.
 *
 * In `pieces` mode the stream carries the disk's data as DiskPiece objects
 * instead, holes left out, for the image writers (qcow2, VHD, VMDK), which
 * know the holes from the block list and must not be fed gigabytes of zeros.
 */
import { PassThrough, type Readable } from "node:stream";
import type { DiskPiece } from "../image/formats.js";
import type { EncodedGrains } from "../image/vmdk-grains.js";
import type { DiskTarget, RunEncoding } from "../vault/index.js";
import type { TokenBucket } from "./token-bucket.js";

interface PendingWrite {
  readonly buffer: Buffer;
  readonly grains: EncodedGrains | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export interface SequentialTargetOptions {
  readonly size: number;
  readonly blockSize: number;
  /** True for blocks that hold only zeros and are never written. */
  readonly isHole: (block: number) => boolean;
  readonly bandwidth?: TokenBucket | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called with the bytes of each piece sent. */
  readonly onBytes?: ((bytes: number) => void) | undefined;
  /** "bytes" (default): the disk's bytes, holes as zeros; "pieces": DiskPiece objects of the data only. */
  readonly mode?: "bytes" | "pieces";
  /** In "pieces" mode: have the vault's threads encode each write (the pieces carry it; see RunEncoding). */
  readonly encoding?: RunEncoding | undefined;
}

export class SequentialTarget implements DiskTarget {
  readonly zeroed = true;
  readonly encoding: RunEncoding | undefined;
  /** The disk's bytes in order, or its DiskPieces in order (mode "pieces"). */
  readonly stream: Readable;
  private readonly out: PassThrough;
  private readonly pieces: boolean;
  private readonly pending = new Map<number, PendingWrite>();
  private readonly zeros: Buffer;
  private cursor = 0;
  private pumping: Promise<void> | undefined;
  private failure: unknown;

  constructor(private readonly opts: SequentialTargetOptions) {
    this.pieces = opts.mode === "pieces";
    this.encoding = this.pieces ? opts.encoding : undefined;
    // Pieces are the vault's writes (up to a run of blocks each): a few of them buffered, as a MiB of bytes is.
    this.out = this.pieces ? new PassThrough({ objectMode: true, highWaterMark: 4 }) : new PassThrough({ highWaterMark: 1024 * 1024 });
    this.stream = this.out;
    // Failures reach the caller through write() and close(); the reader sees the stream end early.
    this.out.on("error", () => undefined);
    this.zeros = Buffer.alloc(opts.blockSize);
    void this.pump();
  }

  /** Bytes sent so far. */
  get position(): number {
    return this.cursor;
  }

  write(buffer: Buffer, offset: number, grains?: EncodedGrains): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failureError());
    if (offset < this.cursor || this.pending.has(offset)) return Promise.reject(new Error(`A write at ${offset} arrived after the stream passed it (at ${this.cursor})`));
    if (buffer.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.set(offset, { buffer, grains, resolve, reject });
      void this.pump();
    });
  }

  /** Resolves once every byte went out (trailing holes included); fails if some were never written. */
  async close(): Promise<void> {
    while (this.pumping) await this.pumping;
    if (this.failure !== undefined) throw this.failureError();
    if (this.cursor < this.opts.size) {
      const err = new Error(`The restore ended at byte ${this.cursor} of ${this.opts.size}`);
      this.fail(err);
      throw err;
    }
  }

  /** Stops: pending writes reject, the stream errors. */
  fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    for (const p of this.pending.values()) p.reject(this.failureError());
    this.pending.clear();
    this.out.destroy(err instanceof Error ? err : new Error(String(err)));
  }

  private get failed(): boolean {
    return this.failure !== undefined;
  }

  private failureError(): Error {
    return new Error("The disk stream stopped", { cause: this.failure });
  }

  private pump(): Promise<void> {
    if (this.pumping || this.failure !== undefined) return this.pumping ?? Promise.resolve();
    this.pumping = this.pumpLoop().finally(() => {
      this.pumping = undefined;
      // A write may have arrived after the loop looked for one and before it ended.
      if (this.canAdvance()) void this.pump();
    });
    return this.pumping;
  }

  private canAdvance(): boolean {
    const { size, blockSize } = this.opts;
    if (this.failed || this.cursor >= size) return false;
    return this.pending.has(this.cursor) || (this.cursor % blockSize === 0 && this.opts.isHole(Math.floor(this.cursor / blockSize)));
  }

  private async pumpLoop(): Promise<void> {
    try {
      const { size, blockSize } = this.opts;
      while (this.cursor < size && !this.failed) {
        const next = this.pending.get(this.cursor);
        if (next) {
          this.pending.delete(this.cursor);
          await this.emit(next.buffer, this.cursor, next.grains);
          this.cursor += next.buffer.length;
          next.resolve();
          continue;
        }
        const block = Math.floor(this.cursor / blockSize);
        if (this.cursor % blockSize === 0 && this.opts.isHole(block)) {
          const length = Math.min(blockSize, size - this.cursor);
          if (!this.pieces) await this.emit(this.zeros.subarray(0, length));
          this.cursor += length;
          continue;
        }
        break;
      }
      if (this.cursor >= size && !this.failed) this.out.end();
    } catch (err) {
      this.fail(err);
    }
  }

  private async emit(buffer: Buffer, offset?: number, grains?: EncodedGrains): Promise<void> {
    await this.opts.bandwidth?.take(buffer.length, this.opts.signal);
    if (this.out.destroyed) throw new Error("The upload stopped reading the disk stream");
    const chunk: Buffer | DiskPiece = this.pieces ? { offset: offset ?? this.cursor, data: buffer, vmdkGrains: grains } : buffer;
    if (!this.out.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.out.off("drain", done);
          this.out.off("close", done);
          resolve();
        };
        this.out.on("drain", done);
        this.out.on("close", done);
      });
    }
    this.opts.onBytes?.(buffer.length);
  }
}
