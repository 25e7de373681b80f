import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ANNOUNCING_DIR } from '../../src/maildir/announcement.js';
import { MaildirStore } from '../../src/maildir/index.js';
import { Announcer } from '../../src/maildir/watch/announcer.js';
import { MaildirWatcher, type MaildirWatcherOptions } from '../../src/maildir/watch/tree-watcher.js';
import { PipeError } from '../../src/errors.js';
import { UidSet } from '../../src/update/uid-set.js';
import type { Update } from '../../src/update/update.js';
import { message, USER, withStore } from '../helpers/maildir-fixtures.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** A watcher whose announcer records what it pushes. */
class Rig {
  readonly pushed: Update[] = [];
  readonly logs: string[] = [];
  readonly announcer = new Announcer({ push: async (u) => void this.pushed.push(u), retryMs: 50 });
  readonly watcher: MaildirWatcher;
  constructor(store: MaildirStore, o: Omit<MaildirWatcherOptions, 'announcer'> = {}) {
    this.watcher = new MaildirWatcher(store, { lease: { pollMs: 50 }, log: (l) => this.logs.push(l), ...o, announcer: this.announcer });
  }
  async close(): Promise<void> {
    await this.watcher.close();
    await this.announcer.close();
  }
  /** Every UID announced as existing in `mailbox`, in order. */
  existing(mailbox = 'INBOX'): number[] {
    return this.pushed.filter((u): u is Extract<Update, { type: 'exists' }> => u.type === 'exists' && u.mailbox === mailbox).flatMap((u) => [...UidSet.parse(u.uids)]);
  }
  of(type: Update['type']): Update[] {
    return this.pushed.filter((u) => u.type === type);
  }
}

/** What an MDA does: write to tmp/, rename into new/. */
async function deliver(root: string, name: string, subject = name, mailboxDir = ''): Promise<void> {
  const dir = path.join(root, USER, mailboxDir);
  await writeFile(path.join(dir, 'tmp', name), message(subject));
  await rename(path.join(dir, 'tmp', name), path.join(dir, 'new', name));
}

const settle = (): Promise<void> => sleep(150);

test('MDA deliveries, MUA renames and deletions become exists, flags and expunge, once each', () =>
  withStore(async (store, root) => {
    await store.createMailbox(USER, 'Archive');
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      assert.equal(rig.watcher.role, 'announcer');
      await deliver(root, '1700000001.M1P1.mda');
      await waitFor(() => rig.existing().length === 1, 'exists');
      const cur = path.join(root, USER, 'cur');
      await rename(path.join(root, USER, 'new', '1700000001.M1P1.mda'), path.join(cur, '1700000001.M1P1.mda:2,S'));
      await waitFor(() => rig.of('flags').length === 1, 'flags');
      await unlink(path.join(cur, '1700000001.M1P1.mda:2,S'));
      await waitFor(() => rig.of('expunge').length === 1, 'expunge');
      await deliver(root, '1700000002.M1P1.mda', 'archived', '.Archive');
      await waitFor(() => rig.existing('Archive').length === 1, 'exists in Archive');
      await settle();
      assert.deepEqual(
        rig.pushed.map((u) => [u.type, u.mailbox]),
        [
          ['exists', 'INBOX'],
          ['flags', 'INBOX'],
          ['expunge', 'INBOX'],
          ['exists', 'Archive'],
        ],
      );
      assert.deepEqual((rig.of('flags')[0] as { flags: string[] }).flags, ['\\Seen']);
      assert.ok((rig.of('expunge')[0] as { modseq?: number }).modseq! > (rig.of('flags')[0] as { modseq?: number }).modseq!);
    } finally {
      await rig.close();
    }
  }));

test('a burst of 1,000 deliveries: every UID announced exactly once, in far fewer scans', { timeout: 60_000 }, () =>
  withStore(async (store, root) => {
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      for (let i = 0; i < 1000; i++) await deliver(root, `1700000000.M${i}P1.burst`);
      await waitFor(() => rig.existing().length >= 1000, '1000 UIDs', 30_000);
      await settle();
      const uids = rig.existing();
      assert.equal(uids.length, 1000);
      assert.equal(new Set(uids).size, 1000, 'no UID twice');
      assert.ok(rig.watcher.stats().scans < 1000, `coalesced: ${rig.watcher.stats().scans} scans`);
    } finally {
      await rig.close();
    }
  }));

