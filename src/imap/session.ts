import type net from 'node:net';
import tls from 'node:tls';
import { isPipeError, PipeError } from '../errors.js';
import type { FlagChange, MessageInfo, MailboxState as StoreMailboxState } from '../maildir/maildir-store.js';
import type { SessionTracker } from '../tracker/session-tracker.js';
import { formatUntagged, formatUntaggedLines, type UntaggedResponse } from '../tracker/untagged.js';
import { UidSet } from '../update/uid-set.js';
import { validateFlags, validateUpdate, type Flag } from '../update/update.js';
import { CommandReader, type Part, type ReaderEvent } from './command-reader.js';
import { parseFetchModifiers, parseSelectParams, parseStoreModifier, vanishedUids, type QresyncParams } from './condstore.js';
import { needsContent, parseFetchItems, renderFetch, setsSeen, type FetchItem } from './fetch.js';
import { listLines, lsubLines, parseListArgs } from './mailbox-list.js';
import { compileSearch, UnknownCharsetError } from './search.js';
import { resolveSet } from './sequence.js';
import { HIERARCHY_DELIMITER, trackerState, type ServerContext } from './server.js';
import { astring, ImapSyntaxError, imapString, tokenize, type Token } from './tokens.js';
import { verifyPassword } from './users.js';
import { decodeMailboxName, encodeMailboxName } from './utf7.js';

const EXTENSIONS = 'IDLE UIDPLUS UNSELECT NAMESPACE ID CHILDREN LIST-EXTENDED ENABLE CONDSTORE QRESYNC';
/** What ENABLE can turn on (RFC 5161); anything else asked for is ignored, as RFC 5161 says. */
const ENABLEABLE = ['CONDSTORE', 'QRESYNC'] as const;
const SYSTEM_FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';
const SYSTEM_FLAG_NAMES: ReadonlySet<string> = new Set(SYSTEM_FLAGS.toLowerCase().split(' '));
const AUTOLOGOUT_MS = 30 * 60_000;
const TAG = /^[\x21-\x7e]+$/;

type State = 'notauth' | 'auth' | 'selected' | 'logout';

const UID_COMMANDS: ReadonlySet<string> = new Set(['FETCH', 'STORE', 'SEARCH', 'COPY', 'EXPUNGE']);
const SELECTED_COMMANDS: ReadonlySet<string> = new Set([...UID_COMMANDS, 'CLOSE', 'UNSELECT']);

interface Selected {
  tracker: SessionTracker;
  mailbox: string;
  readOnly: boolean;
  uidValidity: number;
  /** Keywords the client was told of in FLAGS (lower case): a new one means a new FLAGS. */
  keywords: Set<string>;
}

/** A command's result: its tagged status line, and whether expunges may be sent before it. */
interface Done {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  allowExpunge: boolean;
}

const ok = (text: string, allowExpunge = true): Done => ({ status: 'OK', text, allowExpunge });
const no = (text: string): Done => ({ status: 'NO', text, allowExpunge: false });

/** One client connection: IMAP4rev1 as far as imapflow, Thunderbird and the tests need. */
export class ImapSession {
  private state: State = 'notauth';
  private user: string | null = null;
  private selected: Selected | null = null;
  private readonly queue: Part[][] = [];
  private busy = false;
  private idling: { tag: string; stop: () => void } | null = null;
  private authenticating: { tag: string } | null = null;
  private loginFailures = 0;
  /** Set when the connection must end right after the current tagged reply. */
  private byeAfterReply: string | null = null;
  /** RFC 7162: the client used a CONDSTORE-enabling command; every FETCH it gets carries MODSEQ. */
  private condstore = false;
  /** RFC 7162: ENABLE QRESYNC; expunges are reported as VANISHED. */
  private qresync = false;
  private reader: CommandReader;
  private readonly onData = (c: Buffer): void => this.reader.push(c);

  constructor(
    private socket: net.Socket,
    private readonly ctx: ServerContext,
    /** TLS is in place (implicit TLS, or after STARTTLS). */
    private secure = false,
  ) {
    this.reader = this.newReader();
    socket.on('data', this.onData);
    socket.on('error', () => {});
    socket.on('close', () => this.cleanup());
    socket.setTimeout(AUTOLOGOUT_MS, () => this.shutdown('Autologout; idle for too long'));
    this.write(`* OK [CAPABILITY ${this.capabilities()}] updatepipe reference IMAP server ready\r\n`);
  }

  /** A reader whose events count only while it is the session's reader (see STARTTLS). */
  private newReader(): CommandReader {
    const reader: CommandReader = new CommandReader((e) => {
      if (this.reader === reader) this.onReader(e);
    }, this.ctx.limits);
    return reader;
  }

  /** With a certificate and no TLS yet, credentials must not be sent (unless allowed). */
  private get plaintextRefused(): boolean {
    return this.ctx.tls !== null && !this.secure && !this.ctx.allowPlaintext;
  }

  private capabilities(): string {
    const starttls = this.ctx.tls !== null && !this.secure && this.state === 'notauth';
    return `IMAP4rev1 LITERAL+ SASL-IR ${starttls ? 'STARTTLS ' : ''}${this.plaintextRefused ? 'LOGINDISABLED' : 'AUTH=PLAIN'} ${EXTENSIONS}`;
  }

