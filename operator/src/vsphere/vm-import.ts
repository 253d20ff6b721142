import type { IncomingMessage } from "node:http";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import type { Logger } from "pino";
import { VsphereError } from "./errors.js";
import { PropertyWatch, retrieveOne } from "./property-collector.js";
import { readBody } from "./soap.js";
import type { Session } from "./session.js";
import { controllerXsi, diskUnitNumber, vmConfigSpecXml, type CreateVmSpec } from "./vm-create.js";
import { bool, child, children, el, moRef, moRefEl, moRefOf, num, rawEl, text, textOf, typedEl, xsiType, type MoRef } from "./xml.js";

/**
 * Restoring a VM the way an OVF import does: ResourcePool.ImportVApp with a
 * VirtualMachineImportSpec creates the VM and its (empty) disks and hands
 * out an HttpNfcLease; once the lease is ready, each disk's content goes to
 * the lease's device URL for that disk as a stream-optimized VMDK, whose
 * grains are compressed and whose all-zero grains are left out. Unlike an
 * upload of the flat file through the datastore (/folder), no zero byte of a
 * sparse disk crosses the network. The lease must hear HttpNfcLeaseProgress
 * every few minutes or it times out; HttpNfcLeaseComplete keeps the VM, and
 * HttpNfcLeaseAbort makes vCenter delete the half-made VM.
 *
 * The sequence follows govmomi (ovf/importer, nfc/lease.go,
 * nfc/lease_updater.go): wait for the lease to leave "initializing", match
 * each disk to its device URL by importKey, substitute "*" in a URL with the
 * host this client talks to, POST with Content-Type
 * application/x-vnd.vmware-streamVmdk, report progress on a timer, complete,
 * or abort with a fault on any failure.
 */

/**
 * One disk's content for {@link importVm}: a function that returns the
 * stream-optimized VMDK bytes of the disk, of a length nobody needs to know
 * up front. It is called once, when the lease is ready and the disks before
 * it are uploaded.
 */
export type ImportDiskSource = () => Readable | Promise<Readable>;

export interface ImportProgress {
  /** Index of the disk being uploaded (in CreateVmSpec.disks order). */
  readonly disk: number;
  /** Bytes of that disk's stream sent so far. */
  readonly diskBytesSent: number;
  /** Bytes sent for all disks so far. */
  readonly bytesSent: number;
}

export interface ImportVmOptions {
  /** Called as bytes go out (at most every 64 KiB or so: once per chunk of the source). */
  readonly onProgress?: (progress: ImportProgress) => void;
  /** Aborting stops the upload, aborts the lease (vCenter deletes the VM) and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** How often to report HttpNfcLeaseProgress, which keeps the lease alive (default 10 s; leases time out after about 5 min). */
  readonly leaseProgressIntervalMs?: number;
  /** How long the lease may stay "initializing" (default 10 min). */
  readonly readyTimeoutMs?: number;
  /** Fail an upload when no byte moved for this long (default 5 min). */
  readonly stallTimeoutMs?: number;
  readonly logger?: Logger;
}

/** One entry of HttpNfcLeaseInfo.deviceUrl. */
export interface LeaseDeviceUrl {
  readonly key: string;
  readonly importKey: string;
  readonly url: string;
  readonly sslThumbprint?: string;
  readonly disk: boolean;
  readonly targetId?: string;
}

export interface LeaseInfo {
  /** The VM the import created. */
  readonly entity: MoRef;
  readonly deviceUrls: readonly LeaseDeviceUrl[];
  readonly leaseTimeoutSeconds?: number;
}

/** The body of ImportVApp: the pool, a VirtualMachineImportSpec whose configSpec is the VM's, the folder and host. Exported for unit tests. */
export function importVAppXml(spec: CreateVmSpec): string {
  return (
    moRefEl("_this", spec.resourcePool) +
    typedEl("spec", "VirtualMachineImportSpec", rawEl("configSpec", vmConfigSpecXml(spec))) +
    moRefEl("folder", spec.folder) +
    moRefEl("host", spec.host)
  );
}

