/**
 * The disk's bytes, in order, from the DiskPiece objects a writer is given.
 *
 * Every writer lays out its file in the disk's order, so it reads the disk
 * front to back: `range` yields [start, end) as slices of the pieces (no
 * copies) with zero chunks for the holes, and `read` gives one grain or
 * cluster as a single buffer. The reader also enforces the piece contract
 * (block-aligned, increasing, whole blocks, only allocated blocks, every
 * allocated block exactly once), because a writer that planned its metadata
 * from the allocation map would otherwise produce a silently wrong image.
 *
 * Memory: the current piece only (it is dropped as soon as the reading
 * position passes its end), and the piece the last read began in, until the
 * next read.
 */
import { ImageFormatError } from "./errors.js";
import type { CheckedLayout } from "./layout.js";
import type { DiskPiece } from "./writer.js";
import { encodedGrainsProblem } from "./vmdk-grains.js";
import { zeroChunks } from "./zeros.js";

/** Reads the disk's bytes front to back from a sequence of pieces. */
export class DiskReader {
  readonly #layout: CheckedLayout;
  readonly #pieces: AsyncIterator<DiskPiece>;
  #current: DiskPiece | undefined;
  #inputDone = false;
  /** Where the next piece may start (the end of the previous one). */
  #nextOffset = 0;
  /** The first block not yet accounted for (given, or checked to be unallocated). */
  #nextBlock = 0;
  /** The reading position: reads never go back. */
  #position = 0;
  /** The piece that held the first byte of the last read, if one did. */
  #startPiece: DiskPiece | undefined;

  constructor(layout: CheckedLayout, pieces: AsyncIterable<DiskPiece>) {
    this.#layout = layout;
    this.#pieces = pieces[Symbol.asyncIterator]();
  }

  /**
   * The disk's bytes [start, end) as buffers in order: slices of the pieces
   * and shared zero chunks (never write to them). Bytes past the disk's size
   * read as zeros. `start` must not be before the end of the previous read.
   */
  async *range(start: number, end: number): AsyncGenerator<Buffer> {
    if (start < this.#position) throw new Error(`DiskReader read ${start} after ${this.#position}: reads must go forward`);
    this.#startPiece = undefined;
    let at = start;
    while (at < end) {
      const piece = await this.#pieceReaching(at);
      if (!piece || piece.offset >= end) {
        yield* zeroChunks(end - at);
        at = end;
        break;
      }
      if (piece.offset > at) {
        yield* zeroChunks(piece.offset - at);
        at = piece.offset;
      }
      const stop = Math.min(end, piece.offset + piece.data.length);
      if (at === start) this.#startPiece = piece;
      yield piece.data.subarray(at - piece.offset, stop - piece.offset);
      at = stop;
    }
    this.#position = end;
  }

  /** The disk's bytes [start, start + length) as one buffer: a slice of a piece when it lies in one, else a copy. */
  async read(start: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.range(start, start + length)) parts.push(part);
    return parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts, length);
  }

  /** The piece the last read began in (undefined when it began in a hole): a writer takes what a piece carries besides its data (DiskPiece.vmdkGrains) from it. */
  get lastReadPiece(): DiskPiece | undefined {
    return this.#startPiece;
  }

  /** Takes the rest of the input and checks that no piece is left over and no allocated block was left out. */
  async finish(): Promise<void> {
    const extra = await this.#pieceReaching(Number.MAX_SAFE_INTEGER);
    if (extra) throw new ImageFormatError(`A piece at offset ${extra.offset} came after the writer had read the whole disk: pieces must lie within the disk's ${this.#layout.size} bytes`);
    this.#checkSkipped(this.#layout.blockCount, "the end of the input");
  }

  /** The first piece that ends after `at`, taking pieces from the input as needed; undefined once the input is done. */
  async #pieceReaching(at: number): Promise<DiskPiece | undefined> {
    while (!this.#current || this.#current.offset + this.#current.data.length <= at) {
      this.#current = undefined;
      if (this.#inputDone) return undefined;
      const next = await this.#pieces.next();
      if (next.done) {
        this.#inputDone = true;
        return undefined;
      }
      this.#current = this.#accept(next.value);
    }
    return this.#current;
  }

  /** Checks one piece against the contract and the allocation map. */
  #accept(piece: unknown): DiskPiece {
    const { size, blockSize, blockCount, allocated } = this.#layout;
    if (typeof piece !== "object" || piece === null || !Buffer.isBuffer((piece as DiskPiece).data) || typeof (piece as DiskPiece).offset !== "number") {
      throw new ImageFormatError("The image stream was given something that is not a DiskPiece: write { offset: number, data: Buffer } objects");
    }
    const { offset, data } = piece as DiskPiece;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % blockSize !== 0) {
      throw new ImageFormatError(`A piece starts at ${offset}, not on a ${blockSize}-byte block boundary: pieces must start on a block boundary`);
    }
    if (offset < this.#nextOffset) {
      throw new ImageFormatError(`A piece at offset ${offset} came after one that ended at ${this.#nextOffset}: give pieces in increasing offset order, each block once`);
    }
    if (offset >= size) {
      throw new ImageFormatError(`A piece starts at ${offset}, at or past the end of the ${size}-byte disk: give only the disk's blocks`);
    }
    const end = offset + data.length;
    if (data.length === 0 || end > size || (data.length % blockSize !== 0 && end !== size)) {
      throw new ImageFormatError(
        `The piece at offset ${offset} holds ${data.length} bytes: a piece holds whole ${blockSize}-byte blocks (only the disk's last block may be short) and ends at or before the disk's size ${size}`,
      );
    }
    const first = offset / blockSize;
    this.#checkSkipped(first, `the piece at offset ${offset}`);
    const last = Math.min(blockCount, Math.ceil(end / blockSize)) - 1;
    for (let block = first; block <= last; block++) {
      if (!allocated(block)) {
        throw new ImageFormatError(`The piece at offset ${offset} holds block ${block}, which the layout says is not allocated: give only allocated blocks, or mark the block allocated in the layout`);
      }
    }
    const { vmdkGrains } = piece as DiskPiece;
    const problem = vmdkGrains && encodedGrainsProblem(vmdkGrains, offset, data.length);
    if (problem) throw new ImageFormatError(`The piece at offset ${offset} came with ${problem}: encode every grain of a piece, at its offset`);
    this.#nextBlock = last + 1;
    this.#nextOffset = end;
    return { offset, data, vmdkGrains };
  }

  /** Throws when an allocated block before `upTo` was never given. */
  #checkSkipped(upTo: number, where: string): void {
    for (let block = this.#nextBlock; block < upTo; block++) {
      if (this.#layout.allocated(block)) {
        throw new ImageFormatError(
          `Block ${block} (offset ${block * this.#layout.blockSize}) is allocated but was not given before ${where}: give every allocated block exactly once, in order`,
        );
      }
    }
    this.#nextBlock = Math.max(this.#nextBlock, upTo);
  }
}
