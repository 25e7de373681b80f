import type { Backend, Stage } from './backends.js';
import { memoryOf } from './services.js';
import type { LatencySamples } from './stats.js';
import type { WorkerSpec } from './spec.js';
import { WorkerProcess } from './worker-process.js';

/** Starts listeners one by one (the first may become the socket owner), then the pusher. */
async function cast(b: Backend, stage: Stage, base: Omit<WorkerSpec, 'side' | 'target' | 'transport'>, listeners: number): Promise<{ ls: WorkerProcess[]; p: WorkerProcess }> {
  const common = { ...base, transport: b.transport, ...(stage.token ? { token: stage.token } : {}) };
  const ls: WorkerProcess[] = [];
  for (let k = 0; k < listeners; k++) {
    const l = new WorkerProcess({ ...common, side: 'listen', target: stage.target(k) });
    ls.push(l);
    await l.next(30_000);
  }
  const p = new WorkerProcess({ ...common, side: 'push', target: stage.target(-1), ...(stage.fanout ? { fanout: stage.fanout } : {}) });
  await p.next(30_000);
  return { ls, p };
}

async function teardown(procs: WorkerProcess[], stage: Stage): Promise<void> {
  await Promise.all(procs.map((w) => w.stop()));
  await stage.cleanup();
}

/** Updates/s from one pusher until every listener has all `n`. */
export async function throughput(b: Backend, kind: WorkerSpec['kind'], listeners: number, n: number): Promise<number> {
  const stage = await b.stage(kind, listeners);
  const { ls, p } = await cast(b, stage, { kind, n }, listeners).catch(async (err: Error) => {
    await stage.cleanup();
    throw err;
  });
  try {
    p.tell('go');
    const start = (await p.next())['at'] as number;
    const ends = await Promise.all(ls.map(async (l) => (await l.next(120_000))['at'] as number));
    return Math.round((n / (Math.max(...ends) - start)) * 1000);
  } finally {
    await teardown([...ls, p], stage);
  }
}

/** Push→handler latency at a fixed rate, one listener: every sample after `warmupSeconds`, and the warm-up's apart. */
export async function latency(b: Backend, rate: number, seconds: number, warmupSeconds: number, kind: 'pipe' | 'raw' = 'pipe'): Promise<LatencySamples> {
  const stage = await b.stage(kind, 1);
  const warmup = Math.round(rate * warmupSeconds);
  const { ls, p } = await cast(b, stage, { kind, n: Math.round(rate * seconds) + warmup, rate, warmup }, 1);
  try {
    p.tell('go');
    await p.next();
    const r = await ls[0]!.next((seconds + warmupSeconds) * 1000 + 60_000);
    return { samples: r['samples'] as number[], warm: r['warm'] as number[] };
  } finally {
    await teardown([...ls, p], stage);
  }
}

export interface Flood {
  pushed: number;
  /** RSS of the process that relays (unix: the owning listener; ws: the hub), before and at peak. */
  relayIdle: number;
  relayPeak: number;
  /** A plain listener that keeps up. */
  listenerIdle: number;
  listenerPeak: number;
  listenerGot: number;
  /** A listener stopped (SIGSTOP) for most of the flood, then continued. */
  stalledGot: number;
  stalledResyncs: number;
}

/**
 * A pusher floods for `seconds` at full speed to three listeners; the third is frozen
 * with SIGSTOP for the middle 60% of the flood. Memory is sampled from /proc.
 */
export async function flood(b: Backend, seconds: number): Promise<Flood | null> {
  const stage = await b.stage('pipe', 3);
  const { ls, p } = await cast(b, stage, { kind: 'pipe', n: 0, seconds }, 3);
  const relayPid = stage.hubPid ?? ls[0]!.pid;
  const listenerPid = stage.hubPid ? ls[0]!.pid : ls[1]!.pid;
  try {
    const idle = [memoryOf(relayPid), memoryOf(listenerPid)];
    if (!idle[0] || !idle[1]) return null;
    const peaks = [idle[0].rss, idle[1].rss];
    const sampler = setInterval(() => {
      [relayPid, listenerPid].forEach((pid, i) => (peaks[i] = Math.max(peaks[i]!, memoryOf(pid)?.rss ?? 0)));
    }, 50);
    p.tell('go');
    await p.next();
    const stalled = ls[2]!;
    setTimeout(() => stalled.signal('SIGSTOP'), seconds * 200);
    setTimeout(() => stalled.signal('SIGCONT'), seconds * 800);
    const pushed = (await p.next(seconds * 1000 + 60_000))['pushed'] as number;
    await new Promise((r) => setTimeout(r, 2_000)); // let the stalled one catch up and resync
    clearInterval(sampler);
    const reports = [];
    for (const l of ls) {
      l.tell('report');
      reports.push(await l.next());
    }
    const healthy = stage.hubPid ? reports[0]! : reports[1]!;
    return {
      pushed,
      relayIdle: idle[0].rss,
      relayPeak: peaks[0]!,
      listenerIdle: idle[1].rss,
      listenerPeak: peaks[1]!,
      listenerGot: healthy['got'] as number,
      stalledGot: reports[2]!['got'] as number,
      stalledResyncs: reports[2]!['resyncs'] as number,
    };
  } finally {
    await teardown([...ls, p], stage);
  }
}
