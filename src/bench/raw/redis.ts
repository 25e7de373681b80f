import net from 'node:net';
import type { WorkerSpec } from '../spec.js';
import type { RawEnvelope } from './frames.js';
import { benchUpdate } from '../spec.js';

/**
 * A WildDuck-style notifier: JSON on Redis pub/sub. A minimal RESP client (the pub/sub
 * subset) stands in for ioredis so the baseline is not slowed by a client library.
 */
const CHANNEL = 'updatepipe-bench';

function command(...args: string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

/** Reads RESP replies off a stream: calls `onReply` with each top-level reply. */
export class RespReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onReply: (r: unknown) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      const r = this.parse(off);
      if (!r) break;
      off = r.end;
      this.onReply(r.value);
    }
    this.buf = this.buf.subarray(off);
  }

  private parse(off: number): { value: unknown; end: number } | null {
    const eol = this.buf.indexOf('\r\n', off);
    if (eol < 0) return null;
    const type = String.fromCharCode(this.buf[off]!);
    const line = this.buf.toString('latin1', off + 1, eol);
    if (type === '+' || type === '-') return { value: line, end: eol + 2 };
    if (type === ':') return { value: Number(line), end: eol + 2 };
    if (type === '$') {
      const len = Number(line);
      if (len < 0) return { value: null, end: eol + 2 };
      if (this.buf.length < eol + 2 + len + 2) return null;
      return { value: this.buf.toString('utf8', eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
    }
    if (type === '*') {
      const items: unknown[] = [];
      let end = eol + 2;
      for (let k = 0; k < Number(line); k++) {
        const r = this.parse(end);
        if (!r) return null;
        items.push(r.value);
        end = r.end;
      }
      return { value: items, end };
    }
    throw new Error(`unexpected RESP type ${type}`);
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

export async function listen(spec: WorkerSpec, onUpdate: (env: RawEnvelope) => void): Promise<void> {
  const s = await connect(Number(spec.target));
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => (subscribed = r));
  const reader = new RespReader((r) => {
    const [kind, , payload] = r as [string, string, string];
    if (kind === 'message') {
      onUpdate(JSON.parse(payload) as RawEnvelope);
    } else if (kind === 'subscribe') subscribed();
  });
  s.on('data', (d: Buffer) => reader.push(d));
  s.write(command('SUBSCRIBE', CHANNEL));
  await ready;
}

/** PUBLISH per update; done when Redis has answered every one. */
export async function push(spec: WorkerSpec): Promise<() => Promise<void>> {
  const s = await connect(Number(spec.target));
  let replies = 0;
  let allAnswered!: () => void;
  const answered = new Promise<void>((r) => (allAnswered = r));
  const reader = new RespReader(() => void (++replies === spec.n && allAnswered()));
  s.on('data', (d: Buffer) => reader.push(d));
  return async () => {
    for (let i = 0; i < spec.n; i++) {
      const json = JSON.stringify({ origin: 'raw', seq: i + 1, ts: Date.now(), update: benchUpdate(i) });
      if (!s.write(command('PUBLISH', CHANNEL, json))) await new Promise((r) => s.once('drain', r));
    }
    await answered;
    s.end();
  };
}
