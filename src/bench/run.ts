import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { natsBackend, redisBackend, unixBackend, wsBackend, type Backend } from './backends.js';
import { renderChart, type ChartPoint } from './chart.js';
import { deliveryToIdle, editToIdle } from './edit-to-idle.js';
import type { BenchResult } from './result.js';
import { flood, latency, throughput } from './scenarios.js';
import { startNats, startRedis, type Service } from './services.js';
import { startup } from './startup.js';
import { pairedRatio, poolLatency, summarize, type Latency, type LatencySamples, type Rounds } from './stats.js';

export type { BenchResult } from './result.js';
export { formatTable } from './result.js';

export interface BenchOptions {
  /** quick: the < 3 minute run; smoke: tiny sizes, for tests that every scenario runs. */
  size: 'full' | 'quick' | 'smoke';
  json?: string;
  /**
   * Run only the scenarios whose name contains one of these (case-insensitive; `->` stands
   * for `→`), e.g. ["unix pipe throughput"]. Empty or absent: all of them.
   */
  only?: string[];
  /** Every forked bench process (pushers, listeners, hubs) writes a CPU profile here. */
  profile?: string;
  progress: (line: string) => void;
}

/** The name filter of `--only`. */
export function nameFilter(only: readonly string[] | undefined): (name: string) => boolean {
  const fs = (only ?? []).map((f) => f.trim().toLowerCase().replaceAll('->', '→')).filter((f) => f !== '');
  return (name) => fs.length === 0 || fs.some((f) => name.toLowerCase().includes(f));
}

/**
 * `warm`: seconds at the rate before latency counts. At 1k/s V8 goes on compiling the
 * pipe's hot path with TurboFan for 3–5 s after the pusher starts (`--log-code`: 68–111
 * optimized functions in each of listener, hub and pusher, against 47–56 in the raw
 * baselines'), and on 2 cores those compiles stretch the tail: ws p99 0.97–1.73 ms after
 * 2 s of warm-up (ten runs), 0.42–1.24 after 5 (seven, six under 1 ms). The warm-up's own
 * p99 is reported beside the steady state's.
 *
 * `e2eRuns`: `mail add` → EXISTS has a long tail here (120–210 ms around a 135 ms median),
 * so the median of 20 moved by up to 15 ms between two sets of the same build (+24 and
 * +47 ms over `node -e 0`); sets of 60 agreed within 2 ms (+28.6/+28.1, +30.5/+28.9).
 */
const SIZES = {
  full: { n: 200_000, nJs: 50_000, rounds: 3, lat1k: 5, lat10k: 3, warm: 5, flood: 10, startupRuns: 15, e2eRuns: 60, deliveries: 200 },
  quick: { n: 50_000, nJs: 20_000, rounds: 1, lat1k: 2, lat10k: 1, warm: 3, flood: 10, startupRuns: 5, e2eRuns: 5, deliveries: 50 },
  smoke: { n: 2_000, nJs: 1_000, rounds: 1, lat1k: 0.5, lat10k: 0.2, warm: 0.2, flood: 2, startupRuns: 1, e2eRuns: 1, deliveries: 2 },
};

/** Backends held to the SPEC §8 ratio and latency goals (JetStream is reported beside them). */
const GOAL_BACKENDS = new Set(['unix', 'nats core', 'ws']);
const MiB = 1024 * 1024;
const DOVECOT_MS = 515;

export function machine(): string {
  return `node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length}× ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB`;
}

