import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { PipeError } from '../../src/errors.js';
import type { NatsSettings } from './nats-url.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Maps a nats.js failure to our error codes (exit 5 for auth, 4 for reachability). */
export function natsError(err: unknown, what: string): PipeError {
  if (err instanceof PipeError) return err;
  const e = err as Error;
  const name = e?.name ?? '';
  if (name === 'AuthorizationError' || name === 'UserAuthenticationExpiredError' || /authori[sz]ation|authentication/i.test(e?.message ?? '')) {
    return new PipeError('AUTH', `${what}: NATS refused the credentials (${e.message})`, { cause: err });
  }
  if (name === 'PermissionViolationError') return new PipeError('AUTH', `${what}: NATS permission denied (${e.message})`, { cause: err });
  if (name === 'TimeoutError') return new PipeError('TIMEOUT', `${what}: timed out`, { cause: err });
  // A stream at its limits with discard=new refuses publishes: retrying will not help, the
  // pusher must hear it at once (its servers re-read storage anyway when they resync).
  if (/maximum (messages|bytes|messages per subject) exceeded|insufficient resources|message size exceeds maximum/i.test(e?.message ?? '')) {
    return new PipeError('REFUSED', `${what}: the JetStream stream refused it (${e.message})`, { cause: err });
  }
  return new PipeError('UNREACHABLE', `${what}: ${e?.message ?? String(err)}`, { cause: err });
}

/**
 * Connects, retrying an unreachable cluster until the settings' timeout; bad credentials
 * fail at once. Once connected, the client reconnects forever with jittered backoff.
 */
export async function connectNats(s: NatsSettings, name: string): Promise<NatsConnection> {
  const opts: NodeConnectionOptions = {
    servers: s.servers,
    name,
    noEcho: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    timeout: Math.min(s.connectTimeoutMs, 5_000),
    pingInterval: 10_000,
    maxPingOut: 3,
  };
  if (s.user !== undefined) opts.user = s.user;
  if (s.pass !== undefined) opts.pass = s.pass;
  if (s.token !== undefined) opts.token = s.token;
  if (s.creds !== undefined) {
    try {
      opts.authenticator = credsAuthenticator(await readFile(s.creds));
    } catch (err) {
      throw new PipeError('USAGE', `cannot read NATS creds file ${s.creds}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (s.tls) opts.tls = { ...s.tls };
  const deadline = Date.now() + s.connectTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect(opts);
    } catch (err) {
      const mapped = natsError(err, `cannot connect to nats://${s.servers.join(',')}`);
      if (mapped.code !== 'UNREACHABLE' && mapped.code !== 'TIMEOUT') throw mapped;
      if (Date.now() >= deadline) throw mapped;
      await sleep(Math.min(Math.max(0, deadline - Date.now()), Math.min(1_000, 50 * 2 ** attempt) * (0.5 + Math.random())));
    }
  }
}