test('changes made through the store are not announced again', () =>
  withStore(async (store) => {
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      const { uid } = await store.append(USER, 'INBOX', message('ours'));
      await store.addFlags(USER, 'INBOX', uid, ['\\Seen']);
      await store.createMailbox(USER, 'Made');
      await store.expunge(USER, 'INBOX', UidSet.of(uid));
      await sleep(300);
      assert.deepEqual(rig.pushed, []);
      assert.ok(rig.watcher.stats().scans > 0, 'it did look');
    } finally {
      await rig.close();
    }
  }));

test('folders made and removed by other tools; a folder made step by step is found once complete', () =>
  withStore(async (store, root) => {
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      const folder = path.join(root, USER, '.Lists');
      await mkdir(folder);
      await sleep(50);
      for (const d of ['cur', 'new', 'tmp']) {
        await mkdir(path.join(folder, d));
        await sleep(20);
      }
      await waitFor(() => rig.of('mailbox').length === 1, 'create');
      await deliver(root, '1700000003.M1P1.list', 'to the list', '.Lists');
      await waitFor(() => rig.existing('Lists').length === 1, 'the new folder is watched');
      await rm(folder, { recursive: true });
      await waitFor(() => rig.of('mailbox').length === 2, 'delete');
      assert.deepEqual(
        rig.of('mailbox').map((u) => (u as { op: string }).op),
        ['create', 'delete'],
      );
    } finally {
      await rig.close();
    }
  }));

test('a folder finished between the store\'s look and the watcher\'s is still announced', () =>
  withStore(async (store, root) => {
    const folder = path.join(root, USER, '.Lists');
    // The race, made certain: the folder's last subdirectory appears right after the
    // store looked (and found it incomplete), before the watcher looks and watches it.
    let finished = false;
    const discoverFolders = store.discoverFolders.bind(store);
    store.discoverFolders = async (user) => {
      const a = await discoverFolders(user);
      if (!finished && existsSync(path.join(folder, 'new'))) {
        finished = true;
        await mkdir(path.join(folder, 'tmp'));
      }
      return a;
    };
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      await settle();
      await mkdir(path.join(folder, 'cur'), { recursive: true });
      await mkdir(path.join(folder, 'new'));
      await waitFor(() => rig.of('mailbox').length === 1, 'create');
      assert.ok(finished, 'the race was run');
      await deliver(root, '1700000003.M1P1.list', 'to the list', '.Lists');
      await waitFor(() => rig.existing('Lists').length === 1, 'the folder is watched');
      await settle();
      assert.deepEqual(rig.pushed.map((u) => u.type), ['mailbox', 'exists']);
    } finally {
      await rig.close();
    }
  }));

test('one announcer per tree: the standby takes over when it stops and catches up', () =>
  withStore(async (store, root) => {
    const a = new Rig(store);
    const b = new Rig(new MaildirStore(root));
    try {
      await a.watcher.start();
      await b.watcher.start();
      assert.equal(a.watcher.role, 'announcer');
      assert.equal(b.watcher.role, 'standby');
      await deliver(root, '1700000001.M1P1.one');
      await waitFor(() => a.existing().length === 1, 'a announces');
      await settle();
      assert.deepEqual(b.pushed, []);
      await a.watcher.close();
      await deliver(root, '1700000002.M1P1.two'); // while nobody announces
      await waitFor(() => b.watcher.role === 'announcer', 'b takes over');
      await waitFor(() => b.existing().length === 1, 'b catches up');
      await deliver(root, '1700000003.M1P1.three');
      await waitFor(() => b.existing().length === 2, 'b announces');
      await settle();
      assert.deepEqual(a.existing(), [1]);
      assert.deepEqual(b.existing(), [2, 3]);
    } finally {
      await a.close();
      await b.close();
    }
  }));

test('past the watch limit: said clearly, and the rest is scanned on a timer', () =>
  withStore(async (store, root) => {
    await store.createMailbox(USER, 'Far');
    const rig = new Rig(store, { maxWatches: 3, fallbackScanMs: 100 });
    try {
      await rig.watcher.start();
      assert.equal(rig.watcher.stats().watches, 3);
      assert.ok(rig.watcher.stats().polled >= 1);
      assert.ok(rig.logs.some((l) => /watch limit .* is reached: .* scanned periodically/.test(l)), rig.logs.join('\n'));
      await deliver(root, '1700000001.M1P1.far', 'far', '.Far');
      await waitFor(() => rig.existing('Far').length === 1, 'found by the timer');
    } finally {
      await rig.close();
    }
  }));

test('the safety rescan finds what no event reported', () =>
  withStore(async (store, root) => {
    // Only the root is watched, and the fallback timer is off: only the rescan can find it.
    const rig = new Rig(store, { maxWatches: 1, fallbackScanMs: 3_600_000, rescanIntervalMs: 200 });
    try {
      await rig.watcher.start();
      await sleep(100);
      await deliver(root, '1700000001.M1P1.quiet');
      await waitFor(() => rig.existing().length === 1, 'found by the rescan');
    } finally {
      await rig.close();
    }
  }));

