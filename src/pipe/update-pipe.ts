import type { Envelope, Origin, Seq } from '../envelope/envelope.js';
import type { Update } from '../update/update.js';

/** Why the pipe itself produced a `resync` (C4): the handler should re-read from storage. */
export type ResyncReason = 'gap' | 'reconnect' | 'overflow' | 'behind';

export interface Meta {
  origin: Origin;
  seq: Seq;
  /** Push time at the origin (ms since epoch). */
  ts: number;
  /** Present only on resyncs made by the pipe, not pushed by anyone. */
  reason?: ResyncReason;
  /**
   * Filled a hole: newer updates of its origin were delivered before it (a JetStream
   * redelivery after failover). Idempotent updates may be applied as they are; a `flags`
   * set without `modseq` may be older than what is known now.
   */
  late?: true;
}

export type UpdateHandler = (u: Update, meta: Meta) => void | Promise<void>;

/** The contract every backend honours (SPEC §3); camelCase of maddy's Listen/InitPush/Push/Close. */
export interface UpdatePipe {
  /** This instance's origin: its own pushes carry it and never come back to its handler. */
  readonly origin: Origin;
  listen(handler: UpdateHandler): Promise<void>;
  /** Connect early so configuration errors surface before the first push. */
  initPush(): Promise<void>;
  /** Resolves once the backend has accepted the update. */
  push(u: Update): Promise<void>;
  /** Drains pushes not yet accepted, then releases everything. */
  close(): Promise<void>;
  stats(): PipeStats;
  on(event: 'status', listener: (s: PipeStatus) => void): this;
}

/**
 * Pipes that can pass on somebody else's update unchanged (origin, seq, ts kept), which
 * is what a relay needs for end-to-end dedup. Every backend here implements it.
 */
export interface ForwardingPipe extends UpdatePipe {
  forward(env: Envelope): Promise<void>;
  /** True when a listener that was away gets what it missed (a JetStream durable). */
  readonly resumes?: boolean;
}

export function isForwardingPipe(p: UpdatePipe): p is ForwardingPipe {
  return typeof (p as Partial<ForwardingPipe>).forward === 'function';
}

/**
 * Optional: backends that can filter by mailbox (NATS with `subscribe=interest`) deliver
 * only what was asked for. An IMAP server calls `watch` when a session selects a mailbox
 * and `unwatch` when it closes it (calls are counted). Whole-account and all-users
 * resyncs always arrive.
 */
export interface InterestPipe extends UpdatePipe {
  watch(user: string, mailbox?: string): Promise<void>;
  unwatch(user: string, mailbox?: string): Promise<void>;
}

export function isInterestPipe(p: UpdatePipe): p is InterestPipe {
  return typeof (p as Partial<InterestPipe>).watch === 'function' && (p as { interestOnly?: boolean }).interestOnly === true;
}

export interface PipeStats {
  pushed: number;
  delivered: number;
  duplicates: number;
  gaps: number;
  resyncs: number;
  rejected: number;
}

export type PipeStatus =
  | { type: 'connected'; detail: string }
  | { type: 'disconnected'; detail: string }
  | { type: 'owner'; detail: string }
  | { type: 'rejected'; detail: string }
  | { type: 'handler-error'; detail: string }
  | { type: 'resync'; detail: string };

export interface PipeOptions {
  /** Largest frame accepted or sent, bytes. */
  maxFrameBytes?: number;
  /** Updates queued for a slow async handler before they are replaced by one resync. */
  maxQueuedUpdates?: number;
  /** How long a push may wait for the backend to accept it before failing, ms. */
  pushTimeoutMs?: number;
  /** Forget an origin after this long without updates (bounds dedup memory), ms. */
  originTtlMs?: number;
  /** Most origins remembered at once. */
  maxOrigins?: number;
  /**
   * How long a hole in an origin's sequence may wait for a late (reordered) copy before it
   * counts as lost. Default: 0 on in-order transports; JetStream waits out a redelivery.
   */
  gapGraceMs?: number;
}

/** Defaults in one place. */
export const DEFAULTS = {
  maxFrameBytes: 1024 * 1024,
  maxQueuedUpdates: 100_000,
  pushTimeoutMs: 5_000,
  originTtlMs: 10 * 60_000,
  maxOrigins: 100_000,
  gapGraceMs: 0,
} as const satisfies Required<PipeOptions>;

export function withDefaults(o: PipeOptions = {}): Required<PipeOptions> {
  return {
    maxFrameBytes: o.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
    maxQueuedUpdates: o.maxQueuedUpdates ?? DEFAULTS.maxQueuedUpdates,
    pushTimeoutMs: o.pushTimeoutMs ?? DEFAULTS.pushTimeoutMs,
    originTtlMs: o.originTtlMs ?? DEFAULTS.originTtlMs,
    maxOrigins: o.maxOrigins ?? DEFAULTS.maxOrigins,
    gapGraceMs: o.gapGraceMs ?? DEFAULTS.gapGraceMs,
  };
}
