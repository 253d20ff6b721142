/**
 * Direct I/O (O_DIRECT) for the large objects a backup writes to a
 * filesystem vault: its packs.
 *
 * A pack written through the page cache is copied into newly allocated
 * cache pages, written back by the kernel's flusher threads and then synced:
 * CPU on both cores for bytes that nobody reads again soon, and cache that
 * evicts other pods' files (and counts against the worker's memory limit,
 * since cgroups charge page cache to the writer). Written with O_DIRECT, the
 * disk takes the bytes straight from the pack's buffer. On this project's
 * test machine, 1 GiB of 16 MiB packs, each written and fsynced, took
 * 1.8-3.0 s of system CPU through the cache and 0.07-0.09 s direct
 * (docs/benchmarks.md).
 *
 * O_DIRECT wants the buffer's address, the file offset and the length
 * aligned to the device's block. JavaScript cannot see a Buffer's address,
 * and Node.js allocates large Buffers with malloc (16-byte aligned), so
 * `alignedBuffer` takes its memory from a WebAssembly.Memory, whose pages V8
 * maps page-aligned, and remembers which buffers it made. The filesystem
 * backend writes the aligned start of such a buffer directly and the rest
 * (a part block, the pack's header and trailer) through the cache. Where an
 * allocation or a direct write is refused (no WebAssembly, a filesystem
 * without O_DIRECT such as an old tmpfs, a stricter alignment), the write
 * goes through the cache as before: direct I/O only ever saves work.
 */
import { constants } from "node:fs";

/** Alignment of direct writes' offsets and lengths: a page, which covers 512-byte and 4 KiB sectors. */
export const DIRECT_ALIGNMENT = 4096;

/** O_DIRECT where the platform has it (Linux); undefined elsewhere. */
export const O_DIRECT: number | undefined = (constants as { O_DIRECT?: number }).O_DIRECT;

const WASM_PAGE = 64 * 1024;

/** WebAssembly.Memory, typed here since the project compiles without the DOM library that declares it; absent under --jitless. */
const WasmMemory = (globalThis as { WebAssembly?: { Memory: new (pages: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } } }).WebAssembly?.Memory;

/** The memory of every Buffer alignedBuffer made, so that a writer can tell it is aligned. */
const alignedMemory = new WeakSet<ArrayBufferLike>();

/**
 * A Buffer of `size` bytes at a page-aligned address, or a plain one where
 * WebAssembly memory is not available (node --jitless) or refused. Such a
 * buffer cannot be transferred to another thread.
 */
export function alignedBuffer(size: number): Buffer {
  if (O_DIRECT === undefined || WasmMemory === undefined || size === 0) return Buffer.allocUnsafeSlow(size);
  const pages = Math.ceil(size / WASM_PAGE);
  let memory: { readonly buffer: ArrayBuffer };
  try {
    memory = new WasmMemory({ initial: pages, maximum: pages });
  } catch {
    // Address space for WebAssembly memories is limited per process; a plain buffer works, through the cache.
    return Buffer.allocUnsafeSlow(size);
  }
  alignedMemory.add(memory.buffer);
  return Buffer.from(memory.buffer, 0, size);
}

/**
 * How many bytes at the start of `buf` a direct write can take: its length
 * rounded down to DIRECT_ALIGNMENT when alignedBuffer made its memory and
 * it starts on an aligned offset of it, else 0.
 */
export function directLength(buf: Buffer): number {
  if (!alignedMemory.has(buf.buffer) || buf.byteOffset % DIRECT_ALIGNMENT !== 0) return 0;
  return buf.length - (buf.length % DIRECT_ALIGNMENT);
}
