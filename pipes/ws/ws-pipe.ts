import { readFileSync } from 'node:fs';
import { PipeError } from '../../src/errors.js';
import { HubClientPipe, type HubLink, type LocalHub } from '../../src/hub/hub-client-pipe.js';
import type { Hello, Welcome } from '../../src/hub/hub-protocol.js';
import type { PipeOptions } from '../../src/pipe/update-pipe.js';
import { WsLink } from './ws-link.js';

export interface WsPipeOptions extends PipeOptions {
  /** Bearer token; default $UPDATEPIPE_TOKEN. */
  token?: string;
  /** CA certificate file for wss:// with a private CA; default $UPDATEPIPE_CA_FILE. */
  caFile?: string;
  /** How long to keep trying to reach the hub at start before failing (exit 4), ms. */
  connectTimeoutMs?: number;
  /** The hub's ping interval; 2.5× silence means it is gone. */
  heartbeatMs?: number;
}

/** Checks a ws:// or wss:// URL and returns it without credentials in it. */
export function checkWsUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PipeError('USAGE', `bad WebSocket URL ${JSON.stringify(url)} (expected ws://host:port/path)`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new PipeError('USAGE', `not a ws:// or wss:// URL: ${url}`);
  if (u.username || u.password || u.searchParams.has('token')) {
    throw new PipeError('USAGE', 'do not put the token in the URL (it would show in logs and process lists): use --token-file or UPDATEPIPE_TOKEN');
  }
  return u.toString();
}

/**
 * `ws://` / `wss://` pipe: a client of an `updatepipe hub`. It reconnects forever with
 * backoff and jitter; on return it presents the last hub position it saw and gets the
 * missed updates replayed (or a resync when the hub no longer has them).
 */
export class WsPipe extends HubClientPipe {
  readonly url: string;
  private readonly token: string | null;
  private readonly ca: Buffer | undefined;
  private readonly connectTimeoutMs: number;
  private readonly heartbeatMs: number;
  private everConnected = false;

  constructor(url: string, options: WsPipeOptions = {}) {
    super(options);
    this.url = checkWsUrl(url);
    this.token = options.token ?? process.env['UPDATEPIPE_TOKEN'] ?? null;
    const caFile = options.caFile ?? process.env['UPDATEPIPE_CA_FILE'];
    try {
      this.ca = caFile ? readFileSync(caFile) : undefined;
    } catch (err) {
      throw new PipeError('USAGE', `cannot read CA file ${caFile}: ${(err as NodeJS.ErrnoException).code}`);
    }
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  protected where(): string {
    return this.url;
  }

  protected async openLink(hello: Hello): Promise<{ link: HubLink; welcome: Welcome }> {
    // We read BATCH messages as large as any message we accept.
    const r = await WsLink.connect(this.url, { ...hello, batch: this.opts.maxFrameBytes }, {
      token: this.token,
      maxPayload: this.opts.maxFrameBytes,
      timeoutMs: Math.min(this.connectTimeoutMs, 5_000),
      heartbeatMs: this.heartbeatMs,
      ...(this.ca ? { ca: this.ca } : {}),
    });
    this.everConnected = true;
    return r;
  }

  protected async noHub(err: PipeError, _attempt: number, startedAt: number): Promise<LocalHub | null> {
    if (err.code === 'AUTH' || err.code === 'USAGE' || err.code === 'BAD_FRAME') throw err;
    // At start, a hub that stays away is an error (exit 4); later we keep trying.
    if (!this.everConnected && Date.now() - startedAt > this.connectTimeoutMs) throw err;
    if (this.everConnected && !this.listening && Date.now() - startedAt > this.opts.pushTimeoutMs) throw err;
    return null;
  }

  protected override retryDelay(attempt: number): number {
    return Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());
  }

  protected override reconnectDelay(attempt: number): number {
    return this.retryDelay(attempt);
  }

  protected unreachable(): PipeError {
    return new PipeError('UNREACHABLE', `cannot reach ${this.url}`);
  }
}
