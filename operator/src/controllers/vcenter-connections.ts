import { createHash } from "node:crypto";
import type { Logger } from "../telemetry/logger.js";
import { connect, type ConnectOptions, type InventoryChange, type InventorySummary, type InventoryWatch, type VsphereClient } from "../vsphere/index.js";

/** A logged-in session to one vCenter, with the inventory counts its change feed keeps current. */
export interface VCenterConnection {
  readonly client: VsphereClient;
  readonly fingerprint: string;
  summary?: InventorySummary;
  /** Who to tell about inventory changes, by controller; `change` is undefined when the change feed failed (anything may have changed). */
  readonly listeners: Map<string, InventoryListener>;
  /** Set by the change feed; the next reconcile recounts. */
  stale: boolean;
  lastRefresh?: Date;
  watch?: InventoryWatch;
}

/** Told of a session's inventory changes. */
export type InventoryListener = (change: InventoryChange | undefined) => void;

/** A digest of everything a session depends on; the password only enters as part of a hash. */
export function connectionFingerprint(options: ConnectOptions): string {
  const { logger: _logger, ...rest } = options;
  return createHash("sha256").update(JSON.stringify(rest)).digest("hex");
}

/**
 * One session per VCenter object, reused across reconciles and replaced when
 * anything it depends on changes (address, TLS trust, or the credentials in
 * the Secret, so a rotated password takes effect without a restart). Each
 * session follows inventory changes with WaitForUpdatesEx and asks for a
 * reconcile when they arrive, instead of polling.
 */
export class VCenterConnections {
  private readonly connections = new Map<string, VCenterConnection>();
  /** Connects in progress, so two controllers asking at once share one session. */
  private readonly opening = new Map<string, Promise<VCenterConnection>>();

  constructor(private readonly log: Logger) {}

  /**
   * The session for `key`, (re)connecting when `options` changed. `listener`
   * (named, so each controller registers once) hears about inventory changes.
   */
  async get(key: string, options: ConnectOptions, listener?: { name: string; onChange: InventoryListener }): Promise<VCenterConnection> {
    const fingerprint = connectionFingerprint(options);
    let conn = this.connections.get(key);
    if (conn?.fingerprint !== fingerprint) {
      let pending = this.opening.get(key);
      if (!pending) {
        const previous = conn;
        pending = (async () => {
          const listeners = previous?.listeners ?? new Map<string, InventoryListener>();
          if (previous) await this.close(key);
          return this.open(key, options, fingerprint, listeners);
        })().finally(() => this.opening.delete(key));
        this.opening.set(key, pending);
      }
      conn = await pending;
    }
    if (listener) conn.listeners.set(listener.name, listener.onChange);
    return conn;
  }

  /**
   * Adds (or replaces) the listener `name` on the open session of `key`;
   * false when no session is open. It stays with the session's replacements.
   */
  listen(key: string, name: string, onChange: InventoryListener): boolean {
    const conn = this.connections.get(key);
    if (!conn) return false;
    conn.listeners.set(name, onChange);
    return true;
  }

  private async open(key: string, options: ConnectOptions, fingerprint: string, listeners: Map<string, InventoryListener>): Promise<VCenterConnection> {
    const client = await connect({ ...options, logger: this.log });
    const conn: VCenterConnection = { client, fingerprint, stale: true, listeners };
    conn.watch = client.watchInventory(
      (change) => {
        if (change.resync || change.updates.length > 0) {
          conn.stale = true;
          for (const notify of conn.listeners.values()) notify(change);
        }
      },
      {
        onError: (err) => {
          // Connected must not outlive the connection: recount, which fails (and says so) while vCenter is down.
          this.log.warn({ vcenter: key, err: String(err) }, "Inventory change feed failed; it retries");
          conn.stale = true;
          for (const notify of conn.listeners.values()) notify(undefined);
        },
      },
    );
    this.connections.set(key, conn);
    return conn;
  }

  /** Ends a session: stops its change feed and logs out. */
  async close(key: string): Promise<void> {
    const conn = this.connections.get(key);
    if (!conn) return;
    this.connections.delete(key);
    await conn.watch?.stop().catch(() => undefined);
    await conn.client.close().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.connections.keys()].map((k) => this.close(k)));
  }
}
