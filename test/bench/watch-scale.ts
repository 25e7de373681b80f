/**
 * `node dist/test/bench/watch-scale.js [--mailboxes N] [--per-user M]`: the watcher's
 * start-up at scale. Builds a tree of N mailboxes (M per user, INBOX included, each with
 * a few messages) through the store, then times an announcer's start: every watch in place
 * ("ready"), then the catch-up scan of every mailbox, and its memory. Then one safety
 * rescan, 21 deliveries' time to their announcement (median), and a second announcer's
 * start on the same tree (a restart or takeover: it scans only what changed). Prints JSON.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MaildirStore } from '../../src/maildir/index.js';
import { Announcer } from '../../src/maildir/watch/announcer.js';
import { MaildirWatcher } from '../../src/maildir/watch/tree-watcher.js';
import type { Update } from '../../src/update/update.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const total = arg('--mailboxes', 10_000);
const perUser = arg('--per-user', 10);
const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const root = await mkdtemp(path.join(os.tmpdir(), 'up-watch-scale-'));
try {
  const store = new MaildirStore(root);
  const users = Math.ceil(total / perUser);
  const t0 = performance.now();
  for (let u = 0; u < users; u += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, users - u) }, async (_, k) => {
        const user = `user${u + k}`;
        await store.ensureUser(user);
        for (let m = 1; m < perUser; m++) await store.createMailbox(user, `Folder ${m}`);
        await store.append(user, 'INBOX', Buffer.from('Subject: hi\r\n\r\nbody\r\n'));
      }),
    );
    if (u % 200 === 0) process.stderr.write(`built ${u * perUser} mailboxes\n`);
  }
  const buildS = (performance.now() - t0) / 1000;
  const pushed: Update[] = [];
  const announcer = new Announcer({ push: async (u) => void pushed.push(u) });
  const before = process.memoryUsage();
  const started = performance.now();
  const watcher = new MaildirWatcher(new MaildirStore(root), { announcer });
  await watcher.start();
  const readyMs = performance.now() - started;
  while (!watcher.idle) await sleep(20);
  const caughtUpMs = performance.now() - started;
  global.gc?.();
  const after = process.memoryUsage();
  const stats = watcher.stats();
  // One safety rescan, by hand: every watched directory stat'ed.
  (watcher as unknown as { rescan(): void }).rescan();
  await sleep(50);
  while (!watcher.idle) await sleep(20);
  const rescanMs = watcher.stats().rescanMs;
  // Deliveries into users' INBOXes, each announced while the tree is otherwise quiet.
  const delivery: number[] = [];
  for (let i = 0; i < 21; i++) {
    const inbox = path.join(root, `user${(i * 37) % users}`);
    await writeFile(path.join(inbox, 'tmp', `late${i}`), 'Subject: late\r\n\r\nx\r\n');
    const n = pushed.length;
    const d0 = performance.now();
    await rename(path.join(inbox, 'tmp', `late${i}`), path.join(inbox, 'new', `late${i}`));
    while (pushed.length === n) await sleep(1);
    delivery.push(performance.now() - d0);
    await sleep(20);
  }
  const deliveryMs = delivery.sort((a, b) => a - b)[10]!;
  await watcher.close();
  // A second announcer on the same tree (a restart or a takeover): the first one's scans
  // left marks, so only what changed since is scanned.
  const again = performance.now();
  const second = new MaildirWatcher(new MaildirStore(root), { announcer });
  await second.start();
  const takeoverReadyMs = performance.now() - again;
  while (!second.idle) await sleep(20);
  const takeoverCaughtUpMs = performance.now() - again;
  const takeoverScans = second.stats().scans;
  await second.close();
  await announcer.close();
  console.log(
    JSON.stringify(
      {
        mailboxes: stats.mailboxes,
        users: stats.users,
        watches: stats.watches,
        polled: stats.polled,
        buildS: Number(buildS.toFixed(1)),
        readyMs: Math.round(readyMs),
        caughtUpMs: Math.round(caughtUpMs),
        scans: stats.scans,
        rssMiB: Math.round(after.rss / MiB),
        rssGrowthMiB: Math.round((after.rss - before.rss) / MiB),
        heapUsedMiB: Math.round(after.heapUsed / MiB),
        rescanMs: Math.round(rescanMs),
        takeoverReadyMs: Math.round(takeoverReadyMs),
        takeoverCaughtUpMs: Math.round(takeoverCaughtUpMs),
        takeoverScans,
        deliveryToAnnouncementMedianMs: Number(deliveryMs.toFixed(1)),
        found: pushed.length,
      },
      null,
      1,
    ),
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
