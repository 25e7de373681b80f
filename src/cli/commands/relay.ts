import { openPipe } from '../../pipe/open-pipe.js';
import type { PipeStatus } from '../../pipe/update-pipe.js';
import { Relay } from '../../../pipes/relay/relay.js';
import { Metrics, metricsAddress, serveMetrics } from '../../obs/metrics.js';
import { instrumentPipe } from '../../obs/pipe-metrics.js';
import { createLogger } from '../../obs/log.js';
import { onShutdown } from '../shutdown.js';

export interface RelayCommandOptions {
  from: string;
  to: string;
  oneWay: boolean;
  verbose: boolean;
  metrics?: string;
  logJson?: boolean;
}

export async function relayCommand(o: RelayCommandOptions): Promise<void> {
  const logger = createLogger({ json: o.logJson ?? false, verbose: o.verbose });
  const log = (line: string): void => logger.warn(line);
  const a = await openPipe(o.from);
  const b = await openPipe(o.to);
  for (const [name, p] of [['from', a], ['to', b]] as const) {
    p.on('status', (s: PipeStatus) => {
      const level = s.type === 'rejected' || s.type === 'disconnected' || s.type === 'handler-error' ? 'warn' : 'debug';
      logger[level](`${name} ${s.type}`, { side: name, event: s.type, detail: s.detail });
    });
  }
  const metrics = new Metrics();
  // One latency histogram for the relay, whichever side an update came from.
  const fromGauge = instrumentPipe(metrics, a, 'from');
  const toGauge = instrumentPipe(metrics, b, 'to');
  const relay = new Relay(a, b, { oneWay: o.oneWay, log, onReceive: fromGauge.observe });
  metrics.add('updatepipe_relay_forwarded_total', 'counter', 'Updates forwarded to the other side', () => relay.stats.forwarded);
  metrics.add('updatepipe_relay_copies_skipped_total', 'counter', 'Updates already forwarded once', () => relay.stats.copiesSkipped);
  metrics.add('updatepipe_relay_failed_total', 'counter', 'Forwards that failed (a resync is owed)', () => relay.stats.failed);
  metrics.add('updatepipe_relay_resyncs_sent_total', 'counter', 'Resyncs pushed downstream', () => relay.stats.resyncsSent);
  await relay.start();
  if (o.metrics) {
    const server = await serveMetrics(o.metrics, metrics, () => {
      const from = fromGauge.connected();
      const to = toGauge.connected();
      return { status: from && to ? 'ok' : 'degraded', from, to, ...relay.stats };
    });
    logger.info(`metrics on http://${metricsAddress(server)}/metrics`);
  }
  logger.info(`relaying ${o.oneWay ? 'one way' : 'both ways'}`);
  process.stderr.write('ready\n');
  await onShutdown(async () => {
    await relay.close();
    logger.info('relay stopped', { ...relay.stats });
  });
}
