import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { CliProcess, runCli, type RunResult } from '../../src/cli/child.js';

export interface FlowEvent {
  type: 'exists' | 'expunge' | 'flags';
  count?: number;
  seq?: number;
  uid?: number;
  flags?: string[];
}

/** An imapflow client and every mailbox event it saw. */
export interface Client {
  flow: ImapFlow;
  events: FlowEvent[];
  /** imapflow's own log lines of note (errors, warnings, BYE, close), for failure messages. */
  log: string[];
}

/** A temp Maildir, a users file, a pipe socket and `updatepipe serve-imap` processes on them. */
export class ImapFixture {
  dir = '';
  maildir = '';
  pipe = '';
  /** Every process started (servers, relays, hubs), for their stderr when a test fails. */
  readonly servers: CliProcess[] = [];
  private clients: Client[] = [];

  async setup(): Promise<void> {
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'up-e2e-'));
    this.maildir = path.join(this.dir, 'mail');
    this.pipe = `unix:${path.join(this.dir, 'pipe.sock')}`;
    await writeFile(path.join(this.dir, 'users'), 'alice:secret\nbob:hunter2\n');
  }

  /** Starts a server process; resolves with its port once it says "ready". */
  async server(pipe = this.pipe, extra: string[] = []): Promise<number> {
    const p = new CliProcess(['serve-imap', '--maildir', this.maildir, '--listen', '127.0.0.1:0', '--pipe', pipe, '--users', path.join(this.dir, 'users'), ...extra]);
    this.servers.push(p);
    await p.waitStderr('ready');
    return Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(p.stderr)![1]);
  }

  async client(port: number, mailbox = 'INBOX', user = 'alice', pass = 'secret'): Promise<Client> {
    const log: string[] = [];
    const keep = (level: string) => (o: { msg?: string; err?: Error }) => {
      const text = `${level} ${o.msg ?? ''} ${o.err?.message ?? ''}`;
      if (level !== 'debug' || /BYE|close|error/i.test(text)) log.push(text.slice(0, 300));
      if (log.length > 50) log.shift();
    };
    const logger = { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
    const flow = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, logger, auth: { user, pass }, autoIdleDelay: 30 });
    const c: Client = { flow, events: [], log };
    flow.on('exists', (e: { count: number }) => c.events.push({ type: 'exists', count: e.count }));
    flow.on('expunge', (e: { seq: number }) => c.events.push({ type: 'expunge', seq: e.seq }));
    flow.on('flags', (e: { seq: number; uid?: number; flags: Set<string> }) =>
      c.events.push({ type: 'flags', seq: e.seq, ...(e.uid !== undefined ? { uid: e.uid } : {}), flags: [...e.flags].sort() }),
    );
    await flow.connect();
    await flow.mailboxOpen(mailbox);
    this.clients.push(c);
    return c;
  }

  mail(...args: string[]): Promise<RunResult> {
    return this.mailVia(this.pipe, ...args);
  }

  mailVia(pipe: string, ...args: string[]): Promise<RunResult> {
    return runCli(['mail', ...args, '--maildir', this.maildir, '--pipe', pipe, '--require-listener'], {});
  }

  mailWithInput(input: string, ...args: string[]): Promise<RunResult> {
    return this.mailWithInputVia(this.pipe, input, ...args);
  }

  mailWithInputVia(pipe: string, input: string, ...args: string[]): Promise<RunResult> {
    return runCli(['mail', ...args, '--maildir', this.maildir, '--pipe', pipe, '--require-listener'], { input });
  }

  /** A long-running `updatepipe` process stopped at teardown (relays, hubs). */
  async process(args: string[], env?: NodeJS.ProcessEnv): Promise<CliProcess> {
    const p = new CliProcess(args, env);
    this.servers.push(p);
    await p.waitStderr('ready');
    return p;
  }

  async teardown(): Promise<void> {
    for (const c of this.clients) await c.flow.logout().catch(() => c.flow.close());
    for (const s of this.servers) await s.kill('SIGTERM');
    await rm(this.dir, { recursive: true, force: true });
  }
}

export const message = (subject: string): string =>
  `From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: ${subject}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\nHello.\r\n`;
