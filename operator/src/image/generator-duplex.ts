/**
 * A Duplex whose writable side takes objects and whose readable side gives
 * the bytes an async generator makes of them.
 *
 * Node's Duplex.from(asyncGenerator) would do, but it makes the readable side
 * an object stream; image bytes must be a byte stream (a file, an S3 upload,
 * an HTTP body) with byte-counted backpressure. Backpressure runs both ways:
 * the generator only runs while the reader wants bytes, and a write's
 * callback fires only when the generator has taken the object, so at most
 * one object waits while another is being turned into bytes. 'finish' comes
 * once the generator has ended, so that an error the generator finds at the
 * end of the input (a missing block) fails the writable side too.
 */
import { Duplex } from "node:stream";

/** Makes the output bytes from the input objects. */
export type Producer<T> = (input: AsyncIterable<T>) => AsyncGenerator<Buffer, void, undefined>;

/** Readable buffer: bytes the generator may run ahead of the reader. */
const READABLE_HIGH_WATER_MARK = 1024 * 1024;

/** Runs `produce` behind a Duplex: objects in, bytes out. */
export class GeneratorDuplex<T> extends Duplex {
  readonly #output: AsyncGenerator<Buffer, void, undefined>;
  #waiting: { object: T; callback: (error?: Error | null) => void } | undefined;
  #ended = false;
  #finalCallback: ((error?: Error | null) => void) | undefined;
  #wake: (() => void) | undefined;
  #pumping = false;

  constructor(produce: Producer<T>) {
    super({ writableObjectMode: true, writableHighWaterMark: 1, readableHighWaterMark: READABLE_HIGH_WATER_MARK });
    this.#output = produce(this.#input());
  }

  override _write(object: T, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#waiting = { object, callback };
    this.#notify();
  }

  /** 'finish' waits for the generator to end, so that it also means every piece was taken and checked. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#ended = true;
    this.#finalCallback = callback;
    this.#notify();
  }

  override _read(): void {
    if (!this.#pumping) void this.#pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#notify();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.callback();
    // Ends the generator at its next step; nothing to wait for.
    this.#output.return(undefined).catch(() => undefined);
    callback(error);
  }

  /** The written objects, as the generator's input; throws once the stream is destroyed. */
  async *#input(): AsyncGenerator<T, void, undefined> {
    for (;;) {
      while (!this.#waiting && !this.#ended && !this.destroyed) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
      if (this.destroyed) throw new Error("The image stream was destroyed");
      const waiting = this.#waiting;
      if (!waiting) return;
      this.#waiting = undefined;
      waiting.callback();
      yield waiting.object;
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Moves bytes from the generator to the readable side until it is full or the generator is done. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (;;) {
        const next = await this.#output.next();
        if (this.destroyed) return;
        if (next.done) {
          this.push(null);
          this.#finalCallback?.();
          return;
        }
        if (next.value.length > 0 && !this.push(next.value)) return;
      }
    } catch (error) {
      this.destroy(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#pumping = false;
    }
  }
}
