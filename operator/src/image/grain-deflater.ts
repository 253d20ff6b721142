/**
 * Compresses VMDK grains, each into a complete, independent zlib stream (a
 * stream-optimized extent needs every grain to inflate on its own), reusing
 * a few native zlib contexts instead of making one per grain.
 *
 * `zlib.deflate(buffer)` builds a Deflate stream and runs deflateInit (some
 * 300 KiB of state, its hash table cleared) for every call, then tears it
 * down: for 64 KiB grains that cost as much CPU as the compressing. Here
 * each context is a Deflate stream whose every write is flushed with
 * Z_FINISH (so one write is one whole zlib stream: header, deflate data
 * ending in a final block, Adler-32), then `reset()` (deflateReset: state
 * kept, stream restarted) before the next grain. Compression still runs on
 * the libuv threadpool, a grain per context at a time.
 *
 * Why not a library: fflate or pako compress in JavaScript on the main
 * thread (slower than zlib at level 1, and they stall the event loop that
 * carries the upload); libdeflate bindings need a native build or prebuilt
 * binaries from outside npm. Node's own zlib, reused, has none of that.
 */
import { constants, createDeflate, type Deflate, type ZlibOptions } from "node:zlib";

/** One native context and the output of the grain it is compressing. */
class Context {
  readonly stream: Deflate;
  private chunks: Buffer[] = [];
  private error: Error | undefined;

  constructor(options: ZlibOptions) {
    this.stream = createDeflate({ ...options, flush: constants.Z_FINISH });
    // Flowing: each output chunk is handed over as zlib produces it, before the write's callback.
    this.stream.on("data", (chunk: Buffer) => this.chunks.push(chunk));
    this.stream.on("error", (err) => { this.error ??= err; });
  }

  /** The zlib stream of `data`, as chunks of zlib's output buffers (copy them before the next grain). */
  compress(data: Buffer): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      this.chunks = [];
      this.stream.write(data, (err) => {
        const out = this.chunks;
        this.chunks = [];
        const failure = err ?? this.error;
        if (failure) {
          reject(new Error(`Deflating a grain of ${data.length} bytes failed`, { cause: failure }));
        } else if (out.length === 0) {
          // A zlib stream has at least its header and checksum: no output means it went astray.
          reject(new Error(`Deflating a grain of ${data.length} bytes gave no output`));
        } else {
          this.stream.reset();
          resolve(out);
        }
      });
    });
  }

  get broken(): boolean {
    return this.error !== undefined || this.stream.destroyed;
  }
}

/** A pool of reusable zlib contexts with the same options; as many as grains in flight. */
export class GrainDeflater {
  private readonly free: Context[] = [];
  private readonly all = new Set<Context>();

  constructor(private readonly options: ZlibOptions) {}

  /**
   * Compresses `data` into one complete zlib stream and hands its chunks to
   * `use` (which must copy what it keeps: the chunks are zlib's output
   * buffers) before the context serves another grain.
   */
  async deflate<T>(data: Buffer, use: (chunks: readonly Buffer[]) => T): Promise<T> {
    const context = this.free.pop() ?? this.make();
    let out: Buffer[];
    try {
      out = await context.compress(data);
    } catch (err) {
      this.all.delete(context);
      context.stream.destroy();
      throw err;
    }
    try {
      return use(out);
    } finally {
      if (context.broken) this.all.delete(context);
      else this.free.push(context);
    }
  }

  /** Native contexts made and not yet freed. */
  get contexts(): number {
    return this.all.size;
  }

  /** Frees the native contexts (when the image is done or abandoned: grains still compressing are not waited for). */
  close(): void {
    for (const c of this.all) c.stream.destroy();
    this.all.clear();
    this.free.length = 0;
  }

  private make(): Context {
    const c = new Context(this.options);
    this.all.add(c);
    return c;
  }
}