test('a new/ replaced under its name: watched again, and a resync for what was missed', () =>
  withStore(async (store, root) => {
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      await deliver(root, '1700000001.M1P1.a');
      await waitFor(() => rig.existing().length === 1, 'first');
      const newDir = path.join(root, USER, 'new');
      await rename(newDir, path.join(root, USER, 'new.old'));
      await mkdir(newDir);
      await waitFor(() => rig.of('resync').length === 1, 'resync');
      assert.deepEqual(rig.of('resync')[0], { type: 'resync', user: USER, mailbox: 'INBOX' });
      await deliver(root, '1700000002.M1P1.b');
      await waitFor(() => rig.existing().length === 2, 'the new directory is watched');
    } finally {
      await rig.close();
    }
  }));

test('a process that died between recording a change and announcing it: the announcer resyncs that mailbox', () =>
  withStore(async (store, root) => {
    const child = spawn(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pid = '';
    child.stdout.on('data', (d: Buffer) => (pid += d.toString()));
    await once(child, 'exit');
    await mkdir(path.join(root, ANNOUNCING_DIR), { recursive: true });
    await writeFile(path.join(root, ANNOUNCING_DIR, `${pid}-x`), `${pid} ${hostname()} abcd\n${USER}\nINBOX\n`);
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      await waitFor(() => rig.of('resync').length === 1, 'resync');
      assert.deepEqual(rig.of('resync')[0], { type: 'resync', user: USER, mailbox: 'INBOX' });
      await waitFor(async () => (await readdir(path.join(root, ANNOUNCING_DIR))).length === 0, 'marker cleared');
    } finally {
      await rig.close();
    }
  }));

test('a push that fails is owed as a resync, retried until the pipe takes it', () =>
  withStore(async (store, root) => {
    let down = true;
    const pushed: Update[] = [];
    const announcer = new Announcer({
      push: async (u) => {
        if (down) throw new PipeError('UNREACHABLE', 'down');
        pushed.push(u);
      },
      retryMs: 30,
    });
    const watcher = new MaildirWatcher(store, { announcer });
    try {
      await watcher.start();
      await deliver(root, '1700000001.M1P1.lost');
      await waitFor(() => announcer.owedCount === 1, 'owed');
      assert.equal((await readdir(path.join(root, ANNOUNCING_DIR))).length, 1, 'the marker stays while it is owed');
      down = false;
      await waitFor(() => pushed.length === 1, 'resync pushed');
      assert.deepEqual(pushed, [{ type: 'resync', user: USER, mailbox: 'INBOX' }]);
      await waitFor(async () => (await readdir(path.join(root, ANNOUNCING_DIR))).length === 0, 'marker cleared');
    } finally {
      await watcher.close();
      await announcer.close();
    }
  }));

test('a real inotify queue overflow (the event loop blocked through 40,000 events) ends in a rescan and a resync', { timeout: 60_000 }, () =>
  withStore(async (store, root) => {
    const rig = new Rig(store);
    try {
      await rig.watcher.start();
      const newDir = path.join(root, USER, 'new');
      // spawnSync blocks this event loop while the child churns: the kernel queue (16,384
      // events by default) fills and overflows unread. The last delivery's event is lost.
      const churn = `const fs=require('fs'),p=require('path');const d=${JSON.stringify(newDir)};` +
        `for(let i=0;i<20000;i++){const f=p.join(d,'churn'+i);fs.writeFileSync(f,'');fs.unlinkSync(f);}` +
        `fs.writeFileSync(p.join(d,'..','tmp','1700000009.M1P1.late'),'Subject: late\\r\\n\\r\\nx\\r\\n');` +
        `fs.renameSync(p.join(d,'..','tmp','1700000009.M1P1.late'),p.join(d,'1700000009.M1P1.late'));`;
      const r = spawnSync(process.execPath, ['-e', churn], { stdio: 'inherit' });
      assert.equal(r.status, 0);
      await waitFor(() => rig.of('resync').length === 1, 'resync after the overflow', 20_000);
      assert.deepEqual(rig.of('resync')[0], { type: 'resync', user: '*' });
      assert.deepEqual(rig.existing(), [1], 'the rescan announced the delivery whose event was lost');
      assert.equal(rig.watcher.stats().overflows, 1);
      assert.ok(rig.logs.some((l) => /overflowed/.test(l)));
    } finally {
      await rig.close();
    }
  }));
