import { NotAuthenticatedError, ObjectNotFoundError } from "./errors.js";
import type { Session } from "./session.js";
import {
  child,
  children,
  el,
  els,
  moRef,
  moRefEl,
  moRefOf,
  rawEl,
  text,
  typedEl,
  xsiType,
  type MoRef,
} from "./xml.js";

/**
 * The property collector: the one efficient way to read vSphere inventory.
 * {@link retrieve} reads properties of many objects with paging
 * (RetrievePropertiesEx / ContinueRetrievePropertiesEx); {@link PropertyWatch}
 * follows changes (WaitForUpdatesEx) on a collector of its own, so that
 * several watches and task waits never steal each other's updates.
 */

export interface PropertySpec {
  readonly type: string;
  readonly pathSet: readonly string[];
}

export interface SelectionSpec {
  readonly name: string;
}

export interface TraversalSpec {
  readonly name?: string;
  readonly type: string;
  readonly path: string;
  readonly skip?: boolean;
  readonly selectSet?: readonly (TraversalSpec | SelectionSpec)[];
}

export interface ObjectSpec {
  readonly obj: MoRef;
  readonly skip?: boolean;
  readonly selectSet?: readonly TraversalSpec[];
}

export interface FilterSpec {
  readonly propSet: readonly PropertySpec[];
  readonly objectSet: readonly ObjectSpec[];
}

/** One object's retrieved properties: values are the raw XML nodes, decoded by the caller. */
export interface ObjectContent {
  readonly obj: MoRef;
  readonly props: ReadonlyMap<string, unknown>;
  /** Paths the server could not read (e.g. config of an inaccessible VM). */
  readonly missing: readonly string[];
}

function isTraversal(s: TraversalSpec | SelectionSpec): s is TraversalSpec {
  return "type" in s;
}

function selectionXml(s: TraversalSpec | SelectionSpec): string {
  if (!isTraversal(s)) return typedEl("selectSet", "SelectionSpec", el("name", s.name));
  return typedEl(
    "selectSet",
    "TraversalSpec",
    el("name", s.name) + el("type", s.type) + el("path", s.path) + el("skip", s.skip ?? false) +
      (s.selectSet ?? []).map(selectionXml).join(""),
  );
}

/** Encodes a PropertyFilterSpec as the content of an element. Exported for unit tests. */
export function filterSpecXml(spec: FilterSpec): string {
  const props = spec.propSet
    .map((p) => rawEl("propSet", el("type", p.type) + el("all", false) + els("pathSet", p.pathSet)))
    .join("");
  const objects = spec.objectSet
    .map((o) => rawEl("objectSet", moRefEl("obj", o.obj) + el("skip", o.skip ?? false) + (o.selectSet ?? []).map(selectionXml).join("")))
    .join("");
  return props + objects;
}

/** Decodes the `objects` of a RetrieveResult. Exported for unit tests. */
export function decodeObjectContents(result: unknown): ObjectContent[] {
  return children(result, "objects").flatMap((o) => {
    const obj = moRef(o, "obj");
    if (!obj) return [];
    const props = new Map<string, unknown>();
    for (const p of children(o, "propSet")) {
      const name = text(p, "name");
      if (name !== undefined) props.set(name, child(p, "val"));
    }
    const missing = children(o, "missingSet").map((m) => text(m, "path") ?? "");
    return [{ obj, props, missing }];
  });
}

/**
 * A RetrieveResult whose properties were refused with NotAuthenticated (the
 * session is gone: it expired, or vCenter restarted) throws
 * NotAuthenticatedError, so that the caller logs in again instead of
 * reading an object without its properties: a VM without its snapshot tree
 * looks like a VM without snapshots. Exported for unit tests.
 */
export function throwIfUnauthenticated(result: unknown): unknown {
  for (const o of children(result, "objects")) {
    for (const m of children(o, "missingSet")) {
      if (xsiType(child(child(m, "fault"), "fault")) === "NotAuthenticated") {
        throw new NotAuthenticatedError("NotAuthenticated", `the server refused to read ${text(m, "path") ?? "a property"} of ${moRef(o, "obj")?.value ?? "an object"}: the session is not authenticated`);
      }
    }
  }
  return result;
}

/**
 * Reads the properties the spec selects, following the continuation token
 * until the server has sent everything.
 */
export async function retrieve(session: Session, spec: FilterSpec, opts: { maxObjects?: number } = {}): Promise<ObjectContent[]> {
  const pc = session.serviceContent.propertyCollector;
  const options = rawEl("options", el("maxObjects", opts.maxObjects));
  let result = await session.authenticated(async () => {
    const res = await session.call("RetrievePropertiesEx", moRefEl("_this", pc) + rawEl("specSet", filterSpecXml(spec)) + options);
    return throwIfUnauthenticated(child(res, "returnval"));
  });
  const out = decodeObjectContents(result);
  let token = text(result, "token");
  while (token) {
    const more = await session.call("ContinueRetrievePropertiesEx", moRefEl("_this", pc) + el("token", token));
    result = child(more, "returnval");
    out.push(...decodeObjectContents(result));
    token = text(result, "token");
  }
  return out;
}

