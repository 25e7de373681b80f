/**
 * One side of a measurement, in its own process (the orchestrator forks it with a
 * WorkerSpec as JSON). Talks JSON lines on stdout: {"ready":true} once set up, then
 * {"at": ms} (start of sending, or arrival of the last expected update), or latency
 * percentiles, or flood counts; times are on the machine's monotonic clock, comparable
 * across processes. Reads "go" / "report" lines on stdin.
 */
import { createInterface } from 'node:readline';
import { openPipe } from '../pipe/open-pipe.js';
import type { Update } from '../update/update.js';
import * as rawNats from './raw/nats.js';
import * as rawRedis from './raw/redis.js';
import * as rawUnix from './raw/unix.js';
import * as rawWs from './raw/ws.js';
import { sendAtRate } from './raw/frames.js';
import { benchUpdate, monotonicMs, type WorkerSpec } from './spec.js';

const spec = JSON.parse(process.argv[2]!) as WorkerSpec;
const now = monotonicMs;
const say = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
const commands = createInterface({ input: process.stdin });
commands.on('close', () => process.exit(0)); // the orchestrator is gone: never linger
const next = (word: string): Promise<void> => new Promise((r) => commands.on('line', (l) => l.trim() === word && r()));
const raw = { unix: rawUnix, nats: rawNats, jetstream: rawNats, ws: rawWs, redis: rawRedis }[spec.transport];
const pipeOptions = spec.token ? ({ token: spec.token } as object) : {};

async function listen(): Promise<void> {
  let got = 0;
  let resyncs = 0;
  const lat: number[] = [];
  // Latency runs carry the push time in µs in modseq (envelope ts has only ms).
  const arrived = (modseq: number | undefined): void => {
    got++;
    if (!spec.rate) {
      if (got === spec.n) say({ at: now(), got });
      return;
    }
    lat.push(now() - (modseq ?? 0) / 1000);
    if (lat.length === spec.n) {
      // Every sample, to the µs: the orchestrator pools the rounds (stats.ts poolLatency).
      const us = (xs: number[]): number[] => xs.map((x) => Math.round(x * 1000) / 1000);
      const warm = lat.splice(0, spec.warmup ?? 0);
      say({ samples: us(lat), warm: us(warm) });
    }
  };
  if (spec.kind === 'pipe') {
    const pipe = await openPipe(spec.target, pipeOptions);
    await pipe.listen((u) => {
      if (u.type === 'resync') resyncs++;
      else arrived((u as { modseq?: number }).modseq);
    });
  } else await raw.listen(spec, (env) => arrived(env?.update?.modseq));
  say({ ready: true });
  await next('report');
  say({ got, resyncs });
  process.exit(0);
}

/**
 * As fast as the pipe accepts, with at most `IN_FLIGHT` pushes unresolved: sending never
 * stops while acknowledgements are on their way, and nothing piles up in memory.
 */
const IN_FLIGHT = Number(process.env['BENCH_IN_FLIGHT'] ?? 2048);
async function pushAll(push: (i: number) => Promise<void>, until: (i: number) => boolean): Promise<number> {
  let inFlight = 0;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const settled = (): void => {
    inFlight--;
    if (wake && inFlight <= IN_FLIGHT / 2) wake(), (wake = null);
  };
  const failed = (err: unknown): void => {
    failure ??= err;
    settled();
  };
  let i = 0;
  for (; until(i); i++) {
    inFlight++;
    push(i).then(settled, failed);
    if (inFlight >= IN_FLIGHT) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
  }
  while (inFlight > 0) await new Promise<void>((r) => ((wake = r), inFlight === 0 && r()));
  if (failure) throw failure;
  return i;
}

/**
 * The other natural use: `BENCH_CHUNK` pushes at a time, each chunk awaited with
 * Promise.all before the next (BENCH_CHUNK=1000 is how the outside check of issue 13 ran).
 */
const CHUNK = Number(process.env['BENCH_CHUNK'] ?? 0);
async function pushChunks(push: (i: number) => Promise<void>, n: number): Promise<number> {
  for (let i = 0; i < n; ) {
    const chunk: Promise<void>[] = [];
    for (const end = Math.min(n, i + CHUNK); i < end; i++) chunk.push(push(i));
    await Promise.all(chunk);
  }
  return n;
}

/**
 * A steady rate; each update stamped with its push time in µs. No busy-waiting (a spinning
 * pusher would steal the listener's core): timers wake us and we push whatever is due.
 */
async function pushAtRate(push: (u: Update) => Promise<void>, rate: number, n: number): Promise<void> {
  await sendAtRate(rate, n, (i, stamp) => void push({ ...benchUpdate(i), modseq: stamp } as Update).catch(() => {}));
}

async function pushSide(): Promise<void> {
  if (spec.kind !== 'pipe') {
    const go = await raw.push(spec);
    say({ ready: true });
    await next('go');
    say({ at: now() });
    await go();
    say({ done: now() });
    process.exit(0);
  }
  const pipe = await openPipe(spec.target, pipeOptions);
  await pipe.initPush();
  say({ ready: true });
  await next('go');
  say({ at: now() });
  let pushed = spec.n;
  if (spec.rate) await pushAtRate((u) => pipe.push(u), spec.rate, spec.n);
  else if (spec.seconds) {
    const end = now() + spec.seconds * 1000;
    pushed = await pushAll((i) => pipe.push(benchUpdate(i)), (i) => i % 1024 !== 0 || now() < end);
  } else if (CHUNK > 0) await pushChunks((i) => pipe.push(benchUpdate(i)), spec.n);
  else await pushAll((i) => pipe.push(benchUpdate(i)), (i) => i < spec.n);
  await pipe.close().catch(() => {});
  say({ done: now(), pushed });
  process.exit(0);
}

if (spec.side === 'relay') {
  await rawWs.relay(spec);
  say({ ready: true });
} else if (spec.side === 'listen') await listen();
else await pushSide();