/** Runs every scenario; every figure sits beside a baseline measured in this same run. */
export async function runBench(o: BenchOptions): Promise<BenchResult[]> {
  const z = SIZES[o.size];
  const want = nameFilter(o.only);
  if (o.profile) {
    await mkdir(o.profile, { recursive: true });
    process.env['BENCH_PROFILE'] = path.resolve(o.profile);
  }
  const throughputName = (label: string, listeners: number): string => `${label} pipe throughput 1→${listeners}`;
  const latencyName = (label: string, rate: number): string => `${label} push→handler latency at ${rate / 1000}k/s`;
  const wanted = (label: string): boolean => [1, 4].some((k) => want(throughputName(label, k))) || [1000, 10_000].some((r) => want(latencyName(label, r)));
  const results: BenchResult[] = [];
  const services: Service[] = [];
  const failed = (name: string, unit: string, err: unknown): void => {
    o.progress(`${name}: FAILED (${(err as Error).message})`);
    results.push({ name, value: NaN, unit, error: (err as Error).message });
  };
  /**
   * Measurements taken in turn, one round of each after the other, so that every series
   * meets the same moments of a machine whose speed drifts within seconds; ratios are then
   * taken round by round (pairedRatio), not between medians of different minutes.
   */
  const inTurn = async (series: readonly { label: string; run: () => Promise<number> }[]): Promise<number[][]> => {
    const xs = series.map((): number[] => []);
    for (let i = 0; i < z.rounds; i++) {
      for (const [k, s] of series.entries()) {
        o.progress(`${s.label}${z.rounds > 1 ? ` (round ${i + 1}/${z.rounds})` : ''}`);
        xs[k]!.push(await s.run());
      }
    }
    return xs;
  };
  const spread = (s: Rounds): Pick<BenchResult, 'spread' | 'rounds'> => (s.rounds > 1 ? { spread: [s.min, s.max], rounds: s.rounds } : {});

  try {
    const nats = wanted('nats core') || wanted('jetstream') ? await startNats() : null;
    const redis = [1, 4].some((k) => want(`redis+JSON notifier throughput 1→${k}`)) ? await startRedis() : null;
    for (const s of [nats, redis]) if (s) services.push(s);
    if (!nats && (wanted('nats core') || wanted('jetstream'))) o.progress('nats-server not found: NATS scenarios skipped (apt-get install nats-server)');
    if (!redis && [1, 4].some((k) => want(`redis+JSON notifier throughput 1→${k}`))) o.progress('redis-server not found: the Redis+JSON baseline is skipped (apt-get install redis-server)');
    const backends: Backend[] = [unixBackend, ...(nats ? [natsBackend(nats, 'nats'), natsBackend(nats, 'jetstream')] : []), wsBackend];

    // Throughput: the pipe beside raw one-write and hand-batched baselines, 1 → 1 and 1 → 4,
    // in turn round by round; the Redis notifier takes its turns among the unix pipe's.
    for (const listeners of [1, 4]) {
      const redisName = `redis+JSON notifier throughput 1→${listeners}`;
      const redisWanted = redis !== null && want(redisName);
      let redisRounds: number[] | null = null;
      const measureRedis = async (): Promise<number> => throughput(redisBackend(redis!), 'raw', listeners, z.n);
      const reportRedis = (xs: number[]): void => {
        redisRounds = xs;
        const s = summarize(xs);
        results.push({ name: redisName, value: s.median, unit: 'updates/s', ...spread(s), ...(listeners === 1 ? { chart: { panel: 'throughput' as const, backend: 'redis', series: 'redis+JSON' } } : {}) });
      };
      if (redisWanted && !want(throughputName(unixBackend.label, listeners))) {
        try {
          reportRedis((await inTurn([{ label: `${redisName}, ${z.n}`, run: measureRedis }]))[0]!);
        } catch (err) {
          failed(redisName, 'updates/s', err);
        }
      }
      for (const b of backends) {
        const n = b.transport === 'jetstream' ? z.nJs : z.n;
        const name = throughputName(b.label, listeners);
        if (!want(name)) continue;
        // A failing Redis must not take the pipe's figures with it.
        let redisError: unknown = null;
        const withRedis = redisWanted && b === unixBackend;
        try {
          const [raw, batched, pipe, redisXs] = await inTurn([
            { label: `${b.label} raw, one write per update, 1→${listeners}, ${n}`, run: () => throughput(b, 'raw', listeners, n) },
            { label: `${b.label} raw, hand-batched, 1→${listeners}, ${n}`, run: () => throughput(b, 'raw-batched', listeners, n) },
            { label: `${b.label} pipe, 1→${listeners}, ${n}`, run: () => throughput(b, 'pipe', listeners, n) },
            ...(withRedis ? [{ label: `${redisName}, ${z.n}`, run: () => (redisError !== null ? Promise.resolve(NaN) : measureRedis().catch((err: unknown) => ((redisError = err), NaN))) }] : []),
          ]);
          if (withRedis) {
            if (redisError !== null) failed(redisName, 'updates/s', redisError);
            else reportRedis(redisXs!);
          }
          const [r, bt, p] = [summarize(raw!), summarize(batched!), summarize(pipe!)];
          const vsRaw = pairedRatio(pipe!, raw!);
          const vsBatched = pairedRatio(pipe!, batched!);
          const goals = GOAL_BACKENDS.has(b.label);
          const ch = (series: string): Pick<BenchResult, 'chart'> => (listeners === 1 ? { chart: { panel: 'throughput', backend: b.label, series } } : {});
          results.push({ name: `${name} vs raw (one write per update)`, value: p.median, unit: 'updates/s', ...spread(p), baseline: { name: `raw ${b.label}, one write per update`, value: r.median }, ratio: vsRaw, ...(goals ? { goal: { text: '≥ 1.0×', met: vsRaw >= 1 } } : {}), ...ch('pipe') });
          results.push({ name: `${name} vs raw (hand-batched)`, value: p.median, unit: 'updates/s', ...spread(p), baseline: { name: `raw ${b.label}, hand-batched`, value: bt.median }, ratio: vsBatched, ...(goals ? { goal: { text: '≥ 0.8×', met: vsBatched >= 0.8 } } : {}) });
          if (listeners === 1) {
            results.push({ name: `raw ${b.label} throughput 1→1, one write per update`, value: r.median, unit: 'updates/s', ...spread(r), chart: { panel: 'throughput', backend: b.label, series: 'raw, one write per update' } });
            results.push({ name: `raw ${b.label} throughput 1→1, hand-batched`, value: bt.median, unit: 'updates/s', ...spread(bt), chart: { panel: 'throughput', backend: b.label, series: 'raw, hand-batched' } });
          }
          const rx: number[] | null = redisRounds;
          if (rx) {
            // Round by round where Redis took its turns among these; else between medians.
            const vsRedis = withRedis ? pairedRatio(pipe!, rx) : p.median / summarize(rx).median;
            results.push({ name: `${name} vs Redis+JSON`, value: p.median, unit: 'updates/s', baseline: { name: 'redis pub/sub + JSON', value: summarize(rx).median }, ratio: vsRedis, ...(b.label === 'unix' ? { goal: { text: '≥ 3×', met: vsRedis >= 3 } } : {}) });
          }
        } catch (err) {
          failed(name, 'updates/s', err);
        }
      }
    }

    // Latency at fixed rates.
    for (const b of backends) {
      for (const [rate, seconds] of [[1000, z.lat1k], [10_000, z.lat10k]] as const) {
        const tag = `${rate / 1000}k/s`;
        const name = latencyName(b.label, rate);
        if (!want(name)) continue;
        try {
          // The raw transport at the same rate shows what the machine and the broker or relay
          // add by themselves (JetStream's raw baseline measures throughput only). At the
          // goal's rate the two take their rounds in turn, so both meet the same minutes of
          // the machine, and each figure is over all rounds' samples (stats.ts poolLatency).
          const rounds = rate === 1000 ? z.rounds : 1;
          const pipeRuns: LatencySamples[] = [];
          const rawRuns: LatencySamples[] = [];
          const hasRaw = b.transport !== 'jetstream';
          for (let r = 1; r <= rounds; r++) {
            o.progress(`${name}, ${seconds} s after ${z.warm} s of warm-up${rounds > 1 ? ` (round ${r}/${rounds})` : ''}`);
            // Pipe first in odd rounds, raw first in even ones: a drift within a round favours neither.
            if (hasRaw && r % 2 === 0) rawRuns.push(await latency(b, rate, seconds, z.warm, 'raw'));
            pipeRuns.push(await latency(b, rate, seconds, z.warm));
            if (hasRaw && r % 2 === 1) rawRuns.push(await latency(b, rate, seconds, z.warm, 'raw'));
          }
          const l = poolLatency(pipeRuns);
          const raw = rawRuns.length > 0 ? poolLatency(rawRuns) : null;
          const held = GOAL_BACKENDS.has(b.label) && rate === 1000;
          const rawName = { unix: 'raw unix socket', nats: 'raw nats.js publish → subscribe', ws: 'raw ws through a forwarding relay' }[b.transport as 'unix' | 'nats' | 'ws'];
          const vsRaw = (q: 'p50' | 'p99' | 'p999' | 'warmP99'): Pick<BenchResult, 'baseline' | 'ratio'> => (raw ? { baseline: { name: `${rawName}, same rate`, value: raw[q] }, ratio: l[q] / raw[q] } : {});
          const ownP99 = (x: Latency): Pick<BenchResult, 'spread' | 'rounds'> => (x.rounds > 1 ? { spread: x.p99Spread, rounds: x.rounds } : {});
          results.push({ name: `${name} p50`, value: l.p50, unit: 'ms', ...vsRaw('p50'), chart: { panel: 'latency', backend: b.label, series: `p50 at ${tag}` } });
          results.push({ name: `${name} p99`, value: l.p99, unit: 'ms', ...ownP99(l), ...vsRaw('p99'), ...(held ? { goal: { text: '< 1 ms', met: l.p99 < 1 } } : {}), chart: { panel: 'latency', backend: b.label, series: `p99 at ${tag}` } });
          results.push({ name: `${name} p99.9`, value: l.p999, unit: 'ms', ...vsRaw('p999') });
          results.push({ name: `${name} p99 during the ${z.warm} s warm-up`, value: l.warmP99, unit: 'ms', ...vsRaw('warmP99') });
          if (raw && rate === 1000) {
            // Only the raw unix socket is drawn: the chart's floor for every backend.
            const chartAs = (series: string): Pick<BenchResult, 'chart'> => (b.transport === 'unix' ? { chart: { panel: 'latency', backend: 'raw unix', series } } : {});
            results.push({ name: `${rawName} latency at ${tag} p99`, value: raw.p99, unit: 'ms', ...ownP99(raw), ...chartAs(`p99 at ${tag}`) });
            results.push({ name: `${rawName} latency at ${tag} p50`, value: raw.p50, unit: 'ms', ...chartAs(`p50 at ${tag}`) });
          }
        } catch (err) {
          failed(name, 'ms', err);
        }
      }
    }

    // Memory under a flood, with one consumer stalled.
    for (const b of [unixBackend, wsBackend]) {
      const name = `${b.label} flood ${z.flood} s with a stalled consumer`;
      if (!want(name)) continue;
      try {
        o.progress(name);
        const f = await flood(b, z.flood);
        if (!f) {
          o.progress(`${name}: no /proc here, memory not measured`);
          continue;
        }
        const relay = b.transport === 'unix' ? 'socket-owning listener' : 'hub';
        const bounded = f.relayPeak < f.relayIdle + 256 * MiB && f.listenerPeak < f.listenerIdle + 256 * MiB;
        const coped = f.stalledResyncs > 0 || f.stalledGot === f.pushed;
        results.push({ name: `${b.label} ${relay} peak RSS under a ${z.flood} s flood`, value: f.relayPeak / MiB, unit: 'MiB', baseline: { name: 'idle RSS', value: f.relayIdle / MiB }, ratio: f.relayPeak / f.relayIdle, goal: { text: 'bounded', met: bounded } });
        results.push({ name: `${b.label} listener peak RSS under a ${z.flood} s flood`, value: f.listenerPeak / MiB, unit: 'MiB', baseline: { name: 'idle RSS', value: f.listenerIdle / MiB }, ratio: f.listenerPeak / f.listenerIdle, goal: { text: 'bounded', met: bounded } });
        results.push({ name: `${b.label} flood: updates a keeping-up listener got`, value: f.listenerGot, unit: 'updates', baseline: { name: 'pushed', value: f.pushed }, ratio: f.listenerGot / f.pushed, goal: { text: 'all', met: f.listenerGot === f.pushed } });
        results.push({ name: `${b.label} flood: resyncs the stalled listener got`, value: f.stalledResyncs, unit: 'resyncs', baseline: { name: `updates it got of ${f.pushed}`, value: f.stalledGot }, goal: { text: 'resync or all', met: coped } });
      } catch (err) {
        failed(name, 'MiB', err);
      }
    }

    // CLI start-up.
    if (want('updatepipe push start-up vs node -e 0')) try {
      o.progress('CLI start-up: updatepipe push vs node -e 0');
      const st = await startup(z.startupRuns);
      results.push({ name: 'updatepipe push start-up vs node -e 0', value: st.push, unit: 'ms', baseline: { name: 'node -e 0', value: st.bare }, ratio: st.push / st.bare, goal: { text: '≤ 1.5×', met: st.push <= 1.5 * st.bare } });
    } catch (err) {
      failed('updatepipe push start-up vs node -e 0', 'ms', err);
    }

    // Offline edit → IDLE client.
    const e2eName = 'offline mail add → imapflow IDLE exists (median)';
    if (want(e2eName)) try {
      o.progress(`end to end: ${e2eName}, ${z.e2eRuns} runs`);
      const e = await editToIdle(z.e2eRuns);
      if (!e) o.progress('imapflow is not installed (dev dependency): end-to-end scenario skipped');
      else {
        const spread = z.e2eRuns > 1 ? { spread: [e.min, e.max] as [number, number], rounds: z.e2eRuns } : {};
        results.push({ name: e2eName, value: e.median, unit: 'ms', ...spread, baseline: { name: "Dovecot doveadm → IDLE (SPEC §8)", value: DOVECOT_MS }, ratio: e.median / DOVECOT_MS, goal: { text: '≤ 0.2× (5× faster)', met: e.median * 5 <= DOVECOT_MS } });
        // Node's own start is the floor of any CLI; what the edit adds above it is ours.
        results.push({ name: `${e2eName} vs node -e 0`, value: e.median, unit: 'ms', ...spread, baseline: { name: 'node -e 0, same runs', value: e.bare.median }, ratio: e.median / e.bare.median, goal: { text: '≤ node -e 0 + 25 ms', met: e.median <= e.bare.median + 25 } });
        results.push({ name: 'offline mail add: the CLI from spawn to exit (median)', value: e.cli.median, unit: 'ms', spread: [e.cli.min, e.cli.max], rounds: z.e2eRuns });
      }
    } catch (err) {
      failed(e2eName, 'ms', err);
    }

    // An MDA's delivery → IDLE client, through serve-imap's Maildir watcher.
    const mdaName = 'Maildir delivery (rename into new/) → imapflow IDLE exists';
    if (want(mdaName)) try {
      o.progress(`end to end: ${mdaName}, ${z.deliveries} deliveries`);
      const d = await deliveryToIdle(z.deliveries);
      if (d) {
        const dovecot = { name: 'Dovecot IDLE notify delay (SPEC §8)', value: 500 };
        results.push({ name: `${mdaName} (median)`, value: d.median, unit: 'ms', spread: [d.min, d.max], rounds: z.deliveries, baseline: dovecot, ratio: d.median / dovecot.value, goal: { text: '≤ 20 ms', met: d.median <= 20 } });
        results.push({ name: `${mdaName} (p99)`, value: d.p99, unit: 'ms', baseline: dovecot, ratio: d.p99 / dovecot.value });
      }
    } catch (err) {
      failed(mdaName, 'ms', err);
    }
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }

  if (o.json) {
    const { toJson } = await import('./result.js');
    await writeFile(o.json, JSON.stringify({ machine: machine(), size: o.size, date: new Date().toISOString(), results: toJson(results) }, null, 2) + '\n');
    const svg = o.json.replace(/\.json$/i, '') + '.svg';
    await writeFile(svg, chartOf(results));
    o.progress(`wrote ${o.json} and ${svg}`);
  }
  return results;
}

function chartOf(results: BenchResult[]): string {
  const points = (panel: 'throughput' | 'latency'): ChartPoint[] =>
    results.filter((r) => r.chart?.panel === panel && !r.error).map((r) => ({ backend: r.chart!.backend, series: r.chart!.series, value: r.value }));
  return renderChart({ throughput: points('throughput'), latency: points('latency'), caption: `${machine()}, ${new Date().toISOString().slice(0, 10)}` });
}
