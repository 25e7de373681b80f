import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CliProcess } from '../../src/cli/child.js';
import { UidSet } from '../../src/update/uid-set.js';
import { ImapFixture, message, type Client } from '../helpers/imap-fixture.js';
import { sleep, waitFor } from '../helpers/wait.js';

interface Line {
  type: string;
  user: string;
  mailbox?: string;
  uids?: string;
  uid?: number;
  flags?: string[];
  op?: string;
}

const parse = (lines: string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);
const settle = (): Promise<void> => sleep(300);
const reset = (...cs: Client[]): void => cs.forEach((c) => (c.events.length = 0));
const existsOf = (lines: Line[], mailbox = 'INBOX'): number[] => lines.filter((l) => l.type === 'exists' && l.mailbox === mailbox).flatMap((l) => [...UidSet.parse(l.uids!)]);

/** An MDA's delivery: write into tmp/, rename into new/. */
async function deliver(maildir: string, name: string, subject = name, folder = ''): Promise<void> {
  await deliverTo(path.join(maildir, 'alice', folder), name, subject);
}

async function deliverTo(dir: string, name: string, subject = name): Promise<void> {
  await writeFile(path.join(dir, 'tmp', name), message(subject));
  await rename(path.join(dir, 'tmp', name), path.join(dir, 'new', name));
}

