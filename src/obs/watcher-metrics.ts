import type { Announcer } from '../maildir/watch/announcer.js';
import type { MaildirWatcher } from '../maildir/watch/tree-watcher.js';
import type { Metrics } from './metrics.js';

/** Registers the watcher's figures under `updatepipe_watcher_*` (serve-imap shares them). */
export function addWatcherMetrics(metrics: Metrics, watcher: MaildirWatcher, announcer: Announcer): void {
  const figure = <K extends keyof ReturnType<MaildirWatcher['stats']>>(k: K) => () => watcher.stats()[k] as number;
  metrics.add('updatepipe_watcher_announcing', 'gauge', '1 while this process is the elected announcer of the Maildir tree', () => (watcher.role === 'announcer' ? 1 : 0));
  metrics.add('updatepipe_watcher_watches', 'gauge', 'inotify watches held', figure('watches'));
  metrics.add('updatepipe_watcher_polled_dirs', 'gauge', 'Directories scanned on a timer (watch limit reached)', figure('polled'));
  metrics.add('updatepipe_watcher_mailboxes', 'gauge', 'Mailboxes watched', figure('mailboxes'));
  metrics.add('updatepipe_watcher_scans_total', 'counter', 'Mailbox scans', figure('scans'));
  metrics.add('updatepipe_watcher_found_total', 'counter', 'Updates found for changes other tools made', figure('found'));
  metrics.add('updatepipe_watcher_resyncs_total', 'counter', 'Resyncs asked for (replaced directories, dead announcers, overflows)', figure('resyncs'));
  metrics.add('updatepipe_watcher_overflows_total', 'counter', 'inotify queue overflows', figure('overflows'));
  metrics.add('updatepipe_watcher_odd_files_total', 'counter', 'Odd files seen (links, bad names, empty, unreadable, vanished)', figure('odd'));
  metrics.add('updatepipe_watcher_owed_resyncs', 'gauge', 'Resyncs owed after failed pushes, being retried', () => announcer.owedCount);
}

