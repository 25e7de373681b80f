import net from 'node:net';
import tls from 'node:tls';
import { isPipeError, PipeError } from '../errors.js';
import { MaildirStore, type MaildirStoreOptions, type MailboxState as StoreState } from '../maildir/maildir-store.js';
import { Announcer } from '../maildir/watch/announcer.js';
import { MaildirWatcher, type MaildirWatcherOptions } from '../maildir/watch/tree-watcher.js';
import { isInterestPipe, type Meta, type PipeStatus, type UpdatePipe } from '../pipe/update-pipe.js';
import type { MailboxState } from '../tracker/mailbox-state.js';
import type { SessionTracker } from '../tracker/session-tracker.js';
import { TrackerRegistry } from '../tracker/registry.js';
import type { Update } from '../update/update.js';
import { DEFAULT_READER_LIMITS, type ReaderLimits } from './command-reader.js';
import { MessageSizes } from './message-size.js';
import { ImapSession } from './session.js';
import type { TlsCredentials } from './tls.js';
import type { Credentials } from './users.js';

export interface ImapServerOptions {
  /** The Maildir++ root. */
  maildir: string;
  storeOptions?: Omit<MaildirStoreOptions, 'announce'>;
  /**
   * Watch the Maildir for changes other tools make (on by default): this process joins
   * the election of the tree's one announcer. `false` leaves that to someone else.
   */
  watch?: Omit<MaildirWatcherOptions, 'announcer' | 'log'> | false;
  users: Credentials;
  /** Where other processes' changes come from and ours go to; null runs stand-alone. */
  pipe: UpdatePipe | null;
  limits?: Partial<ReaderLimits>;
  maxConnections?: number;
  /** Failed logins before a connection is dropped. */
  maxLoginFailures?: number;
  log?: (line: string) => void;
  /** Called for every update that arrives from the pipe (metrics). */
  onPipeUpdate?: (meta: Meta) => void;
  /** A certificate: STARTTLS on the plain listener, and `listenTls` for implicit TLS. */
  tls?: TlsCredentials;
  /**
   * With a certificate, LOGIN and AUTHENTICATE are refused until STARTTLS (LOGINDISABLED,
   * RFC 9051 §6.2.3) unless this is set.
   */
  allowPlaintext?: boolean;
}

export const HIERARCHY_DELIMITER = '/';

/** What a session needs from the server it belongs to. */
export interface ServerContext {
  readonly store: MaildirStore;
  readonly users: Credentials;
  readonly registry: TrackerRegistry;
  readonly limits: ReaderLimits;
  readonly maxLoginFailures: number;
  readonly tls: TlsCredentials | null;
  /** LOGIN and AUTHENTICATE may be used without TLS. */
  readonly allowPlaintext: boolean;
  /** RFC822.SIZE of messages, found once. */
  readonly sizes: MessageSizes;
  /** A session selected (`on`) or left a mailbox: pipes that filter by interest follow. */
  interest(user: string, mailbox: string, on: boolean): Promise<void>;
  /** Applies this process' own change to its sessions and pushes it to the pipe. */
  publish(u: Update, exclude?: SessionTracker): void;
  log(line: string): void;
}

export function trackerState(s: StoreState): MailboxState {
  return {
    uidValidity: s.uidValidity,
    uidNext: s.uidNext,
    highestModseq: s.highestModseq,
    uids: s.messages.map((m) => m.uid),
    flags: new Map(s.messages.map((m) => [m.uid, m.flags])),
    modseqs: new Map(s.messages.map((m) => [m.uid, m.modseq])),
  };
}

/**
 * The reference IMAP server: Maildir storage, a tracker per selected mailbox, and a pipe
 * that carries changes between it and every other process touching the same storage.
 */
export class ImapServer implements ServerContext {
  readonly store: MaildirStore;
  readonly users: Credentials;
  readonly registry: TrackerRegistry;
  readonly limits: ReaderLimits;
  readonly maxLoginFailures: number;
  readonly sizes = new MessageSizes();
  readonly tls: TlsCredentials | null;
  readonly allowPlaintext: boolean;
  private readonly pipe: UpdatePipe | null;
  private readonly server: net.Server;
  private tlsServer: tls.Server | null = null;
  private stopReloads: (() => void) | null = null;
  private readonly sessions = new Set<ImapSession>();
  private readonly maxConnections: number;
  private readonly logFn: (line: string) => void;
  private readonly onPipeUpdate: ((meta: Meta) => void) | undefined;
  /** Pushes what scans found that other tools did; every session here hears it first. */
  readonly announcer: Announcer;
  readonly watcher: MaildirWatcher | null;

