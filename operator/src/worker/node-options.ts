/**
 * Options of the Node.js that runs a worker: the Job's container command
 * and every harness that runs the worker as a Job would (tests, benches)
 * put them before the entry point. They are command-line options because
 * Node.js does not allow `--initial-old-space-size` in NODE_OPTIONS.
 *
 * `--initial-old-space-size=128`: a worker keeps a small heap (some 15 MB)
 * while hundreds of megabytes a second of Buffers pass through it (TLS
 * hands each 16 KiB it reads to JavaScript in a new buffer; the VMDK writer
 * makes one per grain). V8 counts that memory, though it dies young,
 * against the old generation's limit, which it sets from the small live
 * heap, so a worker ran a full mark-compact every 15 MB or so that it moved,
 * and a third of its CPU went to V8's marking threads. An initial old space
 * that the embedder sets is also the floor of that limit (V8 skips full
 * collections below it), so collections come every 64 to 100 MB instead.
 * The measurements (perf, --trace-gc, an A/B of bench:pipeline, peak RSS
 * unchanged, larger floors) are in docs/benchmarks.md, "the worker's full
 * garbage collections".
 */
export const WORKER_NODE_OPTIONS: readonly string[] = ["--initial-old-space-size=128"];
