import WebSocket from 'ws';
import { PipeError } from '../../src/errors.js';
import { HubLinkBase } from '../../src/hub/hub-link-base.js';
import { MAX_BATCH_BYTES, OutgoingFrames } from '../../src/hub/batch-frames.js';
import { encodeHello, unprefixed, type Hello, type Welcome } from '../../src/hub/hub-protocol.js';
import { TickCork } from './tick-cork.js';
import { WIRE_LIMITS } from './wire-limits.js';

export interface WsLinkOptions {
  token: string | null;
  maxPayload: number;
  timeoutMs: number;
  /** The hub pings this often; silence for 2.5× means it is gone. */
  heartbeatMs: number;
  ca?: Buffer;
}

function connectError(url: string, err: Error & { code?: string }): PipeError {
  if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH' || err.code === 'ECONNRESET') {
    return new PipeError('UNREACHABLE', `cannot reach ${url}: ${err.code}`, { cause: err });
  }
  return new PipeError('UNREACHABLE', `cannot connect to ${url}: ${err.message}`, { cause: err });
}

/** One WebSocket connection to a hub: HELLO/WELCOME, then hub-protocol frames as binary messages. */
export class WsLink extends HubLinkBase {
  protected readonly peer = 'hub';
  private lastHeard = Date.now();
  private watchdog: NodeJS.Timeout | null = null;
  private cork: TickCork | null = null;
  /** UPDATE frames of this turn, sent at its end (as BATCHes when the hub reads them). */
  private readonly out = new OutgoingFrames();
  private flushScheduled = false;
  /** The largest BATCH the hub reads (its WELCOME said), capped at ours; 0: none. */
  private maxBatch = 0;

  private constructor(private readonly ws: WebSocket) {
    super();
  }

  static connect(url: string, hello: Hello, o: WsLinkOptions): Promise<{ link: WsLink; welcome: Welcome }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (o.token) headers['Authorization'] = `Bearer ${o.token}`;
      const ws = new WebSocket(url, {
        headers,
        maxPayload: o.maxPayload,
        ...WIRE_LIMITS,
        perMessageDeflate: false,
        handshakeTimeout: o.timeoutMs,
        ...(o.ca ? { ca: o.ca } : {}),
      });
      const link = new WsLink(ws);
      let settled = false;
      const fail = (err: PipeError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      };
      const timer = setTimeout(() => fail(new PipeError('TIMEOUT', `${url} did not answer in ${o.timeoutMs} ms`)), o.timeoutMs);
      ws.on('unexpected-response', (_req, res) => {
        const code = res.statusCode ?? 0;
        if (code === 401 || code === 403) fail(new PipeError('AUTH', `${url} refused the token (HTTP ${code})`));
        else fail(new PipeError('UNREACHABLE', `${url} answered HTTP ${code} instead of upgrading`));
      });
      ws.on('error', (err) => fail(connectError(url, err as Error & { code?: string })));
      ws.on('upgrade', (res) => (link.cork = new TickCork(res.socket)));
      ws.on('open', () => ws.send(unprefixed(encodeHello(hello))));
      ws.on('ping', () => (link.lastHeard = Date.now()));
      ws.on('close', (code, reason) => {
        link.stopWatchdog();
        link.closeReason ??= reason.length ? `${code} ${reason.toString()}` : null;
        if (!settled) fail(new PipeError('UNREACHABLE', `${url} closed the connection${link.closeReason ? `: ${link.closeReason}` : ''}`));
        else link.closed();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        link.lastHeard = Date.now();
        try {
          if (!isBinary || data.length === 0) throw new PipeError('BAD_FRAME', 'hub sent a text or empty frame');
          if (settled) return link.onFrame(data[0]!, data.subarray(1));
          const welcome = link.handshake(data[0]!, data.subarray(1));
          if (!welcome) return;
          settled = true;
          clearTimeout(timer);
          link.maxBatch = Math.min(welcome.batch ?? 0, MAX_BATCH_BYTES);
          link.startWatchdog(o.heartbeatMs);
          resolve({ link, welcome });
        } catch (err) {
          link.closeReason = (err as Error).message;
          link.events?.onRejected(link.closeReason);
          if (!settled) fail(err instanceof PipeError ? err : new PipeError('BAD_FRAME', String(err)));
          ws.terminate();
        }
      });
    });
  }

  private startWatchdog(heartbeatMs: number): void {
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastHeard > heartbeatMs * 2.5) {
        this.closeReason = 'hub stopped answering (no heartbeat)';
        this.ws.terminate();
      }
    }, heartbeatMs);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  send(frame: Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.out.add(frame);
    if (this.out.pendingBytes >= MAX_BATCH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.cork?.hold();
    this.out.drain(this.maxBatch, (msg) => this.ws.send(msg));
  }

  end(): Promise<void> {
    this.flush();
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close(1000, 'bye');
      setTimeout(() => (this.ws.terminate(), resolve()), 2_000).unref();
    });
  }

  destroy(): void {
    this.ws.terminate();
  }
}