/** Decodes HttpNfcLeaseInfo. Exported for unit tests. */
export function decodeLeaseInfo(info: unknown): LeaseInfo {
  const entity = moRef(info, "entity");
  if (!entity) throw new VsphereError("The import lease's info names no VM (entity)");
  const deviceUrls = children(info, "deviceUrl").map((d) => {
    const sslThumbprint = text(d, "sslThumbprint");
    const targetId = text(d, "targetId");
    return {
      key: text(d, "key") ?? "",
      importKey: text(d, "importKey") ?? "",
      url: text(d, "url") ?? "",
      ...(sslThumbprint ? { sslThumbprint } : {}),
      disk: bool(d, "disk") ?? false,
      ...(targetId ? { targetId } : {}),
    };
  });
  const leaseTimeoutSeconds = num(info, "leaseTimeout");
  return { entity, deviceUrls, ...(leaseTimeoutSeconds !== undefined ? { leaseTimeoutSeconds } : {}) };
}

/**
 * The device URL for disk `index` of the spec. vCenter and ESXi name a disk
 * in importKey by its place on the controller, "/<VM name>/<controller
 * type><bus>:<unit>" (e.g. "/web-1/ParaVirtualSCSIController0:1"); govmomi's
 * simulator by its order, "/<VM name>/disk:<n>". Both are matched on the part
 * after the VM name, which vSphere may escape. Exported for unit tests.
 */
export function deviceUrlForDisk(spec: CreateVmSpec, index: number, urls: readonly LeaseDeviceUrl[]): LeaseDeviceUrl {
  const onController = `/${controllerXsi[spec.controller ?? "pvscsi"]}0:${diskUnitNumber(index)}`;
  const inOrder = `/disk:${index}`;
  const found = urls.find((u) => u.importKey.endsWith(onController)) ?? urls.find((u) => u.importKey.endsWith(inOrder));
  if (!found) {
    throw new VsphereError(
      `The import lease of VM "${spec.name}" has no device URL for disk ${index} (import key ending in ${onController}); ` +
        `it offers ${urls.map((u) => u.importKey).join(", ") || "none"}`,
    );
  }
  return found;
}

/**
 * The URL to upload to: a device URL's host "*" (ESXi answering directly)
 * means the host this client talks to, port included, as govc substitutes it.
 * Exported for unit tests.
 */
export function resolveDeviceUrl(url: string, endpoint: URL): URL {
  const resolved = new URL(url.replace(/^(https?:\/\/)\*(:\d+)?(?=[/?]|$)/i, `$1${endpoint.host}`));
  if (resolved.protocol !== "https:") throw new VsphereError(`The import lease's device URL is not https: ${resolved.protocol}//${resolved.host}`);
  return resolved;
}

/** The `fault` argument of HttpNfcLeaseAbort: a SystemError with the reason, which vCenter shows on the import task. Exported for unit tests. */
export function leaseAbortFaultXml(reason: string): string {
  const oneLine = reason.replace(/\s+/g, " ").slice(0, 500);
  return rawEl("fault", typedEl("fault", "SystemError", el("reason", oneLine)) + el("localizedMessage", oneLine));
}

/** The message of a lease's `error` (LocalizedMethodFault). */
function leaseErrorMessage(error: unknown): string {
  const fault = child(error, "fault");
  const parts = [text(error, "localizedMessage"), ...children(fault, "faultMessage").map((m) => text(m, "message")), text(fault, "reason")];
  const message = parts.filter((p): p is string => p !== undefined && p !== "").join("; ");
  const name = xsiType(fault);
  return [name, message].filter((p) => p !== undefined && p !== "").join(": ") || "unknown error";
}

/** Waits until the lease leaves "initializing"; resolves with its info when ready. */
async function waitForLease(session: Session, lease: MoRef, what: string, timeoutMs: number, signal: AbortSignal): Promise<LeaseInfo> {
  const watch = await PropertyWatch.start(session, {
    propSet: [{ type: "HttpNfcLease", pathSet: ["state", "info", "error"] }],
    objectSet: [{ obj: lease }],
  });
  const deadline = Date.now() + timeoutMs;
  let state: string | undefined;
  let info: unknown;
  let error: unknown;
  try {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new VsphereError(`${what}: the lease was still initializing after ${Math.round(timeoutMs / 1000)} s`);
      let updates;
      try {
        updates = await watch.next(Math.min(30, Math.ceil(remaining / 1000)), signal);
      } catch (err) {
        signal.throwIfAborted();
        throw err;
      }
      for (const u of updates) {
        if (u.kind === "leave") throw new VsphereError(`${what}: the lease ${lease.value} disappeared while initializing`);
        for (const c of u.changes) {
          if (c.name === "state") state = textOf(c.val);
          if (c.name === "info") info = c.val;
          if (c.name === "error") error = c.val;
        }
      }
      if (state === "ready" && info !== undefined) return decodeLeaseInfo(info);
      if (state === "error") throw new VsphereError(`${what}: the lease failed: ${leaseErrorMessage(error)}`);
      if (state === "done") throw new VsphereError(`${what}: the lease ended before any disk was uploaded`);
    }
  } finally {
    await watch.destroy();
  }
}

