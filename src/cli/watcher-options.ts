import type { MaildirWatcherOptions } from '../maildir/watch/tree-watcher.js';

/**
 * `--rescan-interval` and `--max-watches`, as `serve-imap` and `watch` both take them.
 * A module of its own so that `watch` does not load the IMAP server to read them.
 */
export function watcherOptions(o: { rescanIntervalS?: number; maxWatches?: number }): Pick<MaildirWatcherOptions, 'rescanIntervalMs' | 'maxWatches'> {
  return {
    ...(o.rescanIntervalS !== undefined ? { rescanIntervalMs: o.rescanIntervalS * 1000 } : {}),
    ...(o.maxWatches !== undefined ? { maxWatches: o.maxWatches } : {}),
  };
}
