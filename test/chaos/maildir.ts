/**
 * The Maildir watcher under faults: an MDA delivers at a steady rate (tmp/ → new/) while
 * the announcing `updatepipe watch` is SIGKILLed and restarted, twice (the other watcher
 * takes over each time). Judged per IMAP session on a `serve-imap --no-watch` that hears
 * only the pipe, and on a pipe listener: each delivered message seen once, or covered by
 * a resync.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { CliProcess } from '../../src/cli/child.js';
import { UidSet } from '../../src/update/uid-set.js';
import { judge, type Verdict } from './judge.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface MaildirRow {
  backend: string;
  faults: string;
  pushed: number;
  verdicts: Verdict[];
}

/** A session's record: every EXISTS count and EXPUNGE it was sent, then its final UIDs. */
interface Session {
  flow: ImapFlow;
  counts: number[];
  expunges: number;
}

async function session(port: number): Promise<Session> {
  const flow = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, logger: false, auth: { user: 'alice', pass: 'secret' }, autoIdleDelay: 30 });
  const s: Session = { flow, counts: [], expunges: 0 };
  flow.on('exists', (e: { count: number }) => s.counts.push(e.count));
  flow.on('expunge', () => s.expunges++);
  await flow.connect();
  await flow.mailboxOpen('INBOX');
  return s;
}

/**
 * One IMAP session's verdict. Shown twice: an EXISTS count that did not grow (nothing is
 * ever removed here), an EXPUNGE, or more messages than stored. Missed: a stored message
 * not in the session's final view (a resync would have brought it: the server re-reads).
 */
async function judgeSession(name: string, s: Session, stored: number[]): Promise<Verdict> {
  const uids: number[] = [];
  for await (const m of s.flow.fetch('1:*', { uid: true })) uids.push(m.uid);
  const view = new Set(uids);
  let duplicates = s.expunges + Math.max(0, uids.length - stored.length);
  for (let i = 1; i < s.counts.length; i++) if (s.counts[i]! <= s.counts[i - 1]!) duplicates++;
  const missing = stored.filter((u) => !view.has(u));
  return {
    listener: name,
    delivered: stored.length - missing.length,
    duplicates,
    unexplained: missing.length,
    resyncs: 0,
    detail: `${duplicates} shown twice, ${missing.length} never shown${missing.length ? ` (first: ${missing.slice(0, 10).join(', ')})` : ''}`,
  };
}

/** Delivers `n` messages at `rate`/s the way an MDA does, in a process of its own. */
function mda(inbox: string, n: number, rate: number): Promise<void> {
  const script = `const fs=require('fs'),p=require('path');const d=${JSON.stringify(inbox)};let i=0;const t0=Date.now();
(function next(){while(i<${n}&&i<(Date.now()-t0)*${rate}/1000+1){const name=\`1700000000.M\${i}P\${process.pid}.mda\`;
fs.writeFileSync(p.join(d,'tmp',name),'Subject: m'+i+'\\r\\n\\r\\nbody\\r\\n');fs.renameSync(p.join(d,'tmp',name),p.join(d,'new',name));i++;}
if(i<${n})setTimeout(next,2);})();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`mda exited with ${String(code)}`);
  });
}

export async function maildirScenario(short: boolean): Promise<MaildirRow> {
  const n = short ? 600 : 3000;
  const rate = 200;
  const streamMs = (n / rate) * 1000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-chaos-maildir-'));
  const maildir = path.join(dir, 'mail');
  const inbox = path.join(maildir, 'alice');
  for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(inbox, d), { recursive: true });
  await writeFile(path.join(dir, 'users'), 'alice:secret\n');
  const pipe = `unix:${path.join(dir, 'p.sock')}`;
  const procs: CliProcess[] = [];
  const start = async (args: string[]): Promise<CliProcess> => {
    const p = new CliProcess(args);
    procs.push(p);
    await p.waitStderr('ready', 30_000);
    return p;
  };
  const watcher = (): Promise<CliProcess> => start(['watch', '--maildir', maildir, '--pipe', pipe]);
  const sessions: Session[] = [];
  try {
    const listener = await start(['listen', '--pipe', pipe, '--json']);
    let first = await watcher();
    let second = await watcher();
    const server = await start(['serve-imap', '--maildir', maildir, '--listen', '127.0.0.1:0', '--pipe', pipe, '--users', path.join(dir, 'users'), '--no-watch']);
    const port = Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(server.stderr)![1]);
    sessions.push(await session(port), await session(port));
    await sleep(300);
    const started = Date.now();
    const until = (fraction: number): Promise<void> => sleep(Math.max(0, streamMs * fraction - (Date.now() - started)));
    const delivering = mda(inbox, n, rate);
    await until(0.3);
    await first.kill('SIGKILL'); // the announcer: the second takes over
    await until(0.4);
    first = await watcher(); // back, as the standby
    await until(0.6);
    await second.kill('SIGKILL'); // now the announcer again
    await until(0.7);
    second = await watcher();
    await delivering;
    const listFile = path.join(inbox, 'updatepipe-uidlist');
    const deadline = Date.now() + 30_000;
    let stored: number[] = [];
    while (Date.now() < deadline) {
      stored = (await readFile(listFile, 'utf8')).trim().split('\n').slice(1).map((l) => Number(l.split(' ')[0]));
      if (stored.length >= n) break;
      await sleep(50);
    }
    await sleep(3000); // late announcements and resyncs
    // The pipe listener, judged like every other backend: UIDs as indices, resyncs as −1.
    const events = listener.lines.flatMap((l) => {
      const u = JSON.parse(l) as { type: string; user: string; mailbox?: string; uids?: string };
      if (u.type === 'resync' && (u.user === '*' || (u.user === 'alice' && (u.mailbox === undefined || u.mailbox === 'INBOX')))) return [-1];
      return u.type === 'exists' ? [...UidSet.parse(u.uids!)] : [];
    });
    const verdicts = [judge('pipe', new Set(stored), events)];
    for (const [i, s] of sessions.entries()) verdicts.push(await judgeSession(`imap-${i + 1}`, s, stored));
    return { backend: 'maildir watcher', faults: 'MDA at 200/s; the announcing watcher SIGKILLed and restarted, twice', pushed: stored.length, verdicts };
  } finally {
    for (const s of sessions) await s.flow.logout().catch(() => s.flow.close());
    for (const p of procs) await p.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
