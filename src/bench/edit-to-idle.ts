import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliProcess, runCli } from '../cli/child.js';
import { median } from './stats.js';

const message = (i: number): string =>
  `From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <bench${i}@example.org>\r\n\r\nHello.\r\n`;

interface IdleClient {
  connect(): Promise<void>;
  mailboxOpen(name: string): Promise<unknown>;
  on(event: 'exists', f: () => void): void;
  logout(): Promise<void>;
}

/**
 * Offline `updatepipe mail add` → imapflow's IDLE `exists` event through `serve-imap`
 * on the Unix pipe: ms per edit (median), or null when imapflow (a dev dependency) is absent.
 */
export async function editToIdle(runs: number): Promise<{ median: number; min: number; max: number } | null> {
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
    flow.on('exists', () => void seen++);
    await flow.connect();
    await flow.mailboxOpen('INBOX');
    await new Promise((r) => setTimeout(r, 200)); // IDLE is on
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const before = seen;
      const t0 = performance.now();
      const r = await runCli(['mail', 'add', '--user', 'alice', '-', '--maildir', maildir, '--pipe', pipe, '--require-listener'], { input: message(i) });
      if (r.code !== 0) throw new Error(`mail add failed: ${r.stderr}`);
      while (seen === before) await new Promise((res) => setTimeout(res, 1));
      samples.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 50));
    }
    await flow.logout().catch(() => {});
    return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
  } finally {
    await server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}
