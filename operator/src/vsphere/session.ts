import type { Logger } from "pino";
import { AuthenticationFailedError, NotAuthenticatedError, VsphereError } from "./errors.js";
import type { SoapTransport } from "./soap.js";
import { child, el, moRef, moRefEl, text, type MoRef, type XmlNode } from "./xml.js";

/** What vCenter says about itself (ServiceContent.about). */
export interface AboutInfo {
  readonly name: string;
  readonly fullName: string;
  readonly vendor: string;
  readonly version: string;
  readonly build: string;
  readonly apiType: string;
  readonly apiVersion: string;
  readonly instanceUuid: string;
}

/** The service objects this client uses (part of ServiceContent). */
export interface ServiceContent {
  readonly about: AboutInfo;
  readonly rootFolder: MoRef;
  readonly propertyCollector: MoRef;
  readonly viewManager: MoRef;
  readonly sessionManager: MoRef;
  readonly searchIndex?: MoRef;
  readonly fileManager?: MoRef;
  readonly taskManager?: MoRef;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface SessionOptions {
  /** How often to touch the session so that the server does not drop it while idle (default 10 min; 0 disables). */
  readonly keepAliveMs?: number;
  readonly logger?: Logger;
}

const serviceInstance: MoRef = { type: "ServiceInstance", value: "ServiceInstance" };

/** Decodes RetrieveServiceContent's answer. Exported for unit tests. */
export function decodeServiceContent(response: XmlNode): ServiceContent {
  const rv = child(response, "returnval");
  const about = child(rv, "about");
  const need = (name: string): MoRef => {
    const ref = moRef(rv, name);
    if (!ref) throw new VsphereError(`The server's ServiceContent lacks ${name}; is this a vCenter SDK endpoint?`);
    return ref;
  };
  const optional = (name: string) => moRef(rv, name);
  return {
    about: {
      name: text(about, "name") ?? "",
      fullName: text(about, "fullName") ?? "",
      vendor: text(about, "vendor") ?? "",
      version: text(about, "version") ?? "",
      build: text(about, "build") ?? "",
      apiType: text(about, "apiType") ?? "",
      apiVersion: text(about, "apiVersion") ?? "",
      instanceUuid: text(about, "instanceUuid") ?? "",
    },
    rootFolder: need("rootFolder"),
    propertyCollector: need("propertyCollector"),
    viewManager: need("viewManager"),
    sessionManager: need("sessionManager"),
    ...spread("searchIndex", optional("searchIndex")),
    ...spread("fileManager", optional("fileManager")),
    ...spread("taskManager", optional("taskManager")),
  };
}

function spread<K extends string>(key: K, value: MoRef | undefined): Partial<Record<K, MoRef>> {
  return value ? ({ [key]: value } as Record<K, MoRef>) : {};
}

/**
 * A logged-in vim25 session. Every call goes through {@link Session.call},
 * which logs in again, once, when the server says the session is gone
 * (NotAuthenticated: expired, terminated by an administrator, or the server
 * restarted) and then repeats the call; concurrent calls share one re-login.
 * A keep-alive touches the session while the client is idle.
 */
export class Session {
  private content: ServiceContent | undefined;
  private userSessionKey: string | undefined;
  private gen = 0;
  private relogin: Promise<void> | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly transport: SoapTransport,
    private readonly credentials: Credentials,
    private readonly options: SessionOptions = {},
  ) {}

  /** Negotiates the API version, reads the ServiceContent and logs in. */
  async open(): Promise<void> {
    await this.transport.negotiateVersion();
    const res = await this.transport.invoke("RetrieveServiceContent", moRefEl("_this", serviceInstance));
    this.content = decodeServiceContent(res);
    await this.login();
    const every = this.options.keepAliveMs ?? 10 * 60_000;
    if (every > 0) {
      this.keepAlive = setInterval(() => {
        this.touch().catch((err: unknown) => {
          this.options.logger?.warn({ err: errorSummary(err) }, "Failed to keep the vCenter session alive");
        });
      }, every);
      this.keepAlive.unref();
    }
  }