describe('changes other tools make to the Maildir reach IDLE sessions once', () => {
  const fx = new ImapFixture();
  let listener: CliProcess;
  let watch: CliProcess;
  let a: Client;
  let b: Client;
  let other: Client;
  let from = 0;
  /** Pipe lines since the last `mark()`. */
  const since = (): Line[] => parse(listener.lines.slice(from));
  const mark = (): void => void (from = listener.lines.length);

  before(async () => {
    await fx.setup();
    listener = await fx.process(['listen', '--pipe', fx.pipe, '--json']);
    await mkdir(fx.maildir);
    // `updatepipe watch` first: it is elected; serve-imap's own watcher stands by.
    watch = await fx.process(['watch', '--maildir', fx.maildir, '--pipe', fx.pipe]);
    const port = await fx.server();
    assert.equal((await fx.mail('create', '--user', 'alice', '--mailbox', 'Archive')).code, 0);
    a = await fx.client(port);
    b = await fx.client(port);
    other = await fx.client(port, 'Archive');
    await sleep(200);
    mark();
  });
  after(() => fx.teardown());

  test('an MDA delivery: one EXISTS per session on INBOX, none on Archive, one update on the pipe', async () => {
    reset(a, b, other);
    await deliver(fx.maildir, '1700000001.M1P1.mda', 'delivered');
    await waitFor(() => a.events.length > 0 && b.events.length > 0, 'EXISTS on both');
    await settle();
    for (const c of [a, b]) assert.deepEqual(c.events, [{ type: 'exists', count: 1 }]);
    assert.deepEqual(other.events, []);
    assert.deepEqual(since().map((l) => [l.type, l.mailbox, l.uids]), [['exists', 'INBOX', '1']]);
  });

  test('a MUA renaming cur/X:2, to cur/X:2,S: one FETCH FLAGS per session', async () => {
    mark();
    reset(a, b, other);
    const cur = path.join(fx.maildir, 'alice', 'cur');
    await rename(path.join(fx.maildir, 'alice', 'new', '1700000001.M1P1.mda'), path.join(cur, '1700000001.M1P1.mda:2,'));
    await settle();
    assert.deepEqual(a.events, [], 'new/ to cur/ without flags is no change');
    await rename(path.join(cur, '1700000001.M1P1.mda:2,'), path.join(cur, '1700000001.M1P1.mda:2,S'));
    await waitFor(() => a.events.length > 0 && b.events.length > 0, 'FETCH on both');
    await settle();
    for (const c of [a, b]) assert.deepEqual(c.events, [{ type: 'flags', seq: 1, uid: 1, flags: ['\\Seen'] }]);
    assert.deepEqual(since().map((l) => [l.type, l.uid, l.flags]), [['flags', 1, ['\\Seen']]]);
  });

  test('mail add and mail flags with two watchers running: one update on the pipe, one response per session', async () => {
    mark();
    reset(a, b, other);
    const r = await fx.mailWithInput(message('by the admin'), 'add', '--user', 'alice', '-');
    assert.equal(r.code, 0, r.stderr);
    await waitFor(() => a.events.length > 0 && b.events.length > 0, 'EXISTS on both');
    const f = await fx.mail('flags', '--user', 'alice', '--uid', '2', '--add', '\\Flagged');
    assert.equal(f.code, 0, f.stderr);
    await waitFor(() => a.events.length > 1 && b.events.length > 1, 'FETCH on both');
    await settle();
    for (const c of [a, b]) assert.deepEqual(c.events, [{ type: 'exists', count: 2 }, { type: 'flags', seq: 2, uid: 2, flags: ['\\Flagged'] }]);
    assert.deepEqual(since().map((l) => l.type), ['exists', 'flags']);
  });

  test('rm of a message file: one EXPUNGE per session', async () => {
    mark();
    reset(a, b, other);
    const cur = path.join(fx.maildir, 'alice', 'cur');
    await unlink(path.join(cur, '1700000001.M1P1.mda:2,S'));
    await waitFor(() => a.events.length > 0 && b.events.length > 0, 'EXPUNGE on both');
    await settle();
    for (const c of [a, b]) assert.deepEqual(c.events, [{ type: 'expunge', seq: 1 }]);
    assert.deepEqual(since().map((l) => [l.type, l.uids]), [['expunge', '1']]);
  });

  test('a folder made and a message delivered into it by another tool', async () => {
    mark();
    reset(a, b, other);
    for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(fx.maildir, 'alice', '.Lists', d), { recursive: true });
    await waitFor(() => since().some((l) => l.type === 'mailbox'), 'mailbox create');
    await deliver(fx.maildir, '1700000002.M1P1.list', 'list mail', '.Lists');
    await waitFor(() => existsOf(since(), 'Lists').length === 1, 'exists in Lists');
    await settle();
    assert.deepEqual(since().map((l) => [l.type, l.mailbox, l.op ?? l.uids]), [['mailbox', 'Lists', 'create'], ['exists', 'Lists', '1']]);
    assert.deepEqual([a, b, other].map((c) => c.events.length), [0, 0, 0], 'nothing reached INBOX or Archive sessions');
  });

  test('hostile contents: never served, never a stop', async () => {
    mark();
    reset(a, b, other);
    const alice = path.join(fx.maildir, 'alice');
    await symlink('/etc/passwd', path.join(alice, 'new', '1700000003.M1P1.link'));
    await writeFile(path.join(alice, 'new', 'bad\nname'), message('newline'));
    await writeFile(Buffer.from(path.join(alice, 'new', 'bad-\xfe-name'), 'latin1'), message('latin1'));
    execFileSync('mkfifo', [path.join(alice, 'new', '1700000004.M1P1.fifo')]);
    await mkdir(path.join(alice, 'new', '1700000005.M1P1.dir'));
    // Delivered and gone before a scan can number it (or right after: then expunged).
    await deliver(fx.maildir, '1700000006.M1P1.vanish');
    await unlink(path.join(alice, 'new', '1700000006.M1P1.vanish'));
    await writeFile(path.join(alice, 'new', '1700000007.M1P1.empty'), '');
    await sleep(200);
    await deliver(fx.maildir, '1700000008.M1P1.after', 'after the garbage');
    await waitFor(() => a.flow.mailbox !== false && (a.flow.mailbox as { exists: number }).exists >= 3, 'later deliveries still announced');
    await settle();
    // What the client can fetch: the admin's message, the empty one and the last one. No /etc/passwd.
    const bodies: string[] = [];
    for await (const m of a.flow.fetch('1:*', { source: true })) bodies.push(m.source?.toString() ?? '');
    assert.ok(bodies.every((t) => !t.includes('root:')), 'a link to /etc/passwd is never served');
    assert.ok(bodies.some((t) => t.includes('after the garbage')));
    const seen = new Set<number>();
    for (const u of existsOf(since())) {
      assert.ok(!seen.has(u), `uid ${u} announced twice`);
      seen.add(u);
    }
    assert.equal(watch.child.exitCode, null, 'the watcher still runs');
    assert.match(watch.stderr, /ready/);
  });
});