  constructor(o: ImapServerOptions) {
    this.store = new MaildirStore(o.maildir, { ...o.storeOptions, announce: (a) => void this.announcer.announce(a) });
    this.users = o.users;
    this.pipe = o.pipe;
    this.limits = { ...DEFAULT_READER_LIMITS, ...o.limits };
    this.maxConnections = o.maxConnections ?? 1000;
    this.maxLoginFailures = o.maxLoginFailures ?? 3;
    this.logFn = o.log ?? (() => {});
    this.onPipeUpdate = o.onPipeUpdate;
    this.tls = o.tls ?? null;
    this.allowPlaintext = o.allowPlaintext ?? false;
    this.registry = new TrackerRegistry({
      hierarchyDelimiter: HIERARCHY_DELIMITER,
      onResyncNeeded: (t) => {
        this.store.sync(t.user, t.mailbox).then(
          (s) => t.resync(trackerState(s)),
          (err: unknown) => {
            this.log(`resync of ${t.user}/${t.mailbox} failed: ${(err as Error).message}`);
            if (isPipeError(err, 'BAD_INPUT')) t.end('deleted');
            else t.resyncFailed();
          },
        );
      },
    });
    const pipe = this.pipe;
    this.announcer = new Announcer({
      push: pipe ? (u) => pipe.push(u) : async () => {},
      apply: (u) => this.registry.apply(u),
      log: (line) => this.log(line),
    });
    this.watcher = o.watch === false ? null : new MaildirWatcher(this.store, { ...o.watch, announcer: this.announcer, log: (line) => this.log(line) });
    this.server = net.createServer((socket) => this.accept(socket, false));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  log(line: string): void {
    this.logFn(line);
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    if (this.pipe) {
      this.pipe.on('status', (s: PipeStatus) => this.log(`pipe ${s.type}: ${s.detail}`));
      const apply = this.registry.handler();
      const observe = this.onPipeUpdate;
      await this.pipe.listen(observe ? (u, meta) => (observe(meta), apply(u, meta)) : apply);
    }
    if (this.watcher) {
      this.watcher.on('role', (role: string, detail: string) => this.log(`watcher ${role}: ${detail}`));
      await this.watcher.start();
    }
    return bind(this.server, host, port);
  }

  /** Implicit TLS (RFC 8314 §3.3, port 993) beside the plain listener; needs `tls`. */
  async listenTls(host: string, port: number): Promise<{ host: string; port: number }> {
    const creds = this.tls;
    if (!creds) throw new PipeError('USAGE', 'an implicit TLS listener needs a certificate (--tls-cert and --tls-key)');
    if (this.tlsServer) throw new PipeError('USAGE', 'already listening for TLS');
    const server = tls.createServer({ ...creds.options, handshakeTimeout: 30_000 }, (socket) => this.accept(socket, true));
    // A failed handshake (a plaintext client, a scanner) ends that connection only.
    server.on('tlsClientError', (err) => this.log(`TLS handshake failed: ${err.message}`));
    this.stopReloads = creds.onReload((options) => server.setSecureContext(options));
    this.tlsServer = server;
    return bind(server, host, port);
  }

  async interest(user: string, mailbox: string, on: boolean): Promise<void> {
    const pipe = this.pipe;
    if (!pipe || !isInterestPipe(pipe)) return;
    await (on ? pipe.watch(user, mailbox) : pipe.unwatch(user, mailbox)).catch((err: unknown) => this.log(`interest ${user}/${mailbox}: ${(err as Error).message}`));
  }

  publish(u: Update, exclude?: SessionTracker): void {
    this.registry.apply(u, exclude ? { exclude } : {});
    this.pipe?.push(u).catch((err: unknown) => {
      // Our sessions already know; other processes will read storage when they select.
      if (!isPipeError(err, 'NO_LISTENER')) this.log(`push failed: ${(err as Error).message}`);
    });
  }

  private accept(socket: net.Socket, secure: boolean): void {
    if (this.sessions.size >= this.maxConnections) {
      socket.end('* BYE Too many connections\r\n');
      return;
    }
    const session = new ImapSession(socket, this, secure);
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
  }

  async close(): Promise<void> {
    this.stopReloads?.();
    const closed = [this.server, this.tlsServer].map((srv) => srv && srv.listening && new Promise<void>((r) => srv.close(() => r())));
    for (const s of this.sessions) s.shutdown('Server shutting down');
    await Promise.all(closed);
    await this.watcher?.close();
    await this.announcer.close();
    await this.pipe?.close();
  }
}

async function bind(server: net.Server, host: string, port: number): Promise<{ host: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return { host: addr.address, port: addr.port };
}
