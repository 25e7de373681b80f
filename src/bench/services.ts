import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A loopback port nobody is using right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** An executable on PATH (or in the sbin dirs apt uses), or null. */
export function findBinary(name: string): string | null {
  const which = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  for (const dir of ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin']) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  return null;
}

/** Resolves once `child` listens on the loopback `port`; `log` adds its output to errors. */
export async function waitPort(port: number, child: ChildProcess, name: string, log: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A private server process on a free loopback port, with its own temp dir. */
export interface Service {
  port: number;
  stop(): Promise<void>;
}

async function startService(name: string, args: (port: number, dir: string) => string[]): Promise<Service | null> {
  const bin = findBinary(name);
  if (!bin) return null;
  const dir = await mkdtemp(path.join(os.tmpdir(), `up-bench-${name}-`));
  const port = await freePort();
  const child = spawn(bin, args(port, dir), { stdio: 'ignore' });
  const orphanGuard = (): void => void child.kill('SIGKILL'); // never outlive the bench
  process.once('exit', orphanGuard);
  await waitPort(port, child, name);
  return {
    port,
    async stop() {
      process.off('exit', orphanGuard);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const startNats = (): Promise<Service | null> => startService('nats-server', (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]);
export const startRedis = (): Promise<Service | null> =>
  startService('redis-server', (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);

/** Resident set size of a process now and at its peak, bytes (Linux /proc; null elsewhere). */
export function memoryOf(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return null;
  }
}
