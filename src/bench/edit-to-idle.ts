import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliProcess, runCli } from '../cli/child.js';
import { median, quantile } from './stats.js';

const message = (i: number): string =>
  `From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <bench${i}@example.org>\r\n\r\nHello.\r\n`;

interface IdleClient {
  connect(): Promise<void>;
  mailboxOpen(name: string): Promise<unknown>;
  on(event: 'exists', f: () => void): void;
  logout(): Promise<void>;
}

export interface Samples {
  median: number;
  p99: number;
  min: number;
  max: number;
}

function samplesOf(xs: number[]): Samples {
  return { median: median(xs), p99: quantile(xs, 0.99), min: Math.min(...xs), max: Math.max(...xs) };
}

/** `serve-imap` on the Unix pipe and an imapflow client IDLE on INBOX; null without imapflow. */
async function withIdleClient<T>(run: (ctx: { maildir: string; pipe: string; exists: () => number; existsAt: () => number }) => Promise<T>): Promise<T | null> {
  let ImapFlow: new (o: object) => IdleClient;
  try {
    ({ ImapFlow } = (await import('imapflow' as string)) as { ImapFlow: new (o: object) => IdleClient });
  } catch {
    return null;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bench-imap-'));
  const maildir = path.join(dir, 'mail');
  const pipe = `unix:${path.join(dir, 'pipe.sock')}`;
  await writeFile(path.join(dir, 'users'), 'alice:secret\n');
  const server = new CliProcess(['serve-imap', '--maildir', maildir, '--listen', '127.0.0.1:0', '--pipe', pipe, '--users', path.join(dir, 'users')]);
  try {
    await server.waitStderr('ready');
    const port = Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(server.stderr)![1]);
    const flow = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, logger: false, auth: { user: 'alice', pass: 'secret' }, autoIdleDelay: 30 });
    let seen = 0;
    let seenAt = 0;
    flow.on('exists', () => {
      seen++;
      seenAt = performance.now();
    });
    await flow.connect();
    await flow.mailboxOpen('INBOX');
    await new Promise((r) => setTimeout(r, 200)); // IDLE is on
    try {
      return await run({ maildir, pipe, exists: () => seen, existsAt: () => seenAt });
    } finally {
      await flow.logout().catch(() => {});
    }
  } finally {
    await server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((res) => setTimeout(res, 1));
}

/** What `editToIdle` measured, all in ms. */
export interface EditToIdle extends Samples {
  /** `node -e 0` spawned the same way, run by run beside the edits: the floor of any CLI. */
  bare: Samples;
  /** The `mail add` process from spawn to exit: the EXISTS usually comes first, while the CLI closes its socket. */
  cli: Samples;
}

/** Spawns `node ARGS` with piped stdio (as `runCli` does) and resolves with ms to its exit. */
function timeNode(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - t0));
    child.stdin.end();
  });
}

/**
 * Offline `updatepipe mail add` → imapflow's IDLE `exists` event through `serve-imap`
 * on the Unix pipe: ms per edit, beside `node -e 0` run by run (this machine's speed
 * drifts within seconds, so only figures from the same moments compare), or null when
 * imapflow (a dev dependency) is absent.
 */
export async function editToIdle(runs: number): Promise<EditToIdle | null> {
  return withIdleClient(async ({ maildir, pipe, exists, existsAt }) => {
    const samples: number[] = [];
    const bare: number[] = [];
    const cli: number[] = [];
    for (let i = 0; i < runs; i++) {
      const before = exists();
      const t0 = performance.now();
      const r = await runCli(['mail', 'add', '--user', 'alice', '-', '--maildir', maildir, '--pipe', pipe, '--require-listener'], { input: message(i) });
      const exited = performance.now();
      if (r.code !== 0) throw new Error(`mail add failed: ${r.stderr}`);
      await until(() => exists() !== before);
      // The event's own time: it usually comes before the CLI has closed its socket and exited.
      const at = existsAt();
      samples.push(at - t0);
      cli.push(exited - t0);
      await new Promise((res) => setTimeout(res, 50));
      bare.push(await timeNode(['-e', '0']));
      await new Promise((res) => setTimeout(res, 20));
    }
    return { ...samplesOf(samples), bare: samplesOf(bare), cli: samplesOf(cli) };
  });
}

/**
 * An MDA's delivery (written to tmp/, renamed into new/) → imapflow's IDLE `exists`,
 * through serve-imap's own Maildir watcher: ms from the rename to the event.
 */
export async function deliveryToIdle(runs: number): Promise<Samples | null> {
  return withIdleClient(async ({ maildir, exists }) => {
    const inbox = path.join(maildir, 'alice');
    for (const d of ['tmp', 'new']) await mkdir(path.join(inbox, d), { recursive: true });
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const name = `${Date.now()}.M${i}P${process.pid}.bench`;
      await writeFile(path.join(inbox, 'tmp', name), message(i));
      const before = exists();
      const t0 = performance.now();
      await rename(path.join(inbox, 'tmp', name), path.join(inbox, 'new', name));
      await until(() => exists() !== before);
      samples.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 20));
    }
    return samplesOf(samples);
  });
}
