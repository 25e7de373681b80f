import type { Update } from '../update/update.js';

/** What a raw baseline or the pipe runs over. */
export type Transport = 'unix' | 'nats' | 'jetstream' | 'ws' | 'redis';

/**
 * One bench process's job, passed as JSON on its command line. `kind: 'pipe'` goes through
 * `openPipe(target)`; the raw kinds move plain msgpack (Redis: JSON) with no validation,
 * envelope checks or dedup, the way a hand-rolled notifier would.
 */
export interface WorkerSpec {
  side: 'push' | 'listen' | 'relay';
  kind: 'pipe' | 'raw' | 'raw-batched';
  transport: Transport;
  /** Pipe URL, socket path, NATS host:port, ws URL or Redis port. */
  target: string;
  /** Updates each listener expects (throughput), or the pusher sends. */
  n: number;
  /** Raw unix pushers write to every listener themselves: their socket paths. */
  fanout?: string[];
  /** Latency runs: a fixed rate in updates/s; flood runs: 0 and `seconds`. */
  rate?: number;
  seconds?: number;
  /** Latency runs: the first `warmup` updates (JIT, sockets) are not counted. */
  warmup?: number;
  token?: string;
}

/** A ~100-byte flag update, the commonest thing an IMAP server pushes. */
export const benchUpdate = (i: number): Update => ({ type: 'flags', user: 'alice@example.org', mailbox: 'INBOX', uid: (i % 100_000) + 1, flags: ['\\Seen', '\\Flagged'] });

/** Raw baselines send this many updates per write when hand-batching. */
export const BATCH = 512;

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC, the same for every
 * process), so a pusher's stamp and a listener's reading compare across processes.
 * `performance.timeOrigin` is per process and can be off by more than a loopback hop.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