/** Counts the bytes passing through and reports the running total (which also re-arms the stall watchdog). */
class Meter extends Transform {
  sent = 0;
  constructor(private readonly onBytes: (total: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sent += chunk.length;
    this.onBytes(this.sent);
    cb(null, chunk);
  }
}

/** setTimeout's longest delay: the upload's overall limit is the stall watchdog, not the request timer. */
const NO_REQUEST_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * POSTs one disk's stream to its device URL with chunked transfer encoding
 * and resolves when the server accepted it. Rejects when the source errors,
 * when nothing moved for `stallMs`, on `signal`, or on an HTTP error.
 */
async function uploadToDeviceUrl(
  session: Session,
  target: URL,
  thumbprint: string | undefined,
  source: Readable,
  what: string,
  signal: AbortSignal,
  stallMs: number,
  onBytes: (sent: number) => void,
): Promise<number> {
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  let stall: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(stall);
    stall = setTimeout(() => {
      stop.abort(new VsphereError(`${what}: no data moved for ${Math.round(stallMs / 1000)} s`));
    }, stallMs);
  };
  let sourceError: unknown;
  const meter = new Meter((sent) => {
    arm();
    onBytes(sent);
  });
  source.once("error", (err) => {
    sourceError = err;
    meter.destroy(err);
  });
  source.pipe(meter);
  arm();
  try {
    let res: IncomingMessage;
    try {
      res = await session.transport.sendToUrl(
        target,
        {
          method: "POST",
          // No Content-Length: the length of the stream is not known until it ends (see importVm).
          headers: { "Content-Type": "application/x-vnd.vmware-streamVmdk", "Transfer-Encoding": "chunked" },
          body: meter,
          timeoutMs: NO_REQUEST_TIMEOUT_MS,
          signal: both,
        },
        thumbprint,
      );
    } catch (err) {
      if (sourceError !== undefined) throw new VsphereError(`${what}: the disk's stream failed`, { cause: sourceError });
      if (both.aborted) throw both.reason;
      throw err;
    }
    arm(); // the server answered; its body is short
    const status = res.statusCode ?? 0;
    const body = (await readBody(res).catch(() => Buffer.alloc(0))).toString("utf8").trim().slice(0, 300);
    if (status < 200 || status >= 300) throw new VsphereError(`${what}: HTTP ${status}${body ? ` ${body}` : ""}`);
    if (sourceError !== undefined) throw new VsphereError(`${what}: the disk's stream failed`, { cause: sourceError });
    return meter.sent;
  } finally {
    clearTimeout(stall);
    source.unpipe(meter);
    if (!source.readableEnded) source.destroy();
  }
}

/**
 * Creates a VM from `spec` through ResourcePool.ImportVApp and uploads each
 * disk's content as a stream-optimized VMDK to the import lease, then
 * completes the lease; resolves with the new VM. `disks[i]` gives the
 * content of `spec.disks[i]`. While uploading, HttpNfcLeaseProgress goes out
 * every `leaseProgressIntervalMs` to keep the lease alive; if the lease fails
 * meanwhile (timed out, cancelled in vCenter) the import rejects with a
 * VsphereError naming the VM and the lease's error. On any failure, and when
 * `signal` aborts, the lease is aborted with the reason, so vCenter deletes
 * the VM it had begun to create; nothing is left behind to clean up.
 *
 * The streams are sent with chunked transfer encoding, because the VMDK
 * writer learns the length only at its end. Whether real NFC takes that:
 * every tool that knows the file size (govc, ovftool, pyvmomi and Ansible
 * samples) sends Content-Length, but VMware's own vSphere Web Services SDK
 * Java sample for this very upload (OVFManagerImportLocalVApp, copied by
 * vijava users such as floto) uses HttpsURLConnection.setChunkedStreamingMode
 * for the streamVmdk POST, which sends Transfer-Encoding: chunked and drops
 * the Content-Length header it also sets (a restricted header in Java), and
 * it works against ESXi and vCenter. So ESXi's NFC server reads chunked
 * uploads of stream-optimized disks; this was not re-verified on a real host
 * here (the test bed has vcsim only). Should a host answer 411 Length
 * Required, the fallback is to spool the stream to a file and send its
 * length; nothing in this API would change for the caller.
 */