/** Reads some properties of one object; throws ObjectNotFoundError when it does not exist. */
export async function retrieveOne(session: Session, obj: MoRef, pathSet: readonly string[]): Promise<ObjectContent> {
  const found = await retrieve(session, { propSet: [{ type: obj.type, pathSet }], objectSet: [{ obj }] });
  const first = found[0];
  if (!first) throw new ObjectNotFoundError("ManagedObjectNotFound", `${obj.type} ${obj.value} was not found`);
  return first;
}

/** A ContainerView of the given types under `container` (recursive), for inventory-wide specs. */
export async function createContainerView(session: Session, container: MoRef, types: readonly string[]): Promise<MoRef> {
  const res = await session.call(
    "CreateContainerView",
    moRefEl("_this", session.serviceContent.viewManager) + moRefEl("container", container) + els("type", types) + el("recursive", true),
  );
  const view = moRefOf(child(res, "returnval"));
  if (!view) throw new Error("CreateContainerView returned no view");
  return view;
}

export async function destroyView(session: Session, view: MoRef): Promise<void> {
  await session.call("DestroyView", moRefEl("_this", view));
}

/** The ObjectSpec that selects every object of a ContainerView. */
export function viewObjectSpec(view: MoRef): ObjectSpec {
  return { obj: view, skip: true, selectSet: [{ name: "traverseView", type: "ContainerView", path: "view", skip: false }] };
}

/**
 * Runs `use` with a fresh ContainerView and destroys the view afterwards
 * (views live in the session and would pile up otherwise).
 */
export async function withContainerView<T>(session: Session, types: readonly string[], use: (view: MoRef) => Promise<T>): Promise<T> {
  const view = await createContainerView(session, session.serviceContent.rootFolder, types);
  try {
    return await use(view);
  } finally {
    await destroyView(session, view).catch(() => undefined);
  }
}

export interface PropertyChange {
  readonly name: string;
  /** add, remove, assign, indirectRemove */
  readonly op: string;
  /** Raw XML node of the new value (undefined for remove). */
  readonly val: unknown;
}

export interface ObjectUpdate {
  /** enter (now matched), modify, leave (no longer matched, e.g. deleted). */
  readonly kind: "enter" | "modify" | "leave";
  readonly obj: MoRef;
  readonly changes: readonly PropertyChange[];
}

/** Decodes an UpdateSet. Exported for unit tests. */
export function decodeUpdateSet(updateSet: unknown): { version: string; updates: ObjectUpdate[]; truncated: boolean } {
  const updates: ObjectUpdate[] = [];
  for (const filter of children(updateSet, "filterSet")) {
    for (const o of children(filter, "objectSet")) {
      const obj = moRef(o, "obj");
      const kind = text(o, "kind");
      if (!obj || (kind !== "enter" && kind !== "modify" && kind !== "leave")) continue;
      const changes = children(o, "changeSet").map((c) => ({ name: text(c, "name") ?? "", op: text(c, "op") ?? "assign", val: child(c, "val") }));
      updates.push({ kind, obj, changes });
    }
  }
  return { version: text(updateSet, "version") ?? "", updates, truncated: text(updateSet, "truncated") === "true" };
}

/**
 * Follows changes to the objects a filter spec selects, on a property
 * collector of its own. The first {@link next} reports every matched object
 * as "enter" with its current values; later calls report changes.
 */
export class PropertyWatch {
  private version = "";

  private constructor(
    private readonly session: Session,
    private readonly collector: MoRef,
  ) {}

  static async start(session: Session, spec: FilterSpec): Promise<PropertyWatch> {
    const res = await session.call("CreatePropertyCollector", moRefEl("_this", session.serviceContent.propertyCollector));
    const collector = moRefOf(child(res, "returnval"));
    if (!collector) throw new Error("CreatePropertyCollector returned no collector");
    const watch = new PropertyWatch(session, collector);
    try {
      await session.call("CreateFilter", moRefEl("_this", collector) + rawEl("spec", filterSpecXml(spec)) + el("partialUpdates", false));
    } catch (err) {
      await watch.destroy();
      throw err;
    }
    return watch;
  }

  /**
   * Waits up to `maxWaitSeconds` for changes. Resolves with the updates, or
   * an empty list when nothing changed in that time.
   */
  async next(maxWaitSeconds: number, signal?: AbortSignal): Promise<ObjectUpdate[]> {
    const body =
      moRefEl("_this", this.collector) + el("version", this.version) + rawEl("options", el("maxWaitSeconds", maxWaitSeconds));
    const res = await this.session.call("WaitForUpdatesEx", body, {
      timeoutMs: (maxWaitSeconds + 30) * 1000,
      ...(signal ? { signal } : {}),
    });
    const set = child(res, "returnval");
    if (set === undefined) return [];
    const decoded = decodeUpdateSet(set);
    this.version = decoded.version;
    return decoded.updates;
  }

  /** Ends a pending WaitForUpdatesEx (the waiting call then returns without updates). */
  async cancel(): Promise<void> {
    await this.session.call("CancelWaitForUpdates", moRefEl("_this", this.collector)).catch(() => undefined);
  }

  /** Destroys the collector and its filters. */
  async destroy(): Promise<void> {
    await this.session.call("DestroyPropertyCollector", moRefEl("_this", this.collector)).catch(() => undefined);
  }
}
