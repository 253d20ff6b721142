/**
 * Options of the Node.js that runs a worker: the Job's container command
 * and every harness that runs the worker as a Job would (tests, benches)
 * put them before the entry point. They are command-line options because
 * Node.js refuses V8's heap-sizing flags in NODE_OPTIONS.
 *
 * `--initial-old-space-size=128`: a worker keeps a small heap (some 15 MB)
 * while hundreds of megabytes a second of Buffers pass through it: TLS
 * hands each 16 KiB it reads to JavaScript in a new buffer, and the VMDK
 * writer makes one per grain. V8 counts that memory, though it dies young,
 * against the old generation's limit, which it sets from the live heap
 * (about 28 MB here), so a worker ran a full mark-compact for every 15 MB
 * or so that it moved: 91 in a 4.5 s restore of a 1 GiB disk to a new VM,
 * a third of the worker's CPU on V8's marking threads (perf). An initial
 * old space that the embedder sets is also the limit's floor (V8 then skips
 * full collections below it), so with 128 MB a collection comes every 64 to
 * 100 MB instead (the external-memory trigger): bench:pipeline measured the
 * worker's CPU for that restore from 4.9 to 3.3 s and for a full backup
 * from 3.2 to 2.6 s, its peak RSS unchanged (the garbage is Buffers that
 * scavenges and the ArrayBuffer sweeper free, not old objects). Floors of
 * 256 and 512 MB, one 1 GiB round each, took the restore no further (3.4
 * CPU s) and the backup by 0 and 0.4 CPU s, too little to tell from one
 * round's noise: 128 keeps the floor modest for workers under tight memory
 * limits.
 */
export const WORKER_NODE_OPTIONS: readonly string[] = ["--initial-old-space-size=128"];
