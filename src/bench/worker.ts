/**
 * One side of a throughput measurement, in its own process (the orchestrator forks it).
 * Prints JSON lines: {"ready":true} once set up, then {"at": ms} (start of sending, or
 * arrival of the last of `n` updates), in `performance.timeOrigin` time.
 */
import net from 'node:net';
import { decodeEnvelope, encodeEnvelope, unpackValue } from '../envelope/codec.js';
import { encodeFrame, FrameDecoder } from '../envelope/frame.js';
import { openPipe } from '../pipe/open-pipe.js';
import type { Update } from '../update/update.js';

const [role, socket, nText] = process.argv.slice(2) as [string, string, string];
const n = Number(nText);
const now = (): number => performance.timeOrigin + performance.now();
const say = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
export const benchUpdate = (i: number): Update => ({ type: 'flags', user: 'alice@example.org', mailbox: 'INBOX', uid: (i % 100_000) + 1, flags: ['\\Seen', '\\Flagged'] });
const rawFrame = (i: number): Buffer => encodeFrame(3, encodeEnvelope({ v: 1, origin: 'raw', seq: i + 1, ts: Date.now(), update: benchUpdate(i) }));
const waitGo = (): Promise<void> => new Promise((r) => process.stdin.once('data', () => r()));

switch (role) {
  case 'raw-listen': {
    // Baseline receiver: frames decoded (plain msgpack), no validation, no dedup.
    let got = 0;
    const server = net.createServer((s) => {
      const d = new FrameDecoder(1 << 20);
      s.on('data', (c: Buffer) =>
        d.push(c, (_k, body) => {
          unpackValue(body);
          if (++got === n) {
            say({ at: now() });
            process.exit(0);
          }
        }),
      );
    });
    server.listen(socket, () => say({ ready: true }));
    break;
  }
  case 'raw-push':
  case 'raw-push-batched': {
    const s = net.connect(socket, async () => {
      say({ ready: true });
      await waitGo();
      say({ at: now() });
      if (role === 'raw-push') {
        for (let i = 0; i < n; i++) if (!s.write(rawFrame(i))) await new Promise((r) => s.once('drain', r));
      } else {
        for (let i = 0; i < n; i += 512) {
          const batch: Buffer[] = [];
          for (let k = i; k < Math.min(n, i + 512); k++) batch.push(rawFrame(k));
          if (!s.write(Buffer.concat(batch))) await new Promise((r) => s.once('drain', r));
        }
      }
      s.end();
    });
    break;
  }
  case 'pipe-listen': {
    let got = 0;
    const pipe = await openPipe(`unix:${socket}`);
    await pipe.listen(() => {
      if (++got === n) {
        say({ at: now() });
        process.exit(0);
      }
    });
    say({ ready: true });
    break;
  }
  case 'pipe-push': {
    const pipe = await openPipe(`unix:${socket}`);
    await pipe.initPush();
    say({ ready: true });
    await waitGo();
    say({ at: now() });
    const window: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      window.push(pipe.push(benchUpdate(i)));
      if (window.length >= 8192) await Promise.all(window.splice(0));
    }
    await Promise.all(window);
    await pipe.close();
    break;
  }
  case 'latency-push': {
    // A steady rate; each update carries its push time in µs (in modseq) for µs resolution.
    const rate = Number(process.env['BENCH_RATE'] ?? 1000);
    const pipe = await openPipe(`unix:${socket}`);
    await pipe.initPush();
    say({ ready: true });
    await waitGo();
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait - 1));
      else await new Promise((r) => setImmediate(r)); // let the last push go out
      while (now() < due) {
        /* spin the last stretch for an even rate */
      }
      pipe.push({ ...(benchUpdate(i) as object), modseq: Math.round(now() * 1000) } as Update).catch(() => {});
    }
    await pipe.close().catch(() => {});
    break;
  }
  case 'latency-listen': {
    const lat: number[] = [];
    const pipe = await openPipe(`unix:${socket}`);
    await pipe.listen((u) => {
      lat.push(now() - ((u as { modseq?: number }).modseq ?? 0) / 1000);
      if (lat.length === n) {
        lat.sort((a, b) => a - b);
        say({ p50: lat[Math.floor(n * 0.5)], p99: lat[Math.floor(n * 0.99)], p999: lat[Math.min(n - 1, Math.floor(n * 0.999))] });
        process.exit(0);
      }
    });
    say({ ready: true });
    break;
  }
  default:
    void decodeEnvelope;
    throw new Error(`unknown bench role ${role}`);
}
