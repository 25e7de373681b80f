import net from 'node:net';
import type { WorkerSpec } from '../spec.js';
import { frameCounter, rawBatch, rawFrame } from './frames.js';

/** Baseline receiver: a plain Unix socket server decoding frames. */
export function listen(spec: WorkerSpec, onUpdates: (count: number) => void): Promise<void> {
  const count = frameCounter(onUpdates);
  const server = net.createServer((s) => s.on('data', count));
  return new Promise((resolve) => server.listen(spec.target, resolve));
}

function connect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes every update to every listener's socket: one write per update, or batched. */
export async function push(spec: WorkerSpec): Promise<() => Promise<void>> {
  const socks = await Promise.all((spec.fanout ?? [spec.target]).map(connect));
  return async () => {
    const step = spec.kind === 'raw' ? 1 : 512;
    for (let i = 0; i < spec.n; i += step) {
      const buf = spec.kind === 'raw' ? rawFrame(i) : rawBatch(i, spec.n);
      for (const s of socks) s.write(buf);
      // Checked after all writes: a socket may drain while we wait for another one.
      for (const s of socks) if (s.writableNeedDrain) await new Promise((r) => s.once('drain', r));
    }
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.end(r))));
  };
}
