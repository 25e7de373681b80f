import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { spawn } from 'node:child_process';
import { CLI_PATH, CliProcess, runCli } from '../../src/cli/child.js';
import { findBinary } from '../../src/bench/services.js';
import { sleep } from '../helpers/wait.js';

let dir = '';
let n = 0;
const url = (): string => `unix:${path.join(dir, `c${++n}.sock`)}`;
const procs: CliProcess[] = [];
const listen = async (pipeUrl: string): Promise<CliProcess> => {
  const p = new CliProcess(['listen', '--pipe', pipeUrl, '--json']);
  procs.push(p);
  await p.waitStderr('ready');
  return p;
};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-cli-'));
});
after(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('push → listen --json prints the canonical update once, to every listener', async () => {
  const u = url();
  const a = await listen(u);
  const b = await listen(u);
  const r = await runCli(['push', '--pipe', u, '{"type":"expunge","user":"alice","mailbox":"INBOX","uids":[3,4,5]}']);
  assert.equal(r.code, 0, r.stderr);
  for (const l of [a, b]) {
    const line = await l.waitLine((x) => x.includes('expunge'));
    const got = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual({ type: got['type'], user: got['user'], mailbox: got['mailbox'], uids: got['uids'] }, { type: 'expunge', user: 'alice', mailbox: 'INBOX', uids: '3:5' });
    assert.equal(got['seq'], 1);
    assert.equal(typeof got['origin'], 'string');
  }
  await sleep(100);
  assert.equal(a.lines.length, 1);
  assert.equal(b.lines.length, 1);
});

test('killing the socket owner: the surviving listener still gets pushes', async () => {
  const u = url();
  const a = await listen(u);
  const b = await listen(u);
  await a.kill('SIGKILL');
  const r = await runCli(['push', '--pipe', u, '{"type":"exists","user":"alice","mailbox":"INBOX","uids":"6"}']);
  assert.equal(r.code, 0, r.stderr);
  const line = await b.waitLine((x) => x.includes('"exists"'));
  assert.equal(JSON.parse(line).uids, '6');
});

test('push with nobody listening exits 3', async () => {
  const r = await runCli(['push', '--pipe', url(), '{"type":"resync","user":"alice"}']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /nobody is listening/);
});

test('listen output fed back to push is accepted (meta fields are ignored)', async () => {
  const u = url();
  const a = await listen(u);
  const r = await runCli(['push', '--pipe', u, '{"type":"resync","user":"bob","origin":"x","seq":9,"ts":1}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(await a.waitLine((x) => x.includes('bob'))).user, 'bob');
});

test('100,000 updates stream from stdin: all arrive, in order, once', async () => {
  const u = url();
  const a = await listen(u);
  const N = 100_000;
  const input = Array.from({ length: N }, (_, i) => `{"type":"flags","user":"alice","mailbox":"INBOX","uid":${i + 1},"flags":["\\\\Seen"]}`).join('\n') + '\n';
  const r = await runCli(['push', '--pipe', u], { input, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /pushed 100000 updates/);
  await a.waitLine((x) => x.includes(`"uid":${N},`), 60_000);
  await sleep(100);
  assert.equal(a.lines.length, N);
  const seqs = a.lines.map((l) => (JSON.parse(l) as { seq: number }).seq);
  assert.ok(seqs.every((s, i) => s === i + 1), 'in order, no duplicates, no gaps');
});

test('push streams stdin: updates go out while input is still coming', async () => {
  const u = url();
  const a = await listen(u);
  const push = spawn(process.execPath, [CLI_PATH, 'push', '--pipe', u], { stdio: ['pipe', 'ignore', 'pipe'] });
  const line = (i: number): string => `{"type":"exists","user":"alice","mailbox":"INBOX","uids":"${i}"}\n`;
  const exited = new Promise<number | null>((r) => push.once('exit', r));
  try {
    for (let i = 1; i <= 3; i++) push.stdin.write(line(i));
    // Nothing has ended stdin: only a streaming reader can have pushed these already.
    await a.waitLine((x) => x.includes('"uids":"3"'), 10_000);
    assert.equal(push.exitCode, null, 'push is still reading');
    push.stdin.end(line(4));
    assert.equal(await exited, 0);
  } finally {
    if (push.exitCode === null) push.kill('SIGKILL');
  }
  await a.waitLine((x) => x.includes('"uids":"4"'), 10_000);
  assert.equal(a.lines.length, 4);
});

test('bad input on push: exit 2 and a message naming what is wrong', async () => {
  const u = url();
  await listen(u);
  const cases: [string[], string | undefined, RegExp][] = [
    [['push', '--pipe', u, '{"type":"explode","user":"a","mailbox":"INBOX"}'], undefined, /argument 1: type/],
    [['push', '--pipe', u, '{"type":"exists","user":"a","mailbox":"INBOX","uids":[0]}'], undefined, /uids/],
    [['push', '--pipe', u, '{"type":"exists","user":"a","mailbox":"INBOX","uids":[]}'], undefined, /uids: must not be empty/],
    [['push', '--pipe', u, '{"type":"exists","user":"a","mailbox":"INBOX","uids":"-3"}'], undefined, /uids/],
    [['push', '--pipe', u, 'not json'], undefined, /argument 1: not valid JSON/],
    [['push', '--pipe', u, '{"type":"resync","user":"a"}', '{"type":"resync"}'], undefined, /argument 2: user/],
    [['push', '--pipe', u], '{"type":"resync","user":"a"}\n{"type":"flags","user":"a","mailbox":"INBOX","uid":1.5,"flags":[]}\n', /line 2: uid/],
    [['push', '--pipe', u], 'x'.repeat(1024 * 1024 + 10), /line 1: longer than/],
    [['push', '--pipe', u], '{'.repeat(1024 * 1024 - 1) + '\n', /line 1: not valid JSON/],
    [['push', '--pipe', 'unix:relative.sock', '{"type":"resync","user":"a"}'], undefined, /absolute/],
    [['push', '--pipe', 'gopher://x', '{"type":"resync","user":"a"}'], undefined, /unknown pipe URL/],
    [['push', '--nope'], undefined, /unknown option/],
    [['frobnicate'], undefined, /unknown command/],
  ];
  for (const [args, input, msg] of cases) {
    const r = await runCli(args, input === undefined ? {} : { input });
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, msg, `${args.slice(0, 3).join(' ')}`);
  }
});

test('1 MB of binary garbage on push stdin: exit 2, listener unharmed', async () => {
  const u = url();
  const a = await listen(u);
  const garbage = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) & 0xff;
  const r = await runCli(['push', '--pipe', u], { input: garbage.toString('latin1') });
  assert.equal(r.code, 2, r.stderr);
  const ok = await runCli(['push', '--pipe', u, '{"type":"resync","user":"still-alive"}']);
  assert.equal(ok.code, 0);
  await a.waitLine((x) => x.includes('still-alive'));
});

test('--help on every command', async () => {
  for (const args of [['--help'], ['listen', '--help'], ['push', '--help'], ['demo', '--help'], ['watch', '--help'], ['serve-imap', '--help']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: updatepipe/);
  }
  const top = await runCli(['--help']);
  assert.match(top.stdout, /Exit codes/);
  assert.match((await runCli(['watch', '--help'])).stdout, /one election/);
  assert.match((await runCli(['serve-imap', '--help'])).stdout, /--no-watch/);
});

test('watch: bad input is exit 2 naming the option', async () => {
  const cases: [string[], RegExp][] = [
    [['watch', '--maildir', '/nonexistent/maildir'], /--maildir: \/nonexistent\/maildir is not a directory/],
    [['watch', '--maildir', '/tmp', '--rescan-interval', 'soon'], /--rescan-interval: expected a positive number/],
    [['watch', '--maildir', '/tmp', '--max-watches', '2.5'], /--max-watches: expected a positive whole number/],
    [['watch'], /--maildir/],
  ];
  for (const [args, msg] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});

test('the default pipe URL comes from UPDATEPIPE_URL', async () => {
  const u = url();
  const a = await listen(u);
  const r = await runCli(['push', '{"type":"resync","user":"env"}'], { env: { ...process.env, UPDATEPIPE_URL: u } });
  assert.equal(r.code, 0, r.stderr);
  await a.waitLine((x) => x.includes('"env"'));
});

test('demo runs the whole story and exits 0', async () => {
  const r = await runCli(['demo'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\* 1 EXISTS/);
  assert.match(r.stdout, /\* 1 EXPUNGE/);
  assert.match(r.stdout, /demo: all checks passed/);
  assert.doesNotMatch(r.stdout, /FAIL/);
});

test('hub --listen unix:…: a standalone socket owner that relays between pushers and listeners', async () => {
  const u = url();
  const hub = new CliProcess(['hub', '--listen', u]);
  procs.push(hub);
  await hub.waitStderr('ready');
  const a = await listen(u);
  const r = await runCli(['push', '--pipe', u, '{"type":"resync","user":"via-hub"}']);
  assert.equal(r.code, 0, r.stderr);
  await a.waitLine((x) => x.includes('via-hub'));
  await a.kill('SIGKILL');
  const alone = await runCli(['push', '--pipe', u, '{"type":"resync","user":"nobody-else"}']);
  assert.equal(alone.code, 0, 'the hub itself keeps the socket: a push is accepted');
});

test('bench --smoke runs every scenario and writes JSON and a chart, each figure beside its baseline', async () => {
  const file = path.join(dir, 'bench.json');
  const r = await runCli(['bench', '--smoke', '--json', file], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(await readFile(file, 'utf8')) as { machine: string; results: { name: string; value: number; unit: string; baseline?: { value: number }; ratio?: number; error?: string }[] };
  assert.match(out.machine, /node v\d+/);
  const names = out.results.map((x) => x.name).join(' | ');
  const backends = ['unix', 'ws', ...(findBinary('nats-server') ? ['nats core', 'jetstream'] : [])];
  for (const b of backends) {
    for (const l of [1, 4]) {
      assert.ok(names.includes(`${b} pipe throughput 1→${l} vs raw (one write per update)`), `${b} 1→${l} naive`);
      assert.ok(names.includes(`${b} pipe throughput 1→${l} vs raw (hand-batched)`), `${b} 1→${l} batched`);
    }
    for (const rate of ['1k/s', '10k/s']) for (const p of ['p50', 'p99', 'p99.9', 'p99 during the 0.2 s warm-up']) assert.ok(names.includes(`${b} push→handler latency at ${rate} ${p}`), `${b} ${rate} ${p}`);
  }
  if (findBinary('redis-server')) assert.match(names, /redis\+JSON notifier throughput 1→1/);
  for (const want of [/unix socket-owning listener peak RSS/, /ws hub peak RSS/, /stalled listener/, /start-up vs node -e 0/, /mail add → imapflow IDLE exists/]) assert.match(names, want);
  for (const row of out.results) {
    assert.equal(row.error, undefined, row.name);
    assert.ok(Number.isFinite(row.value) && row.value >= 0, `${row.name}: ${row.value}`);
    if (row.baseline) assert.ok(Number.isFinite(row.baseline.value) && row.baseline.value >= 0, row.name);
    if (row.ratio !== undefined || / vs /.test(row.name)) assert.ok(Number.isFinite(row.ratio), `${row.name}: ratio ${row.ratio}`);
  }
  const svg = await readFile(path.join(dir, 'bench.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /Throughput/);
  assert.match(r.stdout, /updates\/s/);
});