export async function importVm(session: Session, spec: CreateVmSpec, disks: readonly ImportDiskSource[], opts: ImportVmOptions = {}): Promise<MoRef> {
  if (disks.length !== spec.disks.length) {
    throw new VsphereError(`Importing VM "${spec.name}": ${spec.disks.length} disks in the spec but ${disks.length} disk sources`);
  }
  const what = `Importing VM "${spec.name}"`;
  const log = opts.logger?.child({ vm: spec.name });
  const failed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal;
  signal.throwIfAborted();

  const res = await session.call("ImportVApp", importVAppXml(spec));
  const lease = moRefOf(child(res, "returnval"));
  if (!lease) throw new VsphereError(`${what}: ImportVApp returned no lease`);
  log?.info({ lease: lease.value, disks: disks.length }, "Started importing VM");

  let timer: NodeJS.Timeout | undefined;
  let done = 0;
  let reporting: Promise<void> = Promise.resolve();
  try {
    const info = await waitForLease(session, lease, what, opts.readyTimeoutMs ?? 10 * 60_000, signal);
    const targets = spec.disks.map((_, i) => deviceUrlForDisk(spec, i, info.deviceUrls));

    // Keep the lease alive; a lease that fails meanwhile fails the import.
    const report = async () => {
      const percent = Math.min(99, Math.floor((100 * done) / Math.max(1, disks.length)));
      try {
        await session.call("HttpNfcLeaseProgress", moRefEl("_this", lease) + el("percent", percent));
      } catch (err) {
        if (signal.aborted) return;
        const current = await retrieveOne(session, lease, ["state", "error"]).catch(() => undefined);
        const state = textOf(current?.props.get("state")) ?? "gone";
        const reason = state === "error" ? leaseErrorMessage(current?.props.get("error")) : `the lease is ${state}`;
        failed.abort(new VsphereError(`${what}: lease ${lease.value} failed while uploading: ${reason}`, { cause: err }));
      }
    };
    timer = setInterval(() => {
      reporting = reporting.then(report);
    }, opts.leaseProgressIntervalMs ?? 10_000);

    let bytesSent = 0;
    for (const [i, source] of disks.entries()) {
      const device = targets[i];
      if (!device) throw new VsphereError(`${what}: no device URL for disk ${i}`);
      const target = resolveDeviceUrl(device.url, session.transport.endpoint);
      const diskWhat = `${what}: uploading disk ${i}`;
      const stream = await source();
      const before = bytesSent;
      const sent = await uploadToDeviceUrl(session, target, device.sslThumbprint, stream, diskWhat, signal, opts.stallTimeoutMs ?? 5 * 60_000, (n) => {
        bytesSent = before + n;
        opts.onProgress?.({ disk: i, diskBytesSent: n, bytesSent });
      });
      done++;
      log?.info({ lease: lease.value, disk: i, bytes: sent, capacityBytes: spec.disks[i]?.capacityBytes }, "Uploaded disk to the import lease");
    }
    clearInterval(timer);
    await reporting;
    signal.throwIfAborted();
    await session.call("HttpNfcLeaseProgress", moRefEl("_this", lease) + el("percent", 100));
    await session.call("HttpNfcLeaseComplete", moRefEl("_this", lease));
    log?.info({ lease: lease.value, ref: info.entity.value, bytes: bytesSent }, "Imported VM");
    return info.entity;
  } catch (err) {
    clearInterval(timer);
    await reporting;
    // A failure the progress timer found explains the upload's own error (aborted request).
    const cause: unknown = failed.signal.aborted ? failed.signal.reason : err;
    const reason = cause instanceof Error ? cause.message : String(cause);
    try {
      await session.call("HttpNfcLeaseAbort", moRefEl("_this", lease) + leaseAbortFaultXml(reason));
      log?.warn({ lease: lease.value, reason }, "Aborted the import lease; vCenter removes the VM it began");
    } catch (abortErr) {
      log?.warn({ lease: lease.value, reason, err: abortErr instanceof Error ? abortErr.message : String(abortErr) }, "Failed to abort the import lease");
    }
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw cause;
  }
}
