/**
 * Reads a backup's blocks from a DiskSource, one range per run of adjacent
 * blocks when the source can (DiskSource.readRange), else block by block.
 *
 * The backup's readers each take the next block of the list and read it
 * into their own buffer, then hash and seal it while the others read on.
 * With ranges, the readers of one run share its transfer: each copies its
 * block's bytes out of the stream in turn, in the order they took the
 * blocks, so the transfer flows as long as some reader is free, and stops
 * (backpressure) while all are busy. Memory stays at the readers' buffers
 * plus the chunk in hand.
 */
import { runsOfBlocks, type BlockRun, type DiskSource } from "./disk-io.js";

/**
 * Longest range one request reads. The source resumes a broken transfer
 * where it broke, so this bounds how long one request lives, not what a
 * failure costs; 64 MiB already makes the per-request cost vanish (1/64 of
 * one request per 1 MiB block).
 */
export const MAX_RUN_BYTES = 64 * 1024 * 1024;

/** A run being read: its transfer, the unread rest of the last chunk, and the turn of the next block. */
interface OpenRun {
  readonly chunks: AsyncIterator<Buffer>;
  leftover: Buffer;
  /** Settles when the block before the next one taken has its bytes. */
  turn: Promise<void>;
  /** Blocks of the run not yet taken. */
  left: number;
}

export class RunReader {
  private readonly runs: BlockRun[];
  /** Run of each entry of the block list. */
  private readonly runOf: Uint32Array;
  private readonly open = new Map<number, OpenRun>();

  constructor(
    private readonly source: DiskSource,
    private readonly blocks: readonly number[],
    private readonly blockSize: number,
    maxRunBytes = MAX_RUN_BYTES,
  ) {
    this.runs = source.readRange ? runsOfBlocks(blocks, blockSize, source.size, maxRunBytes) : [];
    this.runOf = new Uint32Array(source.readRange ? blocks.length : 0);
    this.runs.forEach((r, i) => this.runOf.fill(i, r.first, r.first + r.count));
  }

  /** Number of requests (ranges, or single blocks) this reader makes for the whole list. */
  get requests(): number {
    return this.source.readRange ? this.runs.length : this.blocks.length;
  }

  /**
   * Fills `view` (the block's length) with entry `index` of the block list.
   * Calls must come in the order of `index` (each reader takes the next
   * entry and calls at once); the returned promises may be awaited in any order.
   */
  read(index: number, view: Buffer): Promise<void> {
    const block = this.blocks[index] ?? 0;
    if (!this.source.readRange) return this.source.readInto(view, block * this.blockSize);
    const r = this.runOf[index] ?? 0;
    let run = this.open.get(r);
    if (!run) {
      const { offset, length, count } = this.runs[r] as BlockRun;
      run = { chunks: this.source.readRange(offset, length)[Symbol.asyncIterator](), leftover: Buffer.alloc(0), turn: Promise.resolve(), left: count };
      this.open.set(r, run);
    }
    const open = run;
    open.left--;
    const last = open.left === 0;
    if (last) this.open.delete(r);
    const done = open.turn.then(() => fill(open, view, last));
    // The next block's turn comes when this one has its bytes; a failure fails it too.
    open.turn = done;
    return done;
  }

  /** Ends the transfers of runs not read to their end (after a failure). Call once no read is pending. */
  async close(): Promise<void> {
    const open = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(open.map(async (run) => {
      await run.turn.catch(() => undefined);
      await run.chunks.return?.();
    }));
  }
}

/** Copies the run's next `view.length` bytes into `view`; after its last block, checks that the run has no more. */
async function fill(run: OpenRun, view: Buffer, last: boolean): Promise<void> {
  let at = 0;
  while (at < view.length) {
    if (run.leftover.length === 0) {
      const next = await run.chunks.next();
      if (next.done) throw new Error(`The range ended ${view.length - at} bytes before the end of a block`);
      run.leftover = next.value;
    }
    const n = Math.min(view.length - at, run.leftover.length);
    run.leftover.copy(view, at, 0, n);
    run.leftover = run.leftover.subarray(n);
    at += n;
  }
  if (last && (run.leftover.length > 0 || !(await run.chunks.next()).done)) {
    await run.chunks.return?.();
    throw new Error("The range went on past its last block");
  }
}
