import { readFile } from 'node:fs/promises';
import { PipeError } from '../../errors.js';
import { TokenSet } from '../../../pipes/ws/tokens.js';
import { parseListenUrl, WsHub } from '../../../pipes/ws/ws-hub.js';
import { Metrics, metricsAddress, serveMetrics } from '../../obs/metrics.js';
import { createLogger } from '../../obs/log.js';
import { instrumentPipe } from '../../obs/pipe-metrics.js';
import { onShutdown } from '../shutdown.js';

export interface HubCommandOptions {
  listen: string;
  tokenFile?: string;
  insecureNoAuth: boolean;
  cert?: string;
  key?: string;
  verbose: boolean;
  metrics?: string;
  logJson?: boolean;
}

/**
 * `hub --listen unix:/path`: a standalone socket owner, for hosts where no server process
 * is always up to own the socket (it relays; it does not consume updates itself).
 */
async function unixHub(o: HubCommandOptions): Promise<void> {
  const { openPipe } = await import('../../pipe/open-pipe.js');
  const logger = createLogger({ json: o.logJson ?? false, verbose: o.verbose });
  const pipe = await openPipe(o.listen);
  pipe.on('status', (s) => logger.debug(s.type, { detail: s.detail }));
  const metrics = new Metrics();
  const gauge = instrumentPipe(metrics, pipe, 'hub');
  await pipe.listen((_u, meta) => gauge.observe(meta));
  if (o.metrics) {
    const ms = await serveMetrics(o.metrics, metrics, () => ({ status: gauge.connected() ? 'ok' : 'degraded' }));
    logger.info(`metrics on http://${metricsAddress(ms)}/metrics`);
  }
  logger.info(`hub on ${o.listen}`);
  process.stderr.write('ready\n');
  await onShutdown(() => pipe.close());
}

export async function hubCommand(o: HubCommandOptions): Promise<void> {
  if (o.listen.startsWith('unix:')) return unixHub(o);
  const where = parseListenUrl(o.listen);
  let tokens: TokenSet | null = null;
  if (o.tokenFile) tokens = await TokenSet.fromFile(o.tokenFile);
  else if (process.env['UPDATEPIPE_TOKEN']) tokens = new TokenSet([process.env['UPDATEPIPE_TOKEN']]);
  else if (!o.insecureNoAuth) throw new PipeError('USAGE', 'the hub needs tokens: --token-file FILE or UPDATEPIPE_TOKEN (or, knowingly, --insecure-no-auth)');
  if (tokens && o.insecureNoAuth) throw new PipeError('USAGE', '--insecure-no-auth together with tokens makes no sense');
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (where.tls) {
    if (!o.cert || !o.key) throw new PipeError('USAGE', 'wss:// needs --cert and --key');
    try {
      tls = { cert: await readFile(o.cert), key: await readFile(o.key) };
    } catch (err) {
      throw new PipeError('USAGE', `cannot read TLS files: ${(err as Error).message}`);
    }
  }
  const logger = createLogger({ json: o.logJson ?? false, verbose: o.verbose });
  const log = (line: string): void => logger.debug(line);
  const hub = new WsHub(where.path, { tokens, ...(tls ? { tls } : {}), log });
  let port: number;
  try {
    port = await hub.listen(where.host, where.port);
  } catch (err) {
    throw new PipeError('USAGE', `cannot listen on ${where.host}:${where.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (o.metrics) {
    const m = new Metrics();
    m.add('updatepipe_hub_clients', 'gauge', 'Connected clients', () => hub.clientCount);
    m.add('updatepipe_hub_relayed_total', 'counter', 'Updates relayed', () => hub.counters.relayed);
    m.add('updatepipe_rejected_total', 'counter', 'Bad frames rejected', () => hub.counters.rejected, { pipe: 'hub' });
    m.add('updatepipe_hub_cut_total', 'counter', 'Clients cut off for falling behind', () => hub.counters.cut);
    m.add('updatepipe_hub_replayed_total', 'counter', 'Frames replayed to clients that came back', () => hub.counters.replayed);
    m.add('updatepipe_hub_refused_total', 'counter', 'Upgrades refused (auth, path, limits)', () => hub.counters.refused);
    m.add('updatepipe_hub_buffered_bytes', 'gauge', 'Bytes queued for clients', () => hub.bufferedBytes);
    const ms = await serveMetrics(o.metrics, m, () => ({ status: 'ok', clients: hub.clientCount }));
    logger.info(`metrics on http://${metricsAddress(ms)}/metrics`);
  }
  if (!tokens) logger.warn('--insecure-no-auth: anyone who can reach this port can read and push updates');
  logger.info(`hub on ${where.tls ? 'wss' : 'ws'}://${where.host}:${port}${where.path}`, { auth: tokens ? 'bearer' : 'none' });
  process.stderr.write('ready\n');
  await onShutdown(() => hub.close());
}