  get serviceContent(): ServiceContent {
    if (!this.content) throw new VsphereError("The session is not open");
    return this.content;
  }

  /** The server-side key of the current session (changes on every re-login). */
  get sessionKey(): string | undefined {
    return this.userSessionKey;
  }

  /** Increases by one on every successful login; objects tied to a session (views, collectors) compare it. */
  get generation(): number {
    return this.gen;
  }

  private async login(): Promise<void> {
    this.transport.clearSession();
    const { username, password } = this.credentials;
    const body =
      moRefEl("_this", this.serviceContent.sessionManager) + el("userName", username) + el("password", password);
    let res: XmlNode;
    try {
      res = await this.transport.invoke("Login", body);
    } catch (err) {
      if (err instanceof AuthenticationFailedError) {
        throw new AuthenticationFailedError(
          "InvalidLogin",
          `vCenter ${this.transport.endpoint.host} refused the login of user "${username}": the user name or password is wrong`,
        );
      }
      throw this.redact(err);
    }
    this.userSessionKey = text(child(res, "returnval"), "key");
    this.gen++;
    this.options.logger?.debug({ vcenter: this.transport.endpoint.host, generation: this.gen }, "Logged in to vCenter");
  }

  /**
   * Invokes a method in this session, logging in again once if the session
   * was lost. `bodyXml` starts with the `<_this>` element.
   */
  async call(method: string, bodyXml: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<XmlNode> {
    if (this.closed) throw new VsphereError(`${method}: the vSphere client is closed`);
    return this.authenticated(() => this.transport.invoke(method, bodyXml, opts));
  }

  /**
   * Runs `attempt` (calls in this session) and, if it throws
   * NotAuthenticatedError, logs in again once and runs it again. For answers
   * that say the session is gone without a fault: RetrievePropertiesEx
   * without a session answers each property with a NotAuthenticated
   * missingSet entry, which `attempt` turns into the error.
   */
  async authenticated<T>(attempt: () => Promise<T>): Promise<T> {
    const gen = this.gen;
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof NotAuthenticatedError) || this.isClosed()) throw this.redact(err);
      await this.reestablish(gen);
      try {
        return await attempt();
      } catch (again) {
        throw this.redact(again);
      }
    }
  }

  private isClosed(): boolean {
    return this.closed;
  }

  /** Logs in again unless another call already did since `seenGeneration`. */
  async reestablish(seenGeneration: number): Promise<void> {
    if (this.gen !== seenGeneration) return;
    this.relogin ??= this.login()
      .then(() => {
        this.options.logger?.info({ vcenter: this.transport.endpoint.host }, "Re-established the vCenter session");
      })
      .finally(() => {
        this.relogin = undefined;
      });
    await this.relogin;
  }

  /** A cheap authenticated call (ServiceInstance.CurrentTime): keeps the session alive, re-logs in if needed. */
  async touch(): Promise<Date> {
    const res = await this.call("CurrentTime", moRefEl("_this", serviceInstance));
    return new Date(text(res, "returnval") ?? "");
  }

  /** Ends another session (an administrator's action; used to prove re-login). */
  async terminateSession(sessionKey: string): Promise<void> {
    await this.call("TerminateSession", moRefEl("_this", this.serviceContent.sessionManager) + el("sessionId", sessionKey));
  }

  /** Logs out and closes the connections. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.keepAlive) clearInterval(this.keepAlive);
    try {
      if (this.content && this.transport.hasSession) {
        await this.transport.invoke("Logout", moRefEl("_this", this.content.sessionManager), { timeoutMs: 10_000 });
      }
    } catch {
      // The session may already be gone; closing must not fail on that.
    } finally {
      this.transport.clearSession();
      this.transport.close();
    }
  }

  /** Removes the password from an error's message, should a server ever echo it. */
  private redact(err: unknown): unknown {
    const { password } = this.credentials;
    if (err instanceof Error && password.length > 0 && err.message.includes(password)) {
      err.message = err.message.split(password).join("[redacted]");
    }
    return err;
  }
}

/** A loggable summary of an error, without its stack. */
export function errorSummary(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: "Error", message: String(err) };
}
