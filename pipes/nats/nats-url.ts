import os from 'node:os';
import { PipeError } from '../../src/errors.js';

export type NatsMode = 'core' | 'jetstream';

/** Everything a `nats://` pipe URL says, with defaults filled in. */
export interface NatsSettings {
  servers: string[];
  prefix: string;
  mode: NatsMode;
  stream: string;
  durable: string;
  replicas: number;
  duplicateWindowMs: number;
  maxAgeMs: number;
  user?: string;
  pass?: string;
  token?: string;
  creds?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  connectTimeoutMs: number;
  /** `all` (default) or `interest`: only what `watch()` asked for. */
  subscribe: 'all' | 'interest';
  /** Core mode: consecutive pushes to one subject in a turn go as one message (`batch=off` for listeners older than batches). */
  batch: boolean;
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const KNOWN = new Set(['subscribe', 'mode', 'stream', 'durable', 'replicas', 'dupwindow', 'maxage', 'user', 'pass', 'token', 'creds', 'tls', 'ca', 'cert', 'key', 'timeout', 'batch']);

function seconds(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new PipeError('USAGE', `nats URL: ${name} must be a positive number of seconds`);
  return n * 1000;
}

/** A stable name for this node's durable consumer: the host name, as a valid token. */
export function defaultDurable(): string {
  return ('updatepipe-' + os.hostname().replace(/[^A-Za-z0-9_-]/g, '_')).slice(0, 64);
}

/**
 * `nats://[user:pass@]host:port[,host:port…]/<prefix>?mode=core|jetstream&stream=&durable=
 * &replicas=&dupwindow=SECONDS&maxage=SECONDS&token=&creds=FILE&tls=1&ca=&cert=&key=&timeout=SECONDS&batch=on|off`
 * (`tls://` implies TLS). Secrets may also come from the options or environment.
 */
export function parseNatsUrl(url: string): NatsSettings {
  const m = /^(nats|tls):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/.exec(url);
  if (!m) throw new PipeError('USAGE', 'nats URL: expected nats://host:port[,host:port…]/<prefix>?mode=core|jetstream');
  const [, scheme, auth, hosts, rawPrefix, query] = m;
  const servers = hosts!.split(',').map((h) => {
    if (!/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/.test(h)) throw new PipeError('USAGE', `nats URL: bad server address ${JSON.stringify(h)} (want host:port)`);
    return h;
  });
  const prefix = rawPrefix === undefined || rawPrefix === '' ? 'updatepipe' : rawPrefix.replace(/\/+$/, '').replace(/\//g, '.');
  if (!prefix.split('.').every((t) => TOKEN.test(t))) {
    throw new PipeError('USAGE', `nats URL: subject prefix ${JSON.stringify(prefix)} must be tokens of [A-Za-z0-9_-]`);
  }
  const q = new URLSearchParams(query ?? '');
  for (const k of q.keys()) if (!KNOWN.has(k)) throw new PipeError('USAGE', `nats URL: unknown parameter ${JSON.stringify(k)}`);
  const mode = (q.get('mode') ?? 'core') as NatsMode;
  if (mode !== 'core' && mode !== 'jetstream') throw new PipeError('USAGE', 'nats URL: mode must be core or jetstream');
  const stream = q.get('stream') ?? `UPDATEPIPE_${prefix.replace(/[.-]/g, '_').toUpperCase()}`;
  const durable = q.get('durable') ?? defaultDurable();
  for (const [name, v] of [['stream', stream], ['durable', durable]] as const) {
    if (!TOKEN.test(v)) throw new PipeError('USAGE', `nats URL: ${name} must be 1-64 characters of [A-Za-z0-9_-]`);
  }
  const replicas = Number(q.get('replicas') ?? '1');
  if (![1, 3, 5].includes(replicas)) throw new PipeError('USAGE', 'nats URL: replicas must be 1, 3 or 5');
  const s: NatsSettings = {
    servers,
    prefix,
    mode,
    stream,
    durable,
    replicas,
    duplicateWindowMs: q.has('dupwindow') ? seconds(q.get('dupwindow')!, 'dupwindow') : 120_000,
    maxAgeMs: q.has('maxage') ? seconds(q.get('maxage')!, 'maxage') : 24 * 3600_000,
    connectTimeoutMs: q.has('timeout') ? seconds(q.get('timeout')!, 'timeout') : 5_000,
    subscribe: (q.get('subscribe') ?? 'all') as 'all' | 'interest',
    batch: q.get('batch') !== 'off',
  };
  if (!['on', 'off', null].includes(q.get('batch'))) throw new PipeError('USAGE', 'nats URL: batch must be on or off');
  if (s.subscribe !== 'all' && s.subscribe !== 'interest') throw new PipeError('USAGE', 'nats URL: subscribe must be all or interest');
  if (s.subscribe === 'interest' && mode === 'jetstream') {
    throw new PipeError('USAGE', 'nats URL: subscribe=interest is for mode=core (a durable consumer reads the whole stream)');
  }
  if (auth) {
    const colon = auth.indexOf(':');
    if (colon < 0) s.token = decodeURIComponent(auth);
    else {
      s.user = decodeURIComponent(auth.slice(0, colon));
      s.pass = decodeURIComponent(auth.slice(colon + 1));
    }
  }
  for (const k of ['user', 'pass', 'token', 'creds'] as const) {
    const v = q.get(k);
    if (v !== null) s[k] = v;
  }
  // Secrets from the environment keep them out of command lines (and `ps`).
  const env = process.env;
  for (const [k, name] of [['user', 'UPDATEPIPE_NATS_USER'], ['pass', 'UPDATEPIPE_NATS_PASS'], ['token', 'UPDATEPIPE_NATS_TOKEN'], ['creds', 'UPDATEPIPE_NATS_CREDS']] as const) {
    if (s[k] === undefined && env[name]) s[k] = env[name];
  }
  if (scheme === 'tls' || q.get('tls') === '1' || q.has('ca') || q.has('cert')) {
    s.tls = {};
    if (q.has('ca')) s.tls.caFile = q.get('ca')!;
    if (q.has('cert')) s.tls.certFile = q.get('cert')!;
    if (q.has('key')) s.tls.keyFile = q.get('key')!;
  }
  return s;
}

/** The URL with secrets masked, for logs and status events. */
export function redactNatsUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&](?:pass|token)=)[^&]*/g, '$1***');
}
