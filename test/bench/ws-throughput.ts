/**
 * WebSocket throughput in one run: raw `ws` (one binary message per update, plain msgpack,
 * client → server → client relay) vs the pipe through `updatepipe hub` (validation,
 * envelope, acks, dedup). Usage: node dist/test/bench/ws-throughput.js [n=100000]
 */
import WebSocket, { WebSocketServer } from 'ws';
import { encodeEnvelope } from '../../src/envelope/codec.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { Update } from '../../src/update/update.js';
import { TokenSet } from '../../pipes/ws/tokens.js';
import { WsHub } from '../../pipes/ws/ws-hub.js';

const N = Number(process.argv[2] ?? 100_000);
const TOKEN = 'bench-token-0123456789';
const update = (i: number): Update => ({ type: 'flags', user: 'alice@example.org', mailbox: 'INBOX', uid: (i % 100_000) + 1, flags: ['\\Seen', '\\Flagged'] });
const rate = (ms: number): number => Math.round((N / ms) * 1000);
const open = (url: string): Promise<WebSocket> => new Promise((r) => {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.once('open', () => r(ws));
});

// Raw relay: pusher → server → listener, one message per update, no checks.
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
await new Promise((r) => wss.once('listening', r));
const port = (wss.address() as { port: number }).port;
const peers: WebSocket[] = [];
wss.on('connection', (ws) => {
  peers.push(ws);
  ws.on('message', (d: Buffer) => {
    for (const p of peers) if (p !== ws) p.send(d);
  });
});
const rawListener = await open(`ws://127.0.0.1:${port}`);
const rawPusher = await open(`ws://127.0.0.1:${port}`);
await new Promise((r) => setTimeout(r, 100));
let got = 0;
let done!: () => void;
let all = new Promise<void>((r) => (done = r));
rawListener.on('message', () => void (++got === N && done()));
let t0 = performance.now();
for (let i = 0; i < N; i++) rawPusher.send(encodeEnvelope({ v: 1, origin: 'raw', seq: i + 1, ts: Date.now(), update: update(i) }));
await all;
const raw = rate(performance.now() - t0);
rawListener.close();
rawPusher.close();
wss.close();

// The pipe through the hub.
const hub = new WsHub('/u', { tokens: new TokenSet([TOKEN]) });
const hp = await hub.listen('127.0.0.1', 0);
const url = `ws://127.0.0.1:${hp}/u`;
const listener = await openPipe(url, { token: TOKEN } as never);
got = 0;
all = new Promise<void>((r) => (done = r));
await listener.listen(() => void (++got === N && done()));
const pusher = await openPipe(url, { token: TOKEN } as never);
await pusher.initPush();
t0 = performance.now();
const pending: Promise<void>[] = [];
for (let i = 0; i < N; i++) pending.push(pusher.push(update(i)));
await Promise.all(pending);
await all;
const pipe = rate(performance.now() - t0);
await pusher.close();
await listener.close();
await hub.close();
console.log(`raw ws relay (one message per update)   ${String(raw).padStart(8)} updates/s`);
console.log(`pipe through updatepipe hub              ${String(pipe).padStart(8)} updates/s`);
console.log(`pipe / raw: ${(pipe / raw).toFixed(2)}`);