  /**
   * STARTTLS (RFC 9051 §6.2.1): the OK in plaintext, then the handshake on the same
   * connection. Whatever the client sent after the command before TLS is dropped unread:
   * a man in the middle could have added it (the CVE-2011-0411 class of bugs).
   */
  private startTls(tag: string): Done | null {
    const creds = this.ctx.tls;
    if (!creds) return no('STARTTLS is not available on this server (no certificate)');
    if (this.secure) return { status: 'BAD', text: 'TLS is active already', allowExpunge: false };
    // The old reader may be in the middle of the very chunk that carried STARTTLS: from now
    // on nothing it parses counts (see newReader), and nothing already queued runs.
    this.queue.length = 0;
    this.reader = this.newReader();
    const plain = this.socket;
    plain.off('data', this.onData);
    plain.write(`${tag} OK begin TLS negotiation now\r\n`);
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: creds.secureContext });
    secure.on('data', this.onData);
    secure.on('error', (err) => {
      this.ctx.log(`STARTTLS handshake failed: ${err.message}`);
      plain.destroy();
    });
    this.socket = secure;
    this.secure = true;
    return null;
  }

  shutdown(reason: string): void {
    if (this.socket.destroyed) return;
    this.write(`* BYE ${reason}\r\n`);
    this.socket.end();
    this.state = 'logout';
  }

  private write(data: string | Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
  }

  private cleanup(): void {
    this.idling?.stop();
    this.idling = null;
    this.unselect();
    this.state = 'logout';
  }

  /** Leaves the selected mailbox, if any. */
  private unselect(): void {
    const sel = this.selected;
    if (!sel) return;
    sel.tracker.close();
    void this.ctx.interest(this.user!, sel.mailbox, false);
    this.selected = null;
  }

  private onReader(e: ReaderEvent): void {
    if (e.kind === 'continue') return this.write('+ Ready for literal data\r\n');
    if (e.kind === 'error') {
      if (e.fatal) return this.shutdown(e.message);
      return this.write(`${e.tag && TAG.test(e.tag) ? e.tag : '*'} BAD ${e.message}\r\n`);
    }
    this.queue.push(e.parts);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && this.state !== 'logout') {
        const parts = this.queue.shift()!;
        try {
          await this.handle(parts);
        } catch (err) {
          this.ctx.log(`session error: ${(err as Error).stack ?? err}`);
          this.write('* BAD internal error\r\n');
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async handle(parts: Part[]): Promise<void> {
    const line = parts.length === 1 && typeof parts[0] === 'string' ? parts[0] : null;
    if (this.idling) {
      const { tag, stop } = this.idling;
      if (line?.toUpperCase() !== 'DONE') return this.write(`${tag} BAD expected DONE\r\n`);
      stop();
      this.idling = null;
      this.flush(true);
      return this.write(`${tag} OK IDLE terminated\r\n`);
    }
    if (this.authenticating) {
      const { tag } = this.authenticating;
      this.authenticating = null;
      if (line === '*') return this.write(`${tag} BAD authentication cancelled\r\n`);
      return this.finish(tag, await this.authPlain(line ?? ''));
    }
    let tokens: Token[];
    try {
      tokens = tokenize(parts);
    } catch (err) {
      const tag = line?.split(' ', 1)[0];
      return this.write(`${tag && TAG.test(tag) ? tag : '*'} BAD ${(err as Error).message}\r\n`);
    }
    const tagTok = tokens[0];
    const nameTok = tokens[1];
    if (!tagTok || tagTok.t !== 'atom' || !TAG.test(tagTok.v) || tagTok.v.includes('+')) return this.write('* BAD missing or invalid tag\r\n');
    const tag = tagTok.v;
    if (!nameTok || nameTok.t !== 'atom') return this.write(`${tag} BAD command expected\r\n`);
    let name = nameTok.v.toUpperCase();
    let args = tokens.slice(2);
    let byUid = false;
    if (name === 'UID') {
      const sub = args[0];
      if (!sub || sub.t !== 'atom') return this.write(`${tag} BAD UID what?\r\n`);
      name = sub.v.toUpperCase();
      args = args.slice(1);
      byUid = true;
    }
    let done: Done | null;
    try {
      done = await this.dispatch(tag, name, args, byUid);
    } catch (err) {
      if (err instanceof ImapSyntaxError) done = { status: 'BAD', text: err.message, allowExpunge: false };
      else if (err instanceof PipeError && (err.code === 'BAD_INPUT' || err.code === 'USAGE')) done = no(err.message);
      else {
        this.ctx.log(`${name} failed: ${(err as Error).stack ?? err}`);
        done = no('[SERVERBUG] internal error');
      }
    }
    if (done) this.finish(tag, done);
  }

  private finish(tag: string, done: Done): void {
    if (done.status !== 'BAD') this.flush(done.allowExpunge);
    this.write(`${tag} ${done.status} ${done.text}\r\n`);
    if (this.byeAfterReply) this.shutdown(this.byeAfterReply);
  }

  /** Sends what the tracker has for this session; a BYE among it ends the connection. */
  private flush(allowExpunge: boolean): void {
    const sel = this.selected;
    if (!sel) return;
    const rs: UntaggedResponse[] = sel.tracker.poll({ allowExpunge });
    if (rs.length === 0) return;
    this.write(formatUntaggedLines(rs, { modseq: this.condstore, vanished: this.qresync }));
    if (rs.some((r) => r.kind === 'bye')) {
      this.unselect();
      this.socket.end();
      this.state = 'logout';
    }
  }

  private async dispatch(tag: string, name: string, args: Token[], byUid: boolean): Promise<Done | null> {
    const anyState: Record<string, () => Promise<Done | null> | Done | null> = {
      CAPABILITY: () => (this.write(`* CAPABILITY ${this.capabilities()}\r\n`), ok('CAPABILITY completed')),
      NOOP: () => ok('NOOP completed'),
      CHECK: () => ok('CHECK completed'),
      ID: () => (this.write('* ID ("name" "updatepipe")\r\n'), ok('ID completed')),
      LOGOUT: () => {
        this.write('* BYE Logging out\r\n');
        this.write(`${tag} OK LOGOUT completed\r\n`);
        this.state = 'logout';
        this.socket.end();
        return null;
      },
    };
    const any = anyState[name];
    if (any && !byUid) return any();
    if (this.state === 'notauth') {
      if (byUid) return { status: 'BAD', text: 'log in first', allowExpunge: false };
      if (name === 'STARTTLS') return this.startTls(tag);
      if ((name === 'LOGIN' || name === 'AUTHENTICATE') && this.plaintextRefused) return no('[PRIVACYREQUIRED] use STARTTLS first');
      if (name === 'LOGIN') return this.login(astring(args[0], 'user'), astring(args[1], 'password'));
      if (name === 'AUTHENTICATE') {
        const mech = astring(args[0], 'mechanism').toUpperCase();
        if (mech !== 'PLAIN') return no('[CANNOT] only AUTH=PLAIN is supported');
        if (args[1]) return this.authPlain(astring(args[1], 'initial response'));
        this.authenticating = { tag };
        this.write('+ \r\n');
        return null;
      }
      return { status: 'BAD', text: `${name} not allowed before LOGIN`, allowExpunge: false };
    }
    if (byUid) {
      if (!this.selected) return { status: 'BAD', text: 'no mailbox selected', allowExpunge: false };
      if (!UID_COMMANDS.has(name)) return { status: 'BAD', text: `UID ${name} is not supported`, allowExpunge: false };
      return this.selectedCommand(name, args, true);
    }
    switch (name) {
      case 'LOGIN':
      case 'AUTHENTICATE':
        return { status: 'BAD', text: 'already authenticated', allowExpunge: false };
      case 'NAMESPACE':
        this.write(`* NAMESPACE (("" "${HIERARCHY_DELIMITER}")) NIL NIL\r\n`);
        return ok('NAMESPACE completed');
      case 'ENABLE':
        return this.enable(args);
      case 'LIST':
        return this.list(args);
      case 'LSUB':
        return this.lsub(astring(args[0], 'reference'), astring(args[1], 'mailbox pattern'));
      case 'STATUS':
        return this.status(this.mailboxArg(args[0]), args[1]);
      case 'CREATE':
        return this.mailboxOp('create', this.mailboxArg(args[0]));
      case 'DELETE':
        return this.mailboxOp('delete', this.mailboxArg(args[0]));
      case 'RENAME':
        return this.mailboxOp('rename', this.mailboxArg(args[0]), this.mailboxArg(args[1]));
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE':
        return this.subscription(name === 'SUBSCRIBE' ? 'subscribe' : 'unsubscribe', this.mailboxArg(args[0]));
      case 'APPEND':
        return this.append(args);
      case 'SELECT':
      case 'EXAMINE':
        if (args.length > 2) throw new ImapSyntaxError(`unexpected ${name} arguments`);
        return this.select(this.mailboxArg(args[0]), name === 'EXAMINE', args[1]);
      case 'IDLE':
        return this.idle(tag);
    }
    if (!SELECTED_COMMANDS.has(name)) return { status: 'BAD', text: `unknown command ${name.slice(0, 30)}`, allowExpunge: false };
    if (!this.selected) return { status: 'BAD', text: `${name} needs a selected mailbox`, allowExpunge: false };
    return this.selectedCommand(name, args, false);
  }

  /** Commands of the selected state, plain or (where IMAP allows) with the UID prefix. */
  private async selectedCommand(name: string, args: Token[], byUid: boolean): Promise<Done> {
    switch (name) {
      case 'FETCH':
        return this.fetch(args, byUid);
      case 'STORE':
        return this.store(args, byUid);
      case 'SEARCH':
        return this.search(args, byUid);
      case 'COPY':
        return this.copy(args, byUid);
      case 'EXPUNGE':
        return this.expunge(byUid ? astring(args[0], 'UID set') : null);
      default: {
        // CLOSE / UNSELECT
        const sel = this.selected!;
        if (name === 'CLOSE' && !sel.readOnly) await this.removeDeleted(sel, null, false);
        this.unselect();
        this.state = 'auth';
        return ok(`${name} completed`);
      }
    }
  }

  /** RFC 5161 ENABLE: CONDSTORE and QRESYNC (which implies CONDSTORE); others are ignored. */
  private enable(args: Token[]): Done {
    if (args.length === 0) throw new ImapSyntaxError('ENABLE needs capability names');
    const asked = new Set(args.map((a) => (a.t === 'atom' ? a.v.toUpperCase() : '')));
    const enabled = ENABLEABLE.filter((c) => asked.has(c));
    if (enabled.includes('QRESYNC')) this.qresync = true;
    if (enabled.length > 0) this.enableCondstore();
    // As Dovecot: everything asked for that is known, enabled before or not.
    this.write(`* ENABLED${enabled.map((c) => ' ' + c).join('')}\r\n`);
    return ok('Enabled');
  }

  /** A CONDSTORE-enabling command ran (RFC 7162 §3.1): MODSEQ in every FETCH from now on. */
  private enableCondstore(): void {
    this.condstore = true;
    this.selected?.tracker.wantModseq();
  }

  private mailboxArg(tok: Token | undefined): string {
    const raw = astring(tok, 'mailbox name');
    const name = decodeMailboxName(raw);
    if (name === null || name === '') throw new ImapSyntaxError('bad mailbox name');
    return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  }

  // ---- authentication ------------------------------------------------------------------

  private async login(user: string, password: string): Promise<Done> {
    if (await verifyPassword(this.ctx.users, user, password)) {
      this.user = user;
      this.state = 'auth';
      await this.ctx.store.ensureUser(user);
      return ok(`[CAPABILITY ${this.capabilities()}] logged in`);
    }
    await new Promise((r) => setTimeout(r, 200)); // slows guessing
    if (++this.loginFailures >= this.ctx.maxLoginFailures) this.byeAfterReply = 'Too many failed logins';
    return no('[AUTHENTICATIONFAILED] invalid credentials');
  }

  private async authPlain(b64: string): Promise<Done> {
    const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
    if (parts.length !== 3) return { status: 'BAD', text: 'malformed PLAIN response', allowExpunge: false };
    const [authz, user, pass] = parts as [string, string, string];
    if (authz !== '' && authz !== user) return no('[AUTHORIZATIONFAILED] cannot act as another user');
    return this.login(user, pass);
  }

  // ---- mailboxes -----------------------------------------------------------------------

  private async list(args: Token[]): Promise<Done> {
    const req = parseListArgs(args);
    const needSubs = req.selectSubscribed || req.returnSubscribed;
    const [names, subs] = await Promise.all([this.ctx.store.listMailboxes(this.user!), needSubs ? this.subscribed() : []]);
    this.write(listLines(req, names, subs, HIERARCHY_DELIMITER));
    return ok('LIST completed');
  }

  private async lsub(reference: string, pattern: string): Promise<Done> {
    this.write(lsubLines(reference, pattern, await this.subscribed(), HIERARCHY_DELIMITER));
    return ok('LSUB completed');
  }

  private async subscribed(): Promise<string[]> {
    return (await this.ctx.store.subscriptions(this.user!)).list();
  }

  /** SUBSCRIBE only to a mailbox that exists (Dovecot's rule); UNSUBSCRIBE of anything. */
  private async subscription(op: 'subscribe' | 'unsubscribe', mailbox: string): Promise<Done> {
    const user = this.user!;
    if (op === 'subscribe' && !(await this.ctx.store.listMailboxes(user)).includes(mailbox)) return no(`[NONEXISTENT] mailbox "${mailbox}" does not exist`);
    const subs = await this.ctx.store.subscriptions(user);
    const changed = op === 'subscribe' ? await subs.subscribe(mailbox) : await subs.unsubscribe(mailbox);
    if (changed) this.ctx.publish(validateUpdate({ type: 'mailbox', user, mailbox, op }));
    return ok(`${op.toUpperCase()} completed`);
  }

  private async status(mailbox: string, items: Token | undefined): Promise<Done> {
    if (!items || items.t !== 'list') throw new ImapSyntaxError('STATUS items expected');
    const s = await this.ctx.store.sync(this.user!, mailbox);
    const out: string[] = [];
    for (const it of items.v) {
      const k = it.t === 'atom' ? it.v.toUpperCase() : '';
      if (k === 'MESSAGES') out.push(`MESSAGES ${s.messages.length}`);
      else if (k === 'UIDNEXT') out.push(`UIDNEXT ${s.uidNext}`);
      else if (k === 'UIDVALIDITY') out.push(`UIDVALIDITY ${s.uidValidity}`);
      else if (k === 'UNSEEN') out.push(`UNSEEN ${s.messages.filter((m) => !m.flags.includes('\\Seen')).length}`);
      else if (k === 'RECENT') out.push('RECENT 0');
      else if (k === 'SIZE') out.push(`SIZE ${await this.totalSize(mailbox, s.messages)}`);
      else if (k === 'HIGHESTMODSEQ') {
        this.enableCondstore();
        out.push(`HIGHESTMODSEQ ${s.highestModseq}`);
      }
      else throw new ImapSyntaxError(`unknown STATUS item`);
    }
    this.write(`* STATUS ${imapString(encodeMailboxName(mailbox))} (${out.join(' ')})\r\n`);
    // RFC 9051 §6.3.11: STATUS is not for the selected mailbox (its answer may lag behind).
    return ok(`${this.selected?.mailbox === mailbox ? '[CLIENTBUG] ' : ''}STATUS completed`);
  }

  private async totalSize(mailbox: string, messages: readonly MessageInfo[]): Promise<number> {
    let total = 0;
    for (const m of messages) total += await this.ctx.sizes.of(m, () => this.ctx.store.readMessageOf(this.user!, mailbox, m));
    return total;
  }

  private async mailboxOp(op: 'create' | 'delete' | 'rename', mailbox: string, to?: string): Promise<Done> {
    const user = this.user!;
    const target = mailbox.endsWith(HIERARCHY_DELIMITER) ? mailbox.slice(0, -1) : mailbox;
    try {
      if (op === 'create') await this.ctx.store.createMailbox(user, target);
      else if (op === 'delete') await this.ctx.store.deleteMailbox(user, target);
      else await this.ctx.store.renameMailbox(user, target, to!);
    } catch (err) {
      // The response codes of RFC 5530, as Dovecot sends them.
      if (isPipeError(err, 'BAD_INPUT') && /already exists/.test(err.message)) return no(`[ALREADYEXISTS] ${err.message}`);
      if (isPipeError(err, 'BAD_INPUT') && /does not exist/.test(err.message)) return no(`[NONEXISTENT] ${err.message}`);
      throw err;
    }
    this.ctx.publish(validateUpdate({ type: 'mailbox', user, mailbox: target, op, ...(op === 'rename' ? { to } : {}) }));
    return ok(`${op.toUpperCase()} completed`);
  }

  private async append(args: Token[]): Promise<Done> {
    const mailbox = this.mailboxArg(args[0]);
    let i = 1;
    let flags: Flag[] = [];
    let date: Date | undefined;
    if (args[i]?.t === 'list') flags = this.flagList(args[i++]!);
    const maybeDate = args[i];
    if (maybeDate && maybeDate.t === 'string' && !maybeDate.raw) {
      const d = new Date(maybeDate.v.replace(/^(\d{1,2})-(\w{3})-(\d{4})/, '$2 $1 $3'));
      if (Number.isNaN(d.getTime())) throw new ImapSyntaxError('bad date-time');
      date = d;
      i++;
    }
    const msg = args[i];
    if (!msg || msg.t !== 'string' || args.length !== i + 1) throw new ImapSyntaxError('message literal expected');
    const content = msg.raw ?? Buffer.from(msg.v);
    let result;
    try {
      result = await this.ctx.store.append(this.user!, mailbox, content, flags, date);
    } catch (err) {
      if (err instanceof PipeError && /mailbox|exist/i.test(err.message)) return no(`[TRYCREATE] ${err.message}`);
      throw err;
    }
    this.ctx.publish(validateUpdate({ type: 'exists', user: this.user!, mailbox, uids: [result.uid], uidValidity: result.uidValidity, modseq: result.modseq }));
    return ok(`[APPENDUID ${result.uidValidity} ${result.uid}] APPEND completed`);
  }

  // ---- selected state ------------------------------------------------------------------

  private async select(mailbox: string, readOnly: boolean, paramsTok?: Token): Promise<Done> {
    const params = parseSelectParams(paramsTok);
    if (params.qresync && !this.qresync) return { status: 'BAD', text: 'QRESYNC not enabled', allowExpunge: false };
    if (this.selected) {
      this.unselect();
      this.state = 'auth';
      this.write('* OK [CLOSED] previous mailbox closed\r\n'); // RFC 9051 §7.1
    }
    // Listen before reading, so nothing between the read and the subscription is missed.
    await this.ctx.interest(this.user!, mailbox, true);
    let state: StoreMailboxState | null = null;
    let tracker;
    let keywords: string[];
    try {
      tracker = await this.ctx.registry.select(this.user!, mailbox, async () => {
        const s = await this.ctx.store.sync(this.user!, mailbox);
        state = s;
        return trackerState(s);
      });
      state ??= await this.ctx.store.sync(this.user!, mailbox);
      keywords = await this.ctx.store.listKeywords(this.user!, mailbox);
    } catch (err) {
      void this.ctx.interest(this.user!, mailbox, false);
      throw err;
    }
    const s: StoreMailboxState = state;
    for (const m of s.messages) for (const f of m.flags) if (!f.startsWith('\\') && !keywords.includes(f)) keywords.push(f);
    this.selected = { tracker, mailbox, readOnly, uidValidity: s.uidValidity, keywords: new Set(keywords.map((k) => k.toLowerCase())) };
    this.state = 'selected';
    if (params.condstore || params.qresync || this.condstore) this.enableCondstore();
    const unseen = s.messages.findIndex((m) => !m.flags.includes('\\Seen'));
    this.write(
      this.flagsLines(keywords, readOnly) +
        `* ${tracker.count} EXISTS\r\n* 0 RECENT\r\n` +
        (unseen >= 0 ? `* OK [UNSEEN ${unseen + 1}] first unseen\r\n` : '') +
        `* OK [UIDVALIDITY ${s.uidValidity}] UIDs valid\r\n` +
        `* OK [UIDNEXT ${s.uidNext}] predicted next UID\r\n` +
        (this.condstore ? `* OK [HIGHESTMODSEQ ${s.highestModseq}] Highest\r\n` : ''),
    );
    // A stale UIDVALIDITY: the client's cache is void, and it learns that from UIDVALIDITY.
    if (params.qresync && params.qresync.uidValidity === s.uidValidity) await this.qresyncReplay(params.qresync, s, tracker);
    return ok(`[${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'EXAMINE' : 'SELECT'} completed`);
  }

  /**
   * QRESYNC's answer to what the client knew (RFC 7162 §3.2.5): the UIDs it holds that
   * are gone (VANISHED (EARLIER)), then every message it knows that changed since its
   * modseq, with flags and MODSEQ. From the very read the session was opened on.
   */
  private async qresyncReplay(q: QresyncParams, s: StoreMailboxState, tracker: SessionTracker): Promise<void> {
    await this.writeVanishedEarlier(q.modseq, q.knownUids, s);
    s.messages.forEach((m, i) => {
      if (m.modseq <= q.modseq || (q.knownUids !== null && !q.knownUids.has(m.uid))) return;
      this.write(formatUntagged({ kind: 'fetch', seq: i + 1, uid: m.uid, flags: m.flags, modseq: m.modseq }, { modseq: true }) + '\r\n');
      tracker.told(m.uid, m.flags, m.modseq);
    });
  }

  /** FLAGS and PERMANENTFLAGS: the system flags and the mailbox's keywords (RFC 9051 §7.3.5). */
  private flagsLines(keywords: readonly string[], readOnly: boolean): string {
    const all = [SYSTEM_FLAGS, ...keywords].join(' ');
    return `* FLAGS (${all})\r\n* OK [PERMANENTFLAGS (${readOnly ? '' : `${all} \\*`})] flags\r\n`;
  }

  private idle(tag: string): Done | null {
    const sel = this.selected;
    this.write('+ idling\r\n');
    const stop = sel ? sel.tracker.watch(() => this.flush(true)) : () => {};
    this.idling = { tag, stop };
    this.flush(true);
    return null;
  }

  /** The view's messages addressed by a sequence set, with their storage records. */
  private async targets(setText: string, byUid: boolean): Promise<{ seq: number; uid: number; info: MessageInfo | undefined }[]> {
    const sel = this.selected!;
    const uids = sel.tracker.uids;
    const idx = resolveSet(setText, uids, byUid);
    if (idx.length === 0) return [];
    const s = await this.ctx.store.sync(this.user!, sel.mailbox);
    const byUidMap = new Map(s.messages.map((m) => [m.uid, m]));
    return idx.map((i) => ({ seq: i + 1, uid: uids[i]!, info: byUidMap.get(uids[i]!) }));
  }

  private async fetch(args: Token[], byUid: boolean): Promise<Done> {
    const sel = this.selected!;
    const setText = astring(args[0], 'sequence set');
    let items: FetchItem[] = parseFetchItems(args[1]);
    if (args.length > 3) throw new ImapSyntaxError('unexpected FETCH arguments');
    const mods = parseFetchModifiers(args[2]);
    if (mods.vanished && !byUid) throw new ImapSyntaxError('Unknown FETCH modifier');
    if (mods.vanished && !this.qresync) return { status: 'BAD', text: 'QRESYNC not enabled', allowExpunge: false };
    if (byUid && !items.some((i) => i.kind === 'uid')) items = [{ kind: 'uid' }, ...items];
    if (mods.changedSince !== null || items.some((i) => i.kind === 'modseq')) this.enableCondstore();
    // CHANGEDSINCE implies MODSEQ (RFC 7162 §3.1.4.1), after what was asked for (as Dovecot).
    if (mods.changedSince !== null && !items.some((i) => i.kind === 'modseq')) items = [...items, { kind: 'modseq' }];
    const markSeen = setsSeen(items) && !sel.readOnly;
    const content = needsContent(items);
    const asksFlags = items.some((i) => i.kind === 'flags');
    const wantsSize = items.some((i) => i.kind === 'size');
    // A message this FETCH marks \Seen gets its new FLAGS in the same response (RFC 9051 §6.4.5).
    const withFlags: FetchItem[] = asksFlags ? items : [...items, { kind: 'flags' }];
    const since = mods.changedSince;
    const targets = (await this.targets(setText, byUid)).filter((t) => since === null || (t.info !== undefined && t.info.modseq > since));
    if (mods.vanished && since !== null) await this.vanishedSince(since, setText);
    // One store call (one lock, one UID list write) for every message the FETCH marks \Seen.
    const unseen = markSeen ? targets.filter((t) => t.info && !t.info.flags.includes('\\Seen')).map((t) => t.uid) : [];
    const seen = new Map((unseen.length ? await this.ctx.store.storeFlags(this.user!, sel.mailbox, unseen, 'add', ['\\Seen']) : []).map((c) => [c.uid, c]));
    for (const c of seen.values()) this.publishFlags(sel, c);
    for (const t of targets) {
      if (!t.info) continue; // expunged elsewhere, expunge held back: RFC 2180 §4.1.3
      const marked = seen.get(t.uid);
      const seenNow = marked?.changed === true;
      const flags = marked?.flags ?? t.info.flags;
      let raw: Buffer | null = null;
      if (content) {
        try {
          raw = await this.ctx.store.readMessageOf(this.user!, sel.mailbox, t.info);
        } catch {
          continue; // gone meanwhile
        }
      }
      const info = t.info;
      const size = !wantsSize ? info.size : raw ? this.ctx.sizes.fromContent(info, raw) : await this.ctx.sizes.of(info, () => this.ctx.store.readMessageOf(this.user!, sel.mailbox, info)).catch(() => info.size);
      const modseq = marked?.modseq ?? info.modseq;
      this.write(renderFetch(t.seq, seenNow ? withFlags : items, { uid: t.uid, flags, size, internalDate: info.internalDate, modseq }, raw));
      if (asksFlags || seenNow) sel.tracker.told(t.uid, flags, modseq);
    }
    return ok(`${byUid ? 'UID ' : ''}FETCH completed`, byUid);
  }

  /**
   * UID FETCH … (CHANGEDSINCE m VANISHED): the UIDs of the requested set that were
   * expunged after m (RFC 7162 §3.2.6), as VANISHED (EARLIER).
   */
  private async vanishedSince(since: number, setText: string): Promise<void> {
    const sel = this.selected!;
    const s = await this.ctx.store.sync(this.user!, sel.mailbox);
    const top = Math.max(1, s.uidNext - 1);
    let scope: UidSet;
    try {
      scope = UidSet.parse(setText.replace(/\*/g, String(top)));
    } catch {
      throw new ImapSyntaxError('bad sequence set');
    }
    await this.writeVanishedEarlier(since, scope, s);
  }

  /** `* VANISHED (EARLIER)` for the UIDs in `scope` (all, if null) expunged after `since`. */
  private async writeVanishedEarlier(since: number, scope: UidSet | null, s: StoreMailboxState): Promise<void> {
    const history = await this.ctx.store.expungedSince(this.user!, this.selected!.mailbox, since);
    const vanished = vanishedUids(history, scope, s.uidNext, s.messages.map((m) => m.uid));
    if (vanished !== null) this.write(`* VANISHED (EARLIER) ${vanished}\r\n`);
  }

  /**
   * This session's own flag change: the other sessions here hear it, and, when it changed
   * anything, the other processes. An unchanged one still goes to the tracker, which then
   * knows this client was told these flags.
   */
  private publishFlags(sel: Selected, c: FlagChange): void {
    const u = validateUpdate({ type: 'flags', user: this.user!, mailbox: sel.mailbox, uid: c.uid, flags: c.flags, uidValidity: sel.uidValidity, modseq: c.modseq });
    if (c.changed) this.ctx.publish(u, sel.tracker);
    else this.ctx.registry.apply(u, { exclude: sel.tracker });
  }

  private flagList(tok: Token): Flag[] {
    const list = tok.t === 'list' ? tok.v : [tok];
    const flags = list.map((f) => {
      if (f.t !== 'atom') throw new ImapSyntaxError('flags are atoms');
      return f.v;
    });
    const kept = flags.filter((f) => f.toLowerCase() !== '\\recent');
    if (kept.some((f) => f.startsWith('\\') && !SYSTEM_FLAG_NAMES.has(f.toLowerCase()))) throw new ImapSyntaxError('invalid system flag');
    try {
      return validateFlags(kept);
    } catch {
      throw new ImapSyntaxError('invalid flag');
    }
  }

  private async store(args: Token[], byUid: boolean): Promise<Done> {
    const sel = this.selected!;
    if (sel.readOnly) return no('[READ-ONLY] mailbox is read-only');
    const setText = astring(args[0], 'sequence set');
    const { unchangedSince, rest } = parseStoreModifier(args.slice(1));
    if (unchangedSince !== null) this.enableCondstore();
    const op = astring(rest[0], 'STORE item').toUpperCase();
    const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(op);
    if (!m || !rest[1]) throw new ImapSyntaxError('expected [+|-]FLAGS[.SILENT] (flags)');
    const flags = this.flagList(rest.length > 2 ? { t: 'list', v: rest.slice(1) } : rest[1]);
    const silent = m[2] !== undefined;
    const targets = (await this.targets(setText, byUid)).filter((t) => t.info !== undefined);
    const mode = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
    // One store call (one lock, one UID list write) for the whole STORE.
    const options = unchangedSince === null ? {} : { unchangedSince };
    const changes = new Map((await this.ctx.store.storeFlags(this.user!, sel.mailbox, targets.map((t) => t.uid), mode, flags, options)).map((c) => [c.uid, c]));
    const added = mode === 'remove' ? [] : flags.filter((f) => !f.startsWith('\\') && !sel.keywords.has(f.toLowerCase()));
    if (added.length > 0 && [...changes.values()].some((c) => !c.modified)) {
      // A keyword new to the mailbox (stored now): clients learn it from FLAGS before
      // they see it on a message.
      for (const k of added) sel.keywords.add(k.toLowerCase());
      this.write(this.flagsLines(await this.ctx.store.listKeywords(this.user!, sel.mailbox), false));
    }
    const modified: number[] = [];
    for (const t of targets) {
      const c = changes.get(t.uid);
      if (!c) continue; // expunged meanwhile
      if (c.modified) {
        modified.push(byUid ? t.uid : t.seq);
        continue;
      }
      this.publishFlags(sel, c);
      // With CONDSTORE every FETCH names the UID and the new MODSEQ, .SILENT or not (as Dovecot).
      if (this.condstore) this.write(`* ${t.seq} FETCH (UID ${t.uid} MODSEQ (${c.modseq})${silent ? '' : ` FLAGS (${c.flags.join(' ')})`})\r\n`);
      else if (!silent) this.write(`* ${t.seq} FETCH (${byUid ? `UID ${t.uid} ` : ''}FLAGS (${c.flags.join(' ')}))\r\n`);
    }
    if (modified.length > 0) return ok(`[MODIFIED ${UidSet.parse(modified).toString()}] Conditional STORE failed`, byUid);
    return ok(`${byUid ? 'UID ' : ''}STORE completed`, byUid);
  }

  private async search(args: Token[], byUid: boolean): Promise<Done> {
    const sel = this.selected!;
    const uids = sel.tracker.uids.slice();
    let q;
    try {
      q = compileSearch(args, uids);
    } catch (err) {
      if (err instanceof UnknownCharsetError) return no('[BADCHARSET] unknown charset');
      throw err;
    }
    const s = await this.ctx.store.sync(this.user!, sel.mailbox);
    const infos = new Map(s.messages.map((m) => [m.uid, m]));
    if (q.usesModseq) this.enableCondstore();
    const hits: number[] = [];
    let highest = 0;
    for (let i = 0; i < uids.length; i++) {
      const info = infos.get(uids[i]!);
      if (!info) continue;
      let raw: Buffer | null = null;
      if (q.needsContent) raw = await this.ctx.store.readMessageOf(this.user!, sel.mailbox, info).catch(() => null);
      const read = (): Promise<Buffer> => (raw ? Promise.resolve(raw) : this.ctx.store.readMessageOf(this.user!, sel.mailbox, info));
      const size = q.needsSize ? await this.ctx.sizes.of(info, read).catch(() => info.size) : info.size;
      if (!q.test({ index: i, uid: info.uid, flags: info.flags, size, internalDate: info.internalDate, raw, modseq: info.modseq })) continue;
      hits.push(byUid ? info.uid : i + 1);
      highest = Math.max(highest, info.modseq);
    }
    // With a MODSEQ key, the highest modseq of what matched (RFC 7162 §3.1.5).
    const modseq = q.usesModseq && hits.length > 0 ? ` (MODSEQ ${highest})` : '';
    this.write(`* SEARCH${hits.length ? ' ' + hits.join(' ') : ''}${modseq}\r\n`);
    return ok(`${byUid ? 'UID ' : ''}SEARCH completed`, byUid);
  }

  private async copy(args: Token[], byUid: boolean): Promise<Done> {
    const sel = this.selected!;
    const setText = astring(args[0], 'sequence set');
    const dest = this.mailboxArg(args[1]);
    const from: number[] = [];
    const to: number[] = [];
    let uidValidity = 0;
    let modseq = 0;
    for (const t of await this.targets(setText, byUid)) {
      if (!t.info) continue;
      const raw = await this.ctx.store.readMessageOf(this.user!, sel.mailbox, t.info);
      let r;
      try {
        r = await this.ctx.store.append(this.user!, dest, raw, t.info.flags, t.info.internalDate);
      } catch (err) {
        if (err instanceof PipeError && /mailbox|exist/i.test(err.message)) return no(`[TRYCREATE] ${err.message}`);
        throw err;
      }
      from.push(t.uid);
      to.push(r.uid);
      uidValidity = r.uidValidity;
      modseq = r.modseq;
    }
    // One update for all: the last copy's modseq covers them (each took its own, lower ones).
    if (to.length > 0) this.ctx.publish(validateUpdate({ type: 'exists', user: this.user!, mailbox: dest, uids: to, uidValidity, modseq }));
    const code = to.length ? `[COPYUID ${uidValidity} ${UidSet.parse(from).toString()} ${UidSet.parse(to).toString()}] ` : '';
    return ok(`${code}${byUid ? 'UID ' : ''}COPY completed`, byUid);
  }

  private async expunge(uidSet: string | null): Promise<Done> {
    const sel = this.selected!;
    if (sel.readOnly) return no('[READ-ONLY] mailbox is read-only');
    const modseq = await this.removeDeleted(sel, uidSet, true);
    // QRESYNC: VANISHED carries no modseq, so the tagged OK tells the new one (as Dovecot).
    const code = this.qresync && modseq !== undefined ? `[HIGHESTMODSEQ ${modseq}] ` : '';
    return ok(`${code}${uidSet ? 'UID ' : ''}EXPUNGE completed`);
  }

  /** Removes \Deleted messages (of `uidSet` if given) and tells every session, this one too. */
  /** The modseq the expunge took, if anything went. */
  private async removeDeleted(sel: Selected, uidSet: string | null, announce: boolean): Promise<number | undefined> {
    // UID EXPUNGE: of the messages the set names in this view, those \Deleted (checked under
    // the mailbox lock, so a flag change meanwhile is respected).
    const only = uidSet === null ? undefined : (await this.targets(uidSet, true)).map((t) => t.uid);
    if (only !== undefined && only.length === 0) return undefined;
    const { uids, modseq } = await this.ctx.store.expungeDeleted(this.user!, sel.mailbox, only && UidSet.parse(only));
    if (uids.length === 0) return undefined;
    const u = validateUpdate({ type: 'expunge', user: this.user!, mailbox: sel.mailbox, uids, uidValidity: sel.uidValidity, ...(modseq !== undefined ? { modseq } : {}) });
    // CLOSE sends no EXPUNGE responses to its own session (RFC 9051 §6.4.1).
    this.ctx.publish(u, announce ? undefined : sel.tracker);
    return modseq;
  }

}
