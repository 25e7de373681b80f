import WebSocket, { WebSocketServer } from 'ws';
import { BATCH, type WorkerSpec } from '../spec.js';
import { envelopeReader, type RawEnvelope, rawBatch, rawEnvelope, sendAtRate } from './frames.js';

/** The raw hub: forwards every binary message to every other peer, unread. */
export function relay(spec: WorkerSpec): Promise<void> {
  const port = Number(new URL(spec.target).port);
  const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 1 << 24 });
  wss.on('connection', (ws) => {
    ws.on('message', (d: Buffer) => {
      for (const p of wss.clients) if (p !== ws) p.send(d);
    });
  });
  return new Promise((resolve) => wss.once('listening', resolve));
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 24 });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

export async function listen(spec: WorkerSpec, onUpdate: (env: RawEnvelope) => void): Promise<void> {
  const ws = await open(spec.target);
  const read = envelopeReader(onUpdate);
  ws.on('message', (d: Buffer) => read(d));
}

/** One message per update (or per batch), pausing while the socket has 4 MiB queued. */
export async function push(spec: WorkerSpec): Promise<() => Promise<void>> {
  const ws = await open(spec.target);
  const drained = async (): Promise<void> => {
    while (ws.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 1));
  };
  if (spec.rate) {
    return async () => {
      await sendAtRate(spec.rate!, spec.n, (i, stamp) => ws.send(rawEnvelope(i, stamp)));
      await drained();
      ws.close();
    };
  }
  return async () => {
    const step = spec.kind === 'raw' ? 1 : BATCH;
    for (let i = 0; i < spec.n; i += step) {
      ws.send(spec.kind === 'raw' ? rawEnvelope(i) : rawBatch(i, spec.n));
      while (ws.bufferedAmount > 4 << 20) await new Promise((r) => setTimeout(r, 1));
    }
    await drained();
    ws.close();
  };
}
