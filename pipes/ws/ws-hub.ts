import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeEnvelopeAt } from '../../src/envelope/codec.js';
import { FRAME_HEADER } from '../../src/envelope/frame.js';
import { PipeError } from '../../src/errors.js';
import { decodeHello, encodeAck, encodeNotice, encodeWelcome, Kind, unprefixed, type Hello } from '../../src/hub/hub-protocol.js';
import { MAX_BATCH_BYTES, OutgoingFrames, readBatch } from '../../src/hub/batch-frames.js';
import { FlowControl } from '../../src/hub/flow-control.js';
import { MAX_BATCH } from '../../src/hub/hub-client-pipe.js';
import { planResume, ReplayRing } from '../../src/hub/replay-ring.js';
import { TickCork } from './tick-cork.js';
import { WIRE_LIMITS } from './wire-limits.js';
import { bearer, type TokenSet } from './tokens.js';
import { randomBytes } from '../../src/random-bytes.js';

export interface HubOptions {
  /** null only with an explicit --insecure-no-auth. */
  tokens: TokenSet | null;
  tls?: { cert: Buffer; key: Buffer };
  maxPayload?: number;
  /** Bytes queued for one client before it is cut off (it comes back and is replayed or resynced). */
  maxClientBuffer?: number;
  /**
   * Flow control, as in the Unix socket owner: past a quarter of maxClientBuffer queued for
   * a listener the hub stops reading every client (pushers wait on their window) until it
   * is down to an eighth; a listener that takes nothing for this long meanwhile, or stays
   * behind for three times this long, is cut off instead.
   */
  stallMs?: number;
  maxClients?: number;
  /** Frames kept for replay to clients that reconnect. */
  ringFrames?: number;
  heartbeatMs?: number;
  helloTimeoutMs?: number;
  log?: (line: string) => void;
}

interface Client {
  ws: WebSocket;
  cork: TickCork;
  hello: Hello | null;
  alive: boolean;
  taken: number;
  acked: number;
  /** Frames relayed to this listener this turn that could not go as they came, sent at its end. */
  out: OutgoingFrames;
  /** The largest BATCH it reads (its HELLO said), capped at ours; 0: plain UPDATEs only. */
  maxBatch: number;
}

/**
 * `updatepipe hub`: relays every update to every other connected client, numbered for
 * replay. Clients authenticate with a bearer token at the HTTP upgrade (401 before any
 * WebSocket exists), are pinged, and are cut off when they fall too far behind.
 */
export class WsHub {
  readonly epoch = randomBytes(6).toString('base64url');
  private readonly ring: ReplayRing;
  private readonly clients = new Set<Client>();
  private readonly listeners = new Set<Client>();
  private readonly wss: WebSocketServer;
  private readonly server: http.Server | https.Server;
  private heartbeat: NodeJS.Timeout | null = null;
  private ackScheduled = new Set<Client>();
  /** Listeners with frames waiting in `out`; flushed once at the end of the turn. */
  private readonly toFlush = new Set<Client>();
  private readonly flow: FlowControl<Client>;
  readonly counters = { rejected: 0, relayed: 0, cut: 0, refused: 0, replayed: 0 };
  private readonly o: Required<Omit<HubOptions, 'tls' | 'tokens'>> & Pick<HubOptions, 'tls' | 'tokens'>;

  constructor(
    private readonly path: string,
    options: HubOptions,
  ) {
    this.o = {
      maxPayload: 1024 * 1024,
      maxClientBuffer: 8 * 1024 * 1024,
      maxClients: 10_000,
      ringFrames: 65_536,
      heartbeatMs: 15_000,
      helloTimeoutMs: 5_000,
      stallMs: 1_000,
      log: () => {},
      ...options,
    };
    this.ring = new ReplayRing(this.o.ringFrames);
    this.flow = new FlowControl<Client>({
      highWater: this.o.maxClientBuffer / 4,
      stallMs: this.o.stallMs,
      pending: (l) => l.ws.bufferedAmount + l.out.pendingBytes,
      gone: (l) => l.ws.readyState !== l.ws.OPEN || !this.listeners.has(l),
      cut: (l, why) => this.cutOff(l, why),
      pauseAll: () => this.clients.forEach((c) => c.ws.pause()),
      resumeAll: () => this.clients.forEach((c) => c.ws.resume()),
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.o.maxPayload, perMessageDeflate: false, ...WIRE_LIMITS });
    this.server = this.o.tls ? https.createServer({ cert: this.o.tls.cert, key: this.o.tls.key }) : http.createServer();
    this.server.on('request', (_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain' }).end('updatepipe hub: WebSocket only\n');
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as net.Socket, head));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  get clientCount(): number {
    return this.clients.size;
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs);
    return (this.server.address() as net.AddressInfo).port;
  }

