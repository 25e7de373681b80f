import net from 'node:net';
import { BATCH, type WorkerSpec } from '../spec.js';
import { frameReader, type RawEnvelope, rawBatchFrame, rawFrame, sendAtRate } from './frames.js';

/** Baseline receiver: a plain Unix socket server decoding frames. */
export function listen(spec: WorkerSpec, onUpdate: (env: RawEnvelope) => void): Promise<void> {
  const read = frameReader(onUpdate);
  const server = net.createServer((s) => s.on('data', read));
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
  if (spec.rate) return () => pushAtRate(socks, spec.rate!, spec.n);
  return async () => {
    const step = spec.kind === 'raw' ? 1 : BATCH;
    for (let i = 0; i < spec.n; i += step) {
      const buf = spec.kind === 'raw' ? rawFrame(i) : rawBatchFrame(i, spec.n);
      for (const s of socks) s.write(buf);
      // Checked after all writes: a socket may drain while we wait for another one.
      for (const s of socks) if (s.writableNeedDrain) await new Promise((r) => s.once('drain', r));
    }
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.end(r))));
  };
}

/** The latency baseline: frames at a steady rate, stamped like the pipe's (µs in modseq). */
async function pushAtRate(socks: net.Socket[], rate: number, n: number): Promise<void> {
  await sendAtRate(rate, n, (i, stamp) => {
    const frame = rawFrame(i, stamp);
    for (const s of socks) s.write(frame);
  });
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.end(r))));
}
