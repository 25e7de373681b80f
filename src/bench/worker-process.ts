import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerSpec } from './spec.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
export type Line = Record<string, unknown>;
const benchLabel = (s: WorkerSpec): string => `bench worker ${s.side} ${s.kind} ${s.transport}`;

/**
 * Node flags that make a child write a CPU profile into $BENCH_PROFILE when it exits
 * (`updatepipe bench --profile DIR` sets it), or none.
 */
export function profileFlags(name = 'process'): string[] {
  const dir = process.env['BENCH_PROFILE'];
  if (!dir) return [];
  // Numbered in start order and named for what the process does, so a run's files sort and read.
  const file = `${String(++profiled).padStart(3, '0')}-${name.replace(/[^A-Za-z0-9.-]+/g, '-')}.cpuprofile`;
  return ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', file];
}
let profiled = 0;

/**
 * A child process that answers in JSON lines on stdout and takes words on stdin, seen from
 * the process that drives it (the bench here, the chaos run in the tests).
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  private readonly queue: Line[] = [];
  private readonly waiters: { resolve: (l: Line) => void; reject: (e: Error) => void }[] = [];
  private exitError: Error | null = null;

  /** `label` names the process in errors; `script` defaults to the bench worker. */
  constructor(
    spec: WorkerSpec | object,
    readonly label = benchLabel(spec as WorkerSpec),
    script = WORKER,
  ) {
    this.child = spawn(process.execPath, [...profileFlags(label.replace(/^bench worker /, '')), script, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let carry = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (carry + d).split('\n');
      carry = lines.pop()!;
      for (const l of lines) {
        if (!l.startsWith('{')) {
          process.stderr.write(`${label}: ${l}\n`); // a library writing to stdout
          continue;
        }
        const v = JSON.parse(l) as Line;
        const w = this.waiters.shift();
        if (w) w.resolve(v);
        else this.queue.push(v);
      }
    });
    this.child.stdin!.on('error', () => {});
    this.child.on('exit', (code, signal) => {
      this.exitError = new Error(`${label} exited (${code ?? signal})`);
      for (const w of this.waiters.splice(0)) w.reject(this.exitError);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The next JSON line, or a rejection if the worker dies or `timeoutMs` passes first. */
  next(timeoutMs = 60_000): Promise<Line> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no answer in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        resolve: (l) => (clearTimeout(timer), resolve(l)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  tell(word: string): void {
    this.child.stdin!.write(`${word}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null) this.child.kill(sig);
  }

  /** Closing stdin asks the worker to exit (so --cpu-prof gets written); SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1_000);
    await exited;
    clearTimeout(timer);
  }
}
