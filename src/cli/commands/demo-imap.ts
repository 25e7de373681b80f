import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CliProcess, runCli } from '../child.js';

const say = (s: string): void => void process.stdout.write(s + '\n');

interface ImapFlowLike {
  on(event: string, fn: (e: Record<string, unknown>) => void): void;
  connect(): Promise<void>;
  mailboxOpen(path: string): Promise<unknown>;
  logout(): Promise<void>;
}

const MESSAGE =
  'From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: Quarterly report\r\n' +
  'Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <demo@example.org>\r\n\r\nHi Alice, here it is.\r\n';

/**
 * The product's main story: an admin edits a Maildir offline with `updatepipe mail`, and
 * an IMAP client IDLE-ing on the reference server sees each change at once.
 */
export async function imapStory(dir: string, check: (ok: boolean, what: string) => void, procs: CliProcess[]): Promise<void> {
  let ImapFlow: new (o: object) => ImapFlowLike;
  try {
    ({ ImapFlow } = (await import('imapflow')) as unknown as { ImapFlow: new (o: object) => ImapFlowLike });
  } catch {
    say('  (skipped: the IMAP client part needs the dev dependency imapflow; run `npm ci` in a checkout)');
    return;
  }
  const maildir = path.join(dir, 'mail');
  const pipe = `unix:${path.join(dir, 'imap.sock')}`;
  const users = path.join(dir, 'users');
  await writeFile(users, 'alice:secret\n', { mode: 0o600 });

  say('1. `updatepipe serve-imap` on a free port, with the embedded Unix pipe');
  const server = new CliProcess(['serve-imap', '--maildir', maildir, '--listen', '127.0.0.1:0', '--pipe', pipe, '--users', users]);
  procs.push(server);
  await server.waitStderr('ready');
  const port = Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(server.stderr)?.[1]);
  say(`   IMAP on 127.0.0.1:${port}, Maildir ${maildir}`);

  say('2. an imapflow client logs in as alice and IDLEs on INBOX');
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, logger: false, auth: { user: 'alice', pass: 'secret' }, autoIdleDelay: 20 });
  const seen: { at: number; text: string }[] = [];
  const note = (text: string): void => {
    seen.push({ at: performance.now(), text });
  };
  client.on('exists', (e) => note(`* ${String(e['count'])} EXISTS`));
  client.on('expunge', (e) => note(`* ${String(e['seq'])} EXPUNGE`));
  client.on('flags', (e) => note(`* ${String(e['seq'])} FETCH (UID ${String(e['uid'])} FLAGS (${[...(e['flags'] as Set<string>)].join(' ')}))`));
  await client.connect();
  await client.mailboxOpen('INBOX');
  await new Promise((r) => setTimeout(r, 150)); // let it enter IDLE

  const step = async (what: string, args: string[], input?: string): Promise<string> => {
    const before = seen.length;
    const started = performance.now();
    const r = await runCli(['mail', ...args, '--maildir', maildir, '--pipe', pipe, '--user', 'alice'], input !== undefined ? { input } : {});
    check(r.code === 0, `${what}: \`updatepipe mail ${args.join(' ')}\` exits 0${r.code === 0 ? '' : `: ${r.stderr.trim()}`}`);
    const deadline = performance.now() + 5_000;
    while (seen.length === before && performance.now() < deadline) await new Promise((res) => setTimeout(res, 2));
    await new Promise((res) => setTimeout(res, 100)); // anything extra would show up now
    const got = seen.slice(before);
    const ms = got[0] ? got[0].at - started : NaN;
    check(got.length === 1, `the IDLE client saw exactly one response: ${got.map((g) => g.text).join(' | ') || 'nothing'}`);
    say(`        ${ms.toFixed(0)} ms from \`updatepipe mail\` start (node start-up included) to the client's event`);
    return r.stdout.trim();
  };

  say('3. an admin adds, flags and expunges a message offline, in separate processes');
  const uid = await step('add', ['add', '-'], MESSAGE);
  check(uid === '1', `mail add printed the new UID ${uid}`);
  await step('flag', ['flags', '--uid', uid, '--add', '\\Flagged,\\Seen']);
  await step('expunge', ['expunge', '--uid', uid]);

  say('4. a delivery agent (as Postfix or dovecot-lda do) writes tmp/ and renames into new/; serve-imap\'s watcher sees it');
  {
    const inbox = path.join(maildir, 'alice');
    const name = `${Math.floor(Date.now() / 1000)}.M1P${process.pid}.demo`;
    await writeFile(path.join(inbox, 'tmp', name), MESSAGE.replace('Quarterly report', 'Delivered by an MDA'));
    const before = seen.length;
    const started = performance.now();
    await rename(path.join(inbox, 'tmp', name), path.join(inbox, 'new', name));
    const deadline = performance.now() + 5_000;
    while (seen.length === before && performance.now() < deadline) await new Promise((res) => setTimeout(res, 1));
    await new Promise((res) => setTimeout(res, 100));
    const got = seen.slice(before);
    check(got.length === 1 && got[0]!.text === '* 1 EXISTS', `the IDLE client saw exactly one EXISTS: ${got.map((g) => g.text).join(' | ') || 'nothing'}`);
    say(`        ${got[0] ? (got[0].at - started).toFixed(1) : 'NaN'} ms from the rename to the client's event (Dovecot waits 500 ms)`);
  }
  await client.logout();
  await server.kill('SIGTERM');
}
