import { stat } from 'node:fs/promises';
import { isPipeError, PipeError } from '../../errors.js';
import { MaildirStore } from '../../maildir/maildir-store.js';
import { Announcer } from '../../maildir/watch/announcer.js';
import { MaildirWatcher } from '../../maildir/watch/tree-watcher.js';
import { createLogger } from '../../obs/log.js';
import { Metrics, metricsAddress, serveMetrics } from '../../obs/metrics.js';
import { addWatcherMetrics } from '../../obs/watcher-metrics.js';
import { openPipe } from '../../pipe/open-pipe.js';
import type { PipeStatus } from '../../pipe/update-pipe.js';
import { onShutdown } from '../shutdown.js';
import { watcherOptions } from '../watcher-options.js';

export interface WatchCommandOptions {
  maildir: string;
  pipe: string;
  rescanIntervalS?: number;
  maxWatches?: number;
  verbose: boolean;
  metrics?: string;
  logJson?: boolean;
}

/**
 * `updatepipe watch`: announces what other tools do to a Maildir (an MDA, a MUA reading
 * the Maildir directly, scripts), for servers that embed the pipe. Joins the election
 * with every other watcher on the tree, `serve-imap`'s included; one announces.
 */
export async function watchCommand(o: WatchCommandOptions): Promise<void> {
  const s = await stat(o.maildir).catch(() => undefined);
  if (!s?.isDirectory()) throw new PipeError('USAGE', `--maildir: ${o.maildir} is not a directory`);
  const logger = createLogger({ json: o.logJson ?? false, verbose: o.verbose });
  const log = (line: string): void => (/failed|died|overflow|limit/i.test(line) ? logger.warn(line) : logger.debug(line));
  const pipe = await openPipe(o.pipe);
  pipe.on('status', (st: PipeStatus) => logger.debug(`pipe ${st.type}: ${st.detail}`));
  try {
    await pipe.initPush();
  } catch (err) {
    // Nobody listening yet is fine: servers read storage when they start.
    if (!isPipeError(err, 'NO_LISTENER')) throw err;
  }
  const announcer = new Announcer({ push: (u) => pipe.push(u), log });
  const watcher = new MaildirWatcher(new MaildirStore(o.maildir), { ...watcherOptions(o), announcer, log });
  watcher.on('role', (role: string, detail: string) => logger.info(`${role === 'announcer' ? '' : `${role}: `}${detail}`));
  await watcher.start();
  if (o.metrics) {
    const metrics = new Metrics();
    addWatcherMetrics(metrics, watcher, announcer);
    const ms = await serveMetrics(o.metrics, metrics, () => ({ status: 'ok', ...watcher.stats() }));
    logger.info(`metrics on http://${metricsAddress(ms)}/metrics`);
  }
  process.stderr.write('ready\n');
  await onShutdown(async () => {
    await watcher.close();
    await announcer.close();
    await pipe.close();
  });
}