describe('the announcing watcher SIGKILLed in the middle of a burst', () => {
  const fx = new ImapFixture();

  before(() => fx.setup());
  after(() => fx.teardown());

  test('the standby announces the rest: nothing twice, nothing missed without a resync', { timeout: 90_000 }, async () => {
    const listener = await fx.process(['listen', '--pipe', fx.pipe, '--json']);
    await mkdir(path.join(fx.maildir, 'alice'), { recursive: true });
    const doomed = await fx.process(['watch', '--maildir', fx.maildir, '--pipe', fx.pipe]);
    const standby = await fx.process(['watch', '--maildir', fx.maildir, '--pipe', fx.pipe]);
    assert.match(standby.stderr, /standby/);
    const server = await fx.process(['serve-imap', '--maildir', fx.maildir, '--listen', '127.0.0.1:0', '--pipe', fx.pipe, '--users', path.join(fx.dir, 'users'), '--no-watch', '-v']);
    const c = await fx.client(Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(server.stderr)![1]));
    const clientLog: string[] = [];
    c.flow.on('close', () => clientLog.push('close'));
    c.flow.on('error', (e: Error) => clientLog.push(`error ${e.message}`));
    c.flow.on('mailboxClose', () => clientLog.push('mailboxClose'));
    await sleep(200);
    const total = 300;
    const burst = (async () => {
      for (let i = 0; i < total; i++) {
        await deliver(fx.maildir, `1700000000.M${i}P1.burst`, `burst ${i}`);
        if (i % 10 === 9) await sleep(5);
      }
    })();
    await waitFor(() => existsOf(parse(listener.lines)).length >= 60, 'part of the burst announced');
    const killedAt = Date.now();
    await doomed.kill('SIGKILL');
    await waitFor(() => /announcing/.test(standby.stderr), 'the standby takes over');
    const tookOverMs = Date.now() - killedAt;
    await burst;
    const listFile = path.join(fx.maildir, 'alice', 'updatepipe-uidlist');
    await waitFor(async () => (await readFile(listFile, 'utf8')).trim().split('\n').length === total + 1, 'every delivery numbered', 30_000);
    const stored = (await readFile(listFile, 'utf8')).trim().split('\n').slice(1).map((l) => Number(l.split(' ')[0]));
    const clientHasAll = await waitFor(() => (c.flow.mailbox as { exists: number }).exists === total, `the client sees ${total} messages`, 30_000).then(
      () => true,
      () => false,
    );
    await settle();
    const lines = parse(listener.lines);
    const announced = existsOf(lines);
    assert.equal(new Set(announced).size, announced.length, 'no UID announced twice');
    const missing = stored.filter((u) => !announced.includes(u));
    const resynced = lines.some((l) => l.type === 'resync' && l.user === 'alice' && (l.mailbox === undefined || l.mailbox === 'INBOX'));
    const why = `missing ${missing.join(',') || 'none'}; resyncs: ${JSON.stringify(lines.filter((l) => l.type === 'resync'))}; standby said: ${standby.stderr}; the server said: ${server.stderr}; the client: ${clientLog.join(', ')}; events: ${JSON.stringify(c.events.slice(-5))}`;
    assert.ok(missing.length === 0 || resynced, `${missing.length} UIDs never announced and no resync: ${why}`);
    assert.ok(clientHasAll, `the client saw ${(c.flow.mailbox as { exists: number }).exists} of ${total}: ${why}`);
    // The IMAP session: one EXISTS per poll, counts only ever growing to the total, no EXPUNGE.
    const counts = c.events.filter((e) => e.type === 'exists').map((e) => e.count!);
    assert.ok(counts.every((n, i) => i === 0 || n > counts[i - 1]!), `EXISTS counts grow: ${counts.join(',')}`);
    assert.equal(counts.at(-1), total);
    assert.deepEqual(c.events.filter((e) => e.type === 'expunge'), []);
    process.stdout.write(`# standby took over ${tookOverMs} ms after the SIGKILL; ${missing.length} UIDs covered by a resync\n`);
  });
});

describe('an unreadable message file is numbered, logged and counted; the watcher goes on', () => {
  test('as a process that may not read it', { timeout: 30_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'up-unreadable-'));
    try {
      const maildir = path.join(dir, 'mail');
      for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(maildir, 'alice', d), { recursive: true });
      const secret = path.join(maildir, 'alice', 'new', '1700000001.M1P1.secret');
      await writeFile(secret, message('secret'));
      await chmod(secret, 0o000);
      // Root reads anything: without CAP_DAC_OVERRIDE it is held to the mode bits like anyone.
      const prefix = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--inh-caps', '-dac_override,-dac_read_search'] : [];
      const pipe = `unix:${path.join(dir, 'p.sock')}`;
      const listener = new CliProcess(['listen', '--pipe', pipe, '--json']);
      let watcher: CliProcess | undefined;
      try {
        // Listening first: a watcher that found nobody would owe a resync instead of the exists.
        await listener.waitStderr('ready');
        watcher = new CliProcess(['watch', '--maildir', maildir, '--pipe', pipe, '-v'], process.env, prefix);
        await watcher.waitStderr('ready');
        const w = watcher;
        await waitFor(() => /unreadable: .*secret/.test(w.stderr), `the unreadable file is reported: ${w.stderr}`);
        await deliverTo(path.join(maildir, 'alice'), '1700000002.M1P1.fine');
        await waitFor(() => existsOf(parse(listener.lines)).includes(2), 'the next delivery is announced');
        assert.deepEqual(existsOf(parse(listener.lines)), [1, 2], 'the unreadable one is numbered too: it is there');
      } finally {
        await watcher?.kill();
        await listener.kill();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