  private refuse(socket: net.Socket, status: number, text: string): void {
    this.counters.refused++;
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://hub');
    if (url.pathname !== this.path) return this.refuse(socket, 404, 'Not Found');
    if (url.searchParams.has('token') || url.searchParams.has('access_token')) {
      // Query strings end up in proxy and access logs: never a place for a secret.
      return this.refuse(socket, 400, 'Bad Request');
    }
    if (this.o.tokens) {
      const token = bearer(req.headers['authorization']);
      if (token === null || !this.o.tokens.check(token)) {
        this.o.log(`refused a client from ${req.socket.remoteAddress}: ${token === null ? 'no bearer token' : 'wrong token'}`);
        return this.refuse(socket, 401, 'Unauthorized');
      }
    }
    if (this.clients.size >= this.o.maxClients) return this.refuse(socket, 503, 'Service Unavailable');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, new TickCork(socket)));
  }

  private accept(ws: WebSocket, cork: TickCork): void {
    const c: Client = { ws, cork, hello: null, alive: true, taken: 0, acked: 0, out: new OutgoingFrames(), maxBatch: 0 };
    this.clients.add(c);
    // Only a client that never says HELLO is dropped; the check is moot once it has.
    const helloTimer = setTimeout(() => c.hello === null && this.reject(c, 'no HELLO in time'), this.o.helloTimeoutMs);
    helloTimer.unref();
    ws.on('pong', () => (c.alive = true));
    ws.on('error', (err) => {
      // ws closes the connection itself (oversized or malformed WebSocket frames).
      this.counters.rejected++;
      this.o.log(`client error: ${err.message}`);
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      this.clients.delete(c);
      this.listeners.delete(c);
      this.ackScheduled.delete(c);
      this.toFlush.delete(c);
      this.flow.forget(c);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        if (!isBinary) throw new PipeError('BAD_FRAME', 'text frames are not accepted; the protocol is binary');
        if (data.length === 0) throw new PipeError('BAD_FRAME', 'empty frame');
        this.onFrame(c, data);
      } catch (err) {
        this.reject(c, (err as Error).message);
      }
    });
    if (this.flow.holding) ws.pause(); // joins the others in waiting
  }

  private onFrame(c: Client, data: Buffer): void {
    const kind = data[0];
    if (c.hello === null) {
      if (kind !== Kind.Hello) throw new PipeError('BAD_FRAME', 'first frame must be HELLO');
      this.welcome(c, decodeHello(data.subarray(1)));
      return;
    }
    if (kind === Kind.Update) {
      decodeEnvelopeAt(data, 1, data.length); // validate before relaying (C5)
      // The ring and the listeners take frames as on a stream: length prefix in front.
      const frame = Buffer.allocUnsafe(4 + data.length);
      frame.writeUInt32BE(data.length, 0);
      data.copy(frame, 4);
      this.ring.keep(frame, 0, frame.length);
      this.fanOut(frame, 1, c, data);
    } else if (kind === Kind.Batch) this.onBatch(c, data);
    else throw new PipeError('BAD_FRAME', `unexpected frame kind ${kind}`);
    if (c.taken - c.acked >= MAX_BATCH) this.sendAck(c);
    else if (!this.ackScheduled.has(c)) {
      this.ackScheduled.add(c);
      setImmediate(() => this.sendAck(c));
    }
  }

  /** A BATCH: each frame validated (C5); those before a bad one are taken and relayed. */
  private onBatch(c: Client, data: Buffer): void {
    let good = 0;
    let end = 1;
    try {
      readBatch(data, 1, (s, e) => {
        decodeEnvelopeAt(data, s + FRAME_HEADER, e);
        good++;
        end = e;
      });
    } finally {
      if (good > 0) this.fanOut(this.ring.keepRun(data, 1, end), good, c, end === data.length ? data : null);
    }
  }

  private sendAck(c: Client): void {
    this.ackScheduled.delete(c);
    if (c.taken > c.acked && c.ws.readyState === c.ws.OPEN) {
      c.acked = c.taken;
      c.cork.hold();
      c.ws.send(unprefixed(encodeAck(c.taken)));
    }
  }

  private welcome(c: Client, hello: Hello): void {
    c.hello = hello;
    c.maxBatch = Math.min(hello.batch ?? 0, MAX_BATCH_BYTES);
    const { first, resync, replay } = planResume(this.ring, this.epoch, hello);
    c.ws.send(unprefixed(encodeWelcome({ v: 1, epoch: this.epoch, first, resync, batch: this.o.maxPayload })));
    for (const f of replay) c.out.add(f);
    if (replay.length > 0) this.flushSoon(c);
    this.counters.replayed += replay.length;
    if (hello.listen) this.listeners.add(c);
  }

  /**
   * `frames`: `count` whole UPDATE frames (length-prefixed) taken from `from`. `message`:
   * the message they came in, when it was all good: a listener with nothing queued that
   * reads a message of its size is sent it as it came, not a copy packed from `frames`
   * (a copy per listener per message: in a profiled ws 1→1 round the copy and the page
   * faults of its fresh 64 KiB were ~4 % of the hub's time).
   */
  private fanOut(frames: Buffer, count: number, from: Client, message: Buffer | null): void {
    from.taken += count;
    this.counters.relayed += count;
    for (const l of this.listeners) {
      if (l === from) continue;
      const pending = l.ws.bufferedAmount + l.out.pendingBytes;
      if (pending > this.o.maxClientBuffer) {
        this.cutOff(l, `fell ${pending} bytes behind`);
        continue;
      }
      if (message !== null && l.out.pendingBytes === 0 && (message[0] === Kind.Update || message.length <= l.maxBatch)) {
        l.cork.hold();
        l.ws.send(message);
      } else {
        l.out.add(frames);
        this.flushSoon(l);
      }
      this.flow.queued(l);
    }
  }

  private flushSoon(l: Client): void {
    if (this.toFlush.size === 0) process.nextTick(() => this.flush());
    this.toFlush.add(l);
  }

  /** What this turn relayed, in as few messages as each listener reads. */
  private flush(): void {
    for (const l of this.toFlush) {
      if (l.ws.readyState !== l.ws.OPEN) continue;
      l.cork.hold();
      l.out.drain(l.maxBatch, (msg) => l.ws.send(msg));
    }
    this.toFlush.clear();
  }

  private cutOff(l: Client, why: string): void {
    this.counters.cut++;
    this.o.log(`client ${l.hello?.origin} ${why}; cut off`);
    this.listeners.delete(l);
    this.flow.forget(l);
    l.ws.terminate();
  }

  private reject(c: Client, reason: string): void {
    this.counters.rejected++;
    this.o.log(`rejected a client: ${reason}`);
    this.listeners.delete(c);
    if (c.ws.readyState === c.ws.OPEN) {
      c.ws.send(unprefixed(encodeNotice({ code: 'BAD_FRAME', message: reason })));
      c.ws.close(1008, reason.slice(0, 100));
    }
    setTimeout(() => c.ws.terminate(), 500).unref();
  }

  private beat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.o.log(`client ${c.hello?.origin} missed a heartbeat; dropped`);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** Bytes queued for clients right now (bounded by maxClientBuffer each). */
  get bufferedBytes(): number {
    let n = 0;
    for (const c of this.clients) n += c.ws.bufferedAmount + c.out.pendingBytes;
    return n;
  }

  /** Drops every connection (clients reconnect and resume): for operators and tests. */
  dropClients(): void {
    for (const c of this.clients) c.ws.terminate();
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.flow.stop();
    for (const c of this.clients) c.ws.close(1001, 'hub shutting down');
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    setTimeout(() => {
      for (const c of this.clients) c.ws.terminate();
      this.server.closeAllConnections?.();
    }, 1_000).unref();
    await closed;
  }
}

/** `ws://host:port/path` → where to listen. */
export function parseListenUrl(url: string): { tls: boolean; host: string; port: number; path: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PipeError('USAGE', `--listen: expected ws://HOST:PORT/PATH, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new PipeError('USAGE', `--listen: expected ws:// or wss://, got ${u.protocol}`);
  return { tls: u.protocol === 'wss:', host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'wss:' ? 443 : 80)), path: u.pathname || '/' };
}
