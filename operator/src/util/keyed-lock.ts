/**
 * Runs async sections one at a time per key, in the order they were asked
 * for; sections under different keys run concurrently. For check-then-act
 * steps that two reconciles in this process could otherwise interleave
 * (counting a Gateway's workers, then creating one).
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for earlier sections under `key`, then runs `section`; a section that throws releases the key too. */
  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.tails.set(key, tail);
    await previous;
    try {
      return await section();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a section running or waiting (for tests and debugging). */
  get size(): number {
    return this.tails.size;
  }
}
