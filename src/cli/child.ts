import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Path of the CLI entry point, for running `updatepipe` as a child process: the executable
 * the package installs (updatepipe.cjs, made by scripts/bundle.mjs), or main.js in a
 * plain `tsc` build without it.
 */
export const CLI_PATH = [new URL('./updatepipe.cjs', import.meta.url), new URL('./main.js', import.meta.url)].map((u) => fileURLToPath(u)).find((p) => existsSync(p))!;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `updatepipe ARGS` to completion. */
export function runCli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** A long-running `updatepipe` child (listen, hub, serve-imap) whose output lines are collected. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  private waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  /**
   * `prefix` runs it through another command first (e.g. `setpriv …` to drop privileges);
   * `nodeFlags` go to node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses).
   */
  constructor(args: string[], env: NodeJS.ProcessEnv = process.env, prefix: readonly string[] = [], nodeFlags: readonly string[] = []) {
    const [cmd, ...rest] = [...prefix, process.execPath, ...nodeFlags, CLI_PATH, ...args];
    this.child = spawn(cmd!, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let carry = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const parts = (carry + d).split('\n');
      carry = parts.pop()!;
      for (const l of parts) {
        this.lines.push(l);
        this.waiters = this.waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Resolves once stderr contains `text` (e.g. "ready"); rejects if the process exits first. */
  async waitStderr(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stderr.includes(text)) {
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) before "${text}": ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}" on stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The next stdout line (already seen or future) matching `pred`. */
  waitLine(pred: (l: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a line; have: ${this.lines.join(' | ')}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}
