import WebSocket from 'ws';
import { encodeEnvelope, packValue } from '../../src/envelope/codec.js';
import { encodeFrame } from '../../src/envelope/frame.js';
import { encodeHello, Kind, unprefixed } from '../../src/hub/hub-protocol.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { TokenSet } from '../../pipes/ws/tokens.js';
import { WsHub } from '../../pipes/ws/ws-hub.js';
import type { BackendHarness } from '../conformance/suite.js';
import { waitFor } from './wait.js';

export const TOKEN = 'test-token-0123456789abcdef';
const MAX = 64 * 1024;

/** A raw WebSocket client of the hub protocol, for tests that must misbehave. */
export class RawWs {
  readonly messages: Buffer[] = [];
  closed = false;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.messages.push(d));
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => {});
  }
  static open(url: string, token: string | null = TOKEN): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      ws.once('open', () => resolve(new RawWs(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }
  hello(listen = false, origin = 'raw-ws', batch?: number): void {
    this.ws.send(unprefixed(encodeHello({ v: 1, origin, listen, ...(batch ? { batch } : {}) })));
  }
  count(kind: number): number {
    return this.messages.filter((m) => m[0] === kind).length;
  }
  close(): Promise<void> {
    return new Promise((r) => {
      if (this.closed) return r();
      this.ws.once('close', () => r());
      this.ws.close();
    });
  }
}

export function wsHarness(): BackendHarness & { hub(): WsHub; url(): string } {
  let hub: WsHub | null = null;
  let url = '';
  const okUpdate = { type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 1, flags: [] };
  const withHello = (b: Buffer): Buffer[] => [unprefixed(encodeHello({ v: 1, origin: 'bad', listen: false })), b];
  return {
    name: 'ws',
    hub: () => hub!,
    url: () => url,
    async setup() {
      hub = new WsHub('/updates', { tokens: new TokenSet([TOKEN]), maxPayload: MAX, heartbeatMs: 2_000 });
      const port = await hub.listen('127.0.0.1', 0);
      url = `ws://127.0.0.1:${port}/updates`;
    },
    async teardown() {
      await hub?.close();
    },
    open: (o) => openPipe(url, { ...o, maxFrameBytes: MAX, token: TOKEN, heartbeatMs: 2_000 } as never),
    async rawSend(envs: Envelope[]) {
      const c = await RawWs.open(url);
      c.hello(false, 'raw-sender');
      for (const e of envs) c.ws.send(unprefixed(encodeFrame(Kind.Update, encodeEnvelope(e))));
      await waitFor(() => c.messages.some((m) => m[0] === Kind.Ack && m.readDoubleBE(1) === envs.length), 'hub ACK');
      await c.close();
    },
    async rawBytes(bytes: Buffer) {
      const c = await RawWs.open(url);
      if (bytes.length > 0 && bytes[0] === 0xff) {
        // marker: send as a text frame
        c.ws.send(bytes.subarray(1).toString('latin1'));
      } else {
        for (const b of withHello(bytes)) c.ws.send(b);
      }
      await waitFor(() => c.closed, 'hub to drop the client', 3_000).catch(() => {});
      c.ws.terminate();
    },
    badInputs: () => [
      { name: 'text frame', bytes: Buffer.concat([Buffer.from([0xff]), Buffer.from('{"type":"exists"}')]) },
      { name: 'empty frame', bytes: Buffer.alloc(0) },
      { name: 'unknown kind', bytes: Buffer.from([42, 1, 2, 3]) },
      { name: 'not msgpack', bytes: Buffer.from([Kind.Update, 0xc1, 0xc1]) },
      { name: 'wrong shape', bytes: Buffer.concat([Buffer.from([Kind.Update]), packValue([1, 2])]) },
      { name: 'wrong version', bytes: Buffer.concat([Buffer.from([Kind.Update]), packValue({ v: 7, origin: 'bad', seq: 1, ts: 1, update: okUpdate })]) },
      { name: 'invalid update', bytes: Buffer.concat([Buffer.from([Kind.Update]), packValue({ v: 1, origin: 'bad', seq: 1, ts: 1, update: { ...okUpdate, uid: 0 } })]) },
      { name: 'oversized frame', bytes: Buffer.concat([Buffer.from([Kind.Update]), Buffer.alloc(MAX + 100)]) },
    ],
    rejected: () => hub!.counters.rejected + hub!.counters.cut,
  };
}
