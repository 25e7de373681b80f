import { PipeError } from '../../errors.js';
import { ImapServer } from '../../imap/server.js';
import { TlsCredentials } from '../../imap/tls.js';
import { loadUsers, type Credentials } from '../../imap/users.js';
import { openPipe } from '../../pipe/open-pipe.js';
import { Metrics, metricsAddress, serveMetrics } from '../../obs/metrics.js';
import { instrumentPipe } from '../../obs/pipe-metrics.js';
import { createLogger } from '../../obs/log.js';
import { addWatcherMetrics } from '../../obs/watcher-metrics.js';
import { onShutdown } from '../shutdown.js';
import { watcherOptions } from '../watcher-options.js';

export interface ServeImapOptions {
  maildir: string;
  listen: string;
  pipe: string;
  users?: string;
  noPipe: boolean;
  /** Leave watching the Maildir to another process (`updatepipe watch`, another server). */
  noWatch?: boolean;
  rescanIntervalS?: number;
  maxWatches?: number;
  verbose: boolean;
  metrics?: string;
  logJson?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** Implicit TLS listener. */
  listenTls?: string;
  allowPlaintext?: boolean;
}

export function parseHostPort(text: string, option = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new PipeError('USAGE', `${option}: expected HOST:PORT (e.g. 127.0.0.1:1143), got ${JSON.stringify(text)}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The watcher options `serve-imap` and `watch` share. */
async function loadTls(o: ServeImapOptions): Promise<TlsCredentials | undefined> {
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new PipeError('USAGE', '--tls-cert and --tls-key go together');
  if (o.tlsCert === undefined || o.tlsKey === undefined) {
    if (o.listenTls !== undefined) throw new PipeError('USAGE', '--listen-tls needs --tls-cert and --tls-key');
    if (o.allowPlaintext) throw new PipeError('USAGE', '--allow-plaintext only makes sense with --tls-cert and --tls-key');
    return undefined;
  }
  return TlsCredentials.load({ cert: o.tlsCert, key: o.tlsKey });
}

export async function serveImapCommand(o: ServeImapOptions): Promise<void> {
  const { host, port } = parseHostPort(o.listen);
  const tlsAddress = o.listenTls !== undefined ? parseHostPort(o.listenTls, '--listen-tls') : null;
  const tls = await loadTls(o);
  let users: Credentials = new Map();
  if (o.users) users = await loadUsers(o.users);
  else process.stderr.write('updatepipe: no --users file, so every login is refused (pass --users FILE with user:password lines)\n');
  const pipe = o.noPipe ? null : await openPipe(o.pipe);
  const logger = createLogger({ json: o.logJson ?? false, verbose: o.verbose });
  const log = (line: string): void => (/failed|error|died|overflow|limit/i.test(line) ? logger.warn(line) : logger.debug(line));
  const metrics = new Metrics();
  const gauge = pipe ? instrumentPipe(metrics, pipe, 'local') : undefined;
  const server = new ImapServer({
    maildir: o.maildir,
    users,
    pipe,
    log,
    watch: o.noWatch ? false : watcherOptions(o),
    ...(gauge ? { onPipeUpdate: gauge.observe } : {}),
    ...(tls ? { tls, allowPlaintext: o.allowPlaintext ?? false } : {}),
  });
  metrics.add('updatepipe_imap_sessions', 'gauge', 'Open IMAP connections', () => server.sessionCount);
  metrics.add('updatepipe_imap_trackers', 'gauge', 'Mailboxes selected by at least one session', () => server.registry.size);
  if (server.watcher) addWatcherMetrics(metrics, server.watcher, server.announcer);
  const addr = await server.listen(host, port);
  const tlsAddr = tlsAddress ? await server.listenTls(tlsAddress.host, tlsAddress.port) : null;
  // SIGHUP: a renewed certificate is used for new connections, without a restart.
  const reload = (): void => {
    tls?.reload().then(
      () => logger.info(`TLS certificate reloaded from ${o.tlsCert}`),
      (err: unknown) => logger.warn(`TLS certificate reload failed, the old one stays in use: ${(err as Error).message}`),
    );
  };
  if (tls) process.on('SIGHUP', reload);
  if (o.metrics) {
    const ms = await serveMetrics(o.metrics, metrics, () => ({
      status: !gauge || gauge.connected() ? 'ok' : 'degraded',
      sessions: server.sessionCount,
    }));
    logger.info(`metrics on http://${metricsAddress(ms)}/metrics`);
  }
  const tlsNote = tls ? `, STARTTLS${o.allowPlaintext ? '' : ' required for login'}` : '';
  logger.info(`IMAP on ${addr.host}:${addr.port}${tlsNote}, maildir ${o.maildir}${pipe ? `, pipe ${o.pipe.replace(/\/\/[^@/]*@/, '//***@')}` : ''}`);
  if (tlsAddr) logger.info(`IMAPS on ${tlsAddr.host}:${tlsAddr.port}`);
  process.stderr.write('ready\n');
  await onShutdown(() => {
    process.off('SIGHUP', reload);
    return server.close();
  });
}
