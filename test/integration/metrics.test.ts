import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CliProcess } from '../../src/cli/child.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import { flagsUpdate, Recorder } from '../helpers/recorder.js';
import { waitFor } from '../helpers/wait.js';

let dir = '';
const stops: (() => Promise<unknown>)[] = [];
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-metrics-'));
});
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function start(args: string[]): Promise<{ p: CliProcess; base: string }> {
  const p = new CliProcess(args);
  stops.push(() => p.kill('SIGTERM'));
  await p.waitStderr('ready');
  return { p, base: /metrics on (http:\/\/\S+)\/metrics/.exec(p.stderr)![1]! };
}

async function pipe(url: string): Promise<UpdatePipe> {
  const p = await openPipe(url);
  stops.push(() => p.close());
  return p;
}

/** A listener and a pusher on `url`; resolves once `n` updates went through. */
async function through(url: string, n: number): Promise<void> {
  const listener = await pipe(url);
  const r = new Recorder();
  await listener.listen(r.handler);
  const pusher = await pipe(url);
  for (let i = 1; i <= n; i++) await pusher.push(flagsUpdate(i));
  await waitFor(() => r.updates.length === n, `${n} updates through ${url}`);
}

const scrape = async (base: string): Promise<string> => (await fetch(`${base}/metrics`)).text();
/** prom-client's process and Node.js families (collectDefaultMetrics), what operators' dashboards expect. */
function assertProcessFamilies(text: string): void {
  for (const family of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_version_info']) {
    assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'), family);
  }
  const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1]);
  assert.ok(rss > 1024 * 1024, `resident memory ${rss} bytes`);
}

const health = async (base: string): Promise<{ status: string }> => (await (await fetch(`${base}/health`)).json()) as { status: string };

test('hub --metrics (ws, --insecure-no-auth): clients, relayed updates and /health', async () => {
  const { base, p } = await start(['hub', '--listen', 'ws://127.0.0.1:0/u', '--insecure-no-auth', '--metrics', '127.0.0.1:0']);
  assert.match(p.stderr, /insecure-no-auth: anyone who can reach this port/, 'running without auth is said aloud');
  const url = /hub on (ws:\/\/\S+)/.exec(p.stderr)![1]!;
  await through(url, 12);
  const text = await scrape(base);
  assert.match(text, /updatepipe_hub_clients 2/);
  assert.match(text, /updatepipe_hub_relayed_total 12/);
  assert.match(text, /updatepipe_hub_refused_total 0/);
  assert.match(text, /^# TYPE updatepipe_hub_relayed_total counter$/m);
  assertProcessFamilies(text);
  assert.equal((await health(base)).status, 'ok');
});

test('hub --listen unix: --metrics: the socket owner counts what it relays and says it is healthy', async () => {
  const sock = `unix:${path.join(dir, 'hub.sock')}`;
  const { base } = await start(['hub', '--listen', sock, '--metrics', '127.0.0.1:0']);
  await through(sock, 7);
  await waitFor(async () => /updatepipe_delivered_total\{pipe="hub"\} 7/.test(await scrape(base)), 'hub counted them');
  const text = await scrape(base);
  assert.match(text, /updatepipe_connected\{pipe="hub"\} 1/);
  assert.match(text, /updatepipe_latency_seconds_count 7/);
  assert.match(text, /^# TYPE updatepipe_latency_seconds histogram$/m);
  assert.match(text, /^updatepipe_latency_seconds_bucket\{le="\+Inf"\} 7$/m);
  assertProcessFamilies(text);
  assert.equal((await health(base)).status, 'ok');
});

test('serve-imap --metrics: sessions, selected mailboxes, pipe counters and /health', async () => {
  const sock = `unix:${path.join(dir, 'imap.sock')}`;
  await writeFile(path.join(dir, 'users'), 'alice:secret\n');
  const maildir = path.join(dir, 'mail');
  const { base, p } = await start(['serve-imap', '--maildir', maildir, '--listen', '127.0.0.1:0', '--pipe', sock, '--users', path.join(dir, 'users'), '--metrics', '127.0.0.1:0']);
  const port = Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(p.stderr)![1]);
  const imap = net.connect(port, '127.0.0.1');
  stops.push(async () => imap.destroy());
  let said = '';
  imap.setEncoding('utf8').on('data', (d: string) => (said += d));
  imap.write('a LOGIN alice secret\r\nb SELECT INBOX\r\n');
  await waitFor(() => /\r\nb OK/.test(said), `SELECT answered (got ${JSON.stringify(said)})`);
  const pusher = await pipe(sock);
  await pusher.push({ type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 1, flags: ['\\Seen'] });
  await pusher.push({ type: 'flags', user: 'bob', mailbox: 'INBOX', uid: 1, flags: ['\\Seen'] });
  await waitFor(async () => /updatepipe_delivered_total\{pipe="local"\} 2/.test(await scrape(base)), 'server counted both');
  const text = await scrape(base);
  assert.match(text, /updatepipe_imap_sessions 1/);
  assert.match(text, /updatepipe_imap_trackers 1/);
  assert.match(text, /updatepipe_latency_seconds_count 2/);
  assertProcessFamilies(text);
  assert.equal((await health(base)).status, 'ok');
});

test('relay --metrics: each side counted apart, one latency histogram, forwarded updates and /health', async () => {
  const [from, to] = [`unix:${path.join(dir, 'ra.sock')}`, `unix:${path.join(dir, 'rb.sock')}`];
  const listener = await pipe(to); // one way: the relay only pushes to `to`, so someone listens there first
  const r = new Recorder();
  await listener.listen(r.handler);
  const { base } = await start(['relay', '--from', from, '--to', to, '--one-way', '--metrics', '127.0.0.1:0']);
  const pusher = await pipe(from);
  for (let i = 1; i <= 5; i++) await pusher.push(flagsUpdate(i));
  await waitFor(() => r.updates.filter((x) => x.u.type === 'flags').length === 5, 'relayed to the other side');
  const text = await scrape(base);
  assert.match(text, /^updatepipe_relay_forwarded_total 5$/m);
  assert.match(text, /^updatepipe_delivered_total\{pipe="from"\} 5$/m);
  assert.match(text, /^updatepipe_pushed_total\{pipe="to"\} [56]$/m, 'the five, and the resync a starting relay sends');
  assert.match(text, /^updatepipe_connected\{pipe="to"\} 1$/m);
  assert.match(text, /^updatepipe_latency_seconds_count 5$/m);
  assertProcessFamilies(text);
  assert.deepEqual(Object.keys(await health(base)).slice(0, 3), ['status', 'from', 'to']);
  assert.equal((await health(base)).status, 'ok');
});
