import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliProcess, runCli } from '../child.js';
import { imapStory } from './demo-imap.js';

const say = (s: string): void => void process.stdout.write(s + '\n');

/**
 * The product's story on the embedded default (Unix socket, no server): two listeners,
 * an offline admin push, the socket owner killed and replaced, and a push with nobody
 * listening. Every step is a real `updatepipe` process. Exits non-zero if any check fails.
 */
export async function demoCommand(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'updatepipe-demo-'));
  const url = `unix:${path.join(dir, 'updates.sock')}`;
  const failures: string[] = [];
  const check = (ok: boolean, what: string): void => {
    say(`  ${ok ? 'ok ' : 'FAIL'} ${what}`);
    if (!ok) failures.push(what);
  };
  const procs: CliProcess[] = [];
  try {
    say('== An offline admin edit reaches an IDLE-ing IMAP client ==');
    await imapStory(dir, check, procs);

    say('');
    say('== The pipe itself: fan-out, bulk, socket takeover, nobody listening ==');
    say(`pipe: ${url}`);
    say('1. two listeners (the first binds the socket, the second joins it)');
    const a = new CliProcess(['listen', '--pipe', url, '--json']);
    procs.push(a);
    await a.waitStderr('ready');
    const b = new CliProcess(['listen', '--pipe', url, '--json']);
    procs.push(b);
    await b.waitStderr('ready');

    say('2. an admin tool pushes an expunge with `updatepipe push`');
    const update = '{"type":"expunge","user":"alice","mailbox":"INBOX","uids":[3,4,5]}';
    const push1 = await runCli(['push', '--pipe', url, update]);
    check(push1.code === 0, `push exits 0 (${push1.ms.toFixed(0)} ms including node start-up)`);
    const [la, lb] = await Promise.all([a.waitLine((l) => l.includes('"expunge"')), b.waitLine((l) => l.includes('"expunge"'))]);
    say(`   listener A: ${la}`);
    say(`   listener B: ${lb}`);
    check(JSON.parse(la).uids === '3:5' && JSON.parse(lb).uids === '3:5', 'both listeners got it, canonical uids "3:5"');

    say('3. 1,000 updates in bulk from stdin');
    const bulk = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ type: 'flags', user: 'alice', mailbox: 'INBOX', uid: i + 1, flags: ['\\Seen'] })).join('\n');
    const push2 = await runCli(['push', '--pipe', url], { input: bulk });
    check(push2.code === 0, `bulk push exits 0: ${push2.stderr.trim()}`);
    await Promise.all([a, b].map((p) => p.waitLine((l) => l.includes('"uid":1000,'))));
    const count = (p: CliProcess): number => p.lines.filter((l) => l.includes('"flags"')).length;
    check(count(a) === 1000 && count(b) === 1000, `each listener got exactly 1000 (A ${count(a)}, B ${count(b)})`);

    say('4. the socket owner (A) is killed; B takes the socket over');
    await a.kill('SIGKILL');
    const push3 = await runCli(['push', '--pipe', url, '{"type":"exists","user":"alice","mailbox":"INBOX","uids":"6"}']);
    check(push3.code === 0, 'push after the owner died exits 0');
    const lb2 = await b.waitLine((l) => l.includes('"exists"'));
    say(`   listener B: ${lb2}`);
    const resync = b.lines.find((l) => l.includes('"resync"'));
    check(resync !== undefined, `B was told to resync, since A may have died holding updates: ${resync ?? '-'}`);

    say('5. nobody listening: push fails fast with exit code 3');
    await b.kill('SIGTERM');
    const push4 = await runCli(['push', '--pipe', url, update]);
    check(push4.code === 3, `push exits ${push4.code} in ${push4.ms.toFixed(0)} ms: ${push4.stderr.trim()}`);
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    say(`demo: ${failures.length} check(s) failed`);
    process.exitCode = 1;
  } else {
    say('demo: all checks passed');
  }
}
