/**
 * The pure part of counting API requests for `npm run bench:scale`: reading
 * the API server's audit log (JSON lines, audit.k8s.io/v1 Events) and
 * counting one user's requests in a time window, by verb and resource, per
 * minute, with the LISTs and WATCHes that show a relist storm.
 *
 * Why the audit log: kube-apiserver's own `apiserver_request_total` does not
 * say which client made a request, and "the operator makes almost no
 * requests at rest" is a claim about one client. The audit log is the API
 * server's record of every request with its authenticated user, so counting
 * the operator's ServiceAccount there is counting what the API server saw,
 * not what the operator believes it sent. Kept apart from the process-running
 * code so that it is unit tested (audit.test.ts): a miscounted window would
 * make the benchmark lie without anyone noticing.
 */

/** One API request as the audit log records it (the first event seen for its audit ID). */
export interface AuditRequest {
  readonly auditId: string;
  /** When the API server received it (ms since the epoch): what places it in a window. */
  readonly receivedAt: number;
  readonly user: string;
  /** get, list, watch, create, update, patch, delete, deletecollection; or the HTTP verb of a non-resource URL. */
  readonly verb: string;
  /** "backupplans", "backupplans/status", "leases"; a non-resource request is its path ("/readyz"). */
  readonly resource: string;
  readonly namespace?: string;
  readonly code?: number;
}

/** The fields of an audit event this module reads. */
interface AuditEvent {
  kind?: string;
  auditID?: string;
  stage?: string;
  verb?: string;
  requestURI?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
}

/**
 * The request one audit log line records, or undefined for a line that is
 * not an audit event (a line cut short while the log was being written is
 * one). RequestReceived events are skipped: the bench's policy omits that
 * stage, and a request is only known to have been served once it has a
 * response.
 */
export function parseAuditLine(line: string): AuditRequest | undefined {
  if (!line.startsWith("{")) return undefined;
  let e: AuditEvent;
  try {
    e = JSON.parse(line) as AuditEvent;
  } catch {
    return undefined;
  }
  if (e.kind !== "Event" || !e.auditID || !e.verb || !e.requestReceivedTimestamp || e.stage === "RequestReceived") return undefined;
  const receivedAt = Date.parse(e.requestReceivedTimestamp);
  if (Number.isNaN(receivedAt)) return undefined;
  const ref = e.objectRef;
  const resource = ref?.resource
    ? ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource
    : (e.requestURI ?? "").split("?")[0] ?? "";
  return {
    auditId: e.auditID,
    receivedAt,
    user: e.user?.username ?? "",
    verb: e.verb,
    resource,
    ...(ref?.namespace ? { namespace: ref.namespace } : {}),
    ...(e.responseStatus?.code !== undefined ? { code: e.responseStatus.code } : {}),
  };
}

/**
 * Collects requests from audit log lines, each request once: a long-running
 * request (a WATCH) has two events, ResponseStarted when it begins and
 * ResponseComplete when it ends, both with its audit ID.
 */
export class AuditRequests {
  private readonly seen = new Set<string>();
  readonly requests: AuditRequest[] = [];

  /** Adds the request of one log line, if the line holds one not seen before. */
  addLine(line: string): void {
    const r = parseAuditLine(line);
    if (!r || this.seen.has(r.auditId)) return;
    this.seen.add(r.auditId);
    this.requests.push(r);
  }
}

/** A time window [from, to) in ms since the epoch. */
export interface Window {
  readonly from: number;
  readonly to: number;
}

/** The resource a leader-election Lease lives in: its renewals are a heartbeat, counted apart. */
export const LEASE_RESOURCE = "leases";

