import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One figure: a value beside the baseline it is compared with, measured in the same run. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  ratio?: number;
  /** true when higher is better (throughput), false for times. */
  higherIsBetter: boolean;
}

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function worker(role: string, socket: string, n: number, env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; next: () => Promise<Record<string, number | boolean>> } {
  const child = spawn(process.execPath, [WORKER, role, socket, String(n)], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const queue: Record<string, number | boolean>[] = [];
  const waiters: ((v: Record<string, number | boolean>) => void)[] = [];
  let carry = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (carry + d).split('\n');
    carry = lines.pop()!;
    for (const l of lines) {
      const v = JSON.parse(l) as Record<string, number | boolean>;
      const w = waiters.shift();
      if (w) w(v);
      else queue.push(v);
    }
  });
  const next = (): Promise<Record<string, number | boolean>> =>
    queue.length ? Promise.resolve(queue.shift()!) : new Promise((r, j) => {
      waiters.push(r);
      child.once('exit', (code) => code && j(new Error(`bench worker ${role} exited ${code}`)));
    });
  return { child, next };
}

/** Updates/s from a pusher process to a listener process over one Unix socket path. */
async function throughput(listenRole: string, pushRole: string, n: number): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bench-'));
  const socket = path.join(dir, 's.sock');
  try {
    const l = worker(listenRole, socket, n);
    await l.next();
    const p = worker(pushRole, socket, n);
    await p.next();
    p.child.stdin!.write('go\n');
    const start = (await p.next())['at'] as number;
    const end = (await l.next())['at'] as number;
    p.child.kill();
    return Math.round((n / (end - start)) * 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function latency(rate: number, seconds: number): Promise<{ p50: number; p99: number; p999: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bench-'));
  const socket = path.join(dir, 's.sock');
  const n = rate * seconds;
  try {
    const l = worker('latency-listen', socket, n);
    await l.next();
    const p = worker('latency-push', socket, n, { ...process.env, BENCH_RATE: String(rate) });
    await p.next();
    p.child.stdin!.write('go\n');
    const r = await l.next();
    p.child.kill();
    return { p50: r['p50'] as number, p99: r['p99'] as number, p999: r['p999'] as number };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function timeCommand(args: string[], runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t = performance.now();
    spawnSync(process.execPath, args, { stdio: 'ignore' });
    if (i >= 2) samples.push(performance.now() - t); // two warm-up runs
  }
  return median(samples);
}

async function startup(runs: number): Promise<{ push: number; bare: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bench-'));
  const url = `unix:${path.join(dir, 's.sock')}`;
  const listener = spawn(process.execPath, [CLI, 'listen', '--pipe', url], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise<void>((r) => listener.stderr!.on('data', (d: Buffer) => d.toString().includes('ready') && r()));
    return { push: timeCommand([CLI, 'push', '--pipe', url, '{"type":"resync","user":"bench"}'], runs), bare: timeCommand(['-e', '0'], runs) };
  } finally {
    listener.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface BenchOptions {
  quick: boolean;
  json?: string;
  progress: (line: string) => void;
}

/** Runs every scenario this build measures; each figure sits beside its baseline. */
export async function runBench(o: BenchOptions): Promise<BenchResult[]> {
  const n = o.quick ? 50_000 : 200_000;
  const rounds = o.quick ? 1 : 3;
  const results: BenchResult[] = [];
  const med = async (label: string, f: () => Promise<number>): Promise<number> => {
    const xs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      o.progress(`${label} (round ${i + 1}/${rounds})`);
      xs.push(await f());
    }
    return median(xs);
  };
  const raw = await med(`unix raw, one write per update, ${n}`, () => throughput('raw-listen', 'raw-push', n));
  const batched = await med(`unix raw, hand-batched writes, ${n}`, () => throughput('raw-listen', 'raw-push-batched', n));
  const pipe = await med(`unix pipe, ${n}`, () => throughput('pipe-listen', 'pipe-push', n));
  results.push({ name: 'unix pipe throughput vs raw (one write per update)', value: pipe, unit: 'updates/s', baseline: { name: 'raw unix, one write per update', value: raw }, ratio: pipe / raw, higherIsBetter: true });
  results.push({ name: 'unix pipe throughput vs raw (hand-batched)', value: pipe, unit: 'updates/s', baseline: { name: 'raw unix, hand-batched', value: batched }, ratio: pipe / batched, higherIsBetter: true });
  o.progress('latency at 1,000 updates/s');
  const lat = await latency(1000, o.quick ? 2 : 5);
  results.push({ name: 'unix push→handler latency p50 at 1k/s', value: lat.p50, unit: 'ms', higherIsBetter: false });
  results.push({ name: 'unix push→handler latency p99 at 1k/s', value: lat.p99, unit: 'ms', baseline: { name: 'goal', value: 1 }, ratio: lat.p99 / 1, higherIsBetter: false });
  results.push({ name: 'unix push→handler latency p99.9 at 1k/s', value: lat.p999, unit: 'ms', higherIsBetter: false });
  o.progress('CLI start-up');
  const st = await startup(o.quick ? 5 : 15);
  results.push({ name: 'updatepipe push start-up vs node -e 0', value: st.push, unit: 'ms', baseline: { name: 'node -e 0', value: st.bare }, ratio: st.push / st.bare, higherIsBetter: false });
  if (o.json) await writeFile(o.json, JSON.stringify(results.map(({ higherIsBetter: _h, ...r }) => r), null, 2) + '\n');
  return results;
}

export function formatTable(results: BenchResult[]): string {
  const rows = results.map((r) => [
    r.name,
    `${r.value >= 100 ? Math.round(r.value).toLocaleString('en') : r.value.toFixed(3)} ${r.unit}`,
    r.baseline ? `${r.baseline.value >= 100 ? Math.round(r.baseline.value).toLocaleString('en') : r.baseline.value.toFixed(3)} (${r.baseline.name})` : '',
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '',
  ]);
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 6));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ')).join('\n');
}