/** One user's requests in a window. */
export interface WindowCount {
  readonly minutes: number;
  readonly total: number;
  /** Requests on Leases (leader election: a GET and an UPDATE every retry period, whatever the cluster holds). */
  readonly lease: number;
  /** Everything else: what the controllers themselves asked for. */
  readonly controllers: number;
  /** "verb resource" → count, largest first. */
  readonly byVerbResource: readonly (readonly [string, number])[];
  /** LIST requests by resource: an informer lists only at start and after a 410, so at rest any is a poll. */
  readonly lists: ReadonlyMap<string, number>;
  /** WATCH requests (re-established watches) by resource. */
  readonly watches: ReadonlyMap<string, number>;
  /** Requests in each whole minute from the window's start (the last one may be partial). */
  readonly perMinute: readonly number[];
  /** Responses that were not 2xx, by code. */
  readonly failures: ReadonlyMap<number, number>;
}

function bump<K>(m: Map<K, number>, k: K, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

/** Counts `user`'s requests received in `window`. */
export function countWindow(requests: Iterable<AuditRequest>, user: string, window: Window): WindowCount {
  if (!(window.to > window.from)) throw new Error(`An empty window (${window.from} to ${window.to}) holds no requests to count`);
  const minutes = (window.to - window.from) / 60_000;
  const perMinute = new Array<number>(Math.ceil(minutes)).fill(0);
  const byVerbResource = new Map<string, number>();
  const lists = new Map<string, number>();
  const watches = new Map<string, number>();
  const failures = new Map<number, number>();
  let total = 0;
  let lease = 0;
  for (const r of requests) {
    if (r.user !== user || r.receivedAt < window.from || r.receivedAt >= window.to) continue;
    total++;
    if (r.resource === LEASE_RESOURCE) lease++;
    const minute = Math.floor((r.receivedAt - window.from) / 60_000);
    perMinute[minute] = (perMinute[minute] ?? 0) + 1;
    bump(byVerbResource, `${r.verb} ${r.resource}`);
    if (r.verb === "list") bump(lists, r.resource);
    if (r.verb === "watch") bump(watches, r.resource);
    if (r.code !== undefined && (r.code < 200 || r.code >= 300)) bump(failures, r.code);
  }
  return {
    minutes,
    total,
    lease,
    controllers: total - lease,
    byVerbResource: [...byVerbResource.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
    lists,
    watches,
    perMinute,
    failures,
  };
}

/** Requests per minute, by user, in a window: who else talks to the API server meanwhile. */
export function usersInWindow(requests: Iterable<AuditRequest>, window: Window): [string, number][] {
  const byUser = new Map<string, number>();
  for (const r of requests) if (r.receivedAt >= window.from && r.receivedAt < window.to) bump(byUser, r.user);
  const minutes = (window.to - window.from) / 60_000;
  return [...byUser.entries()].map(([u, n]): [string, number] => [u, n / minutes]).sort((a, b) => b[1] - a[1]);
}

/** What makes a relist storm, and what was seen. */
export interface RelistVerdict {
  readonly storm: boolean;
  /** One line per resource that was listed, or whose watch was re-established more than once. */
  readonly findings: readonly string[];
}

/**
 * Whether a window shows a relist storm. An informer lists a resource when
 * it starts and again only after the API server answers 410 Gone; a watch
 * that ends (the API server closes each after 30 to 60 minutes with its
 * default --min-request-timeout) is resumed from its resourceVersion with a
 * new WATCH and no LIST. So at rest, for a window of up to 30 minutes:
 * - any repeated LIST of one resource is a poll that lists, which at scale
 *   moves whole collections (a storm);
 * - more than one WATCH of a resource means watches keep failing (each failed
 *   watch that cannot resume relists).
 * A single LIST is reported but is not a storm (one relist after a 410 is the
 * informer working as designed).
 */
export function relistVerdict(count: WindowCount): RelistVerdict {
  const findings: string[] = [];
  let storm = false;
  for (const [resource, n] of [...count.lists.entries()].sort((a, b) => b[1] - a[1])) {
    findings.push(`${n} LIST of ${resource} (${(n / count.minutes).toFixed(2)}/min)`);
    if (n > 1) storm = true;
  }
  for (const [resource, n] of [...count.watches.entries()].sort((a, b) => b[1] - a[1])) {
    if (n <= 1) continue;
    findings.push(`${n} WATCH of ${resource}`);
    storm = true;
  }
  return { storm, findings };
}
