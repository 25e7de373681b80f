import assert from 'node:assert/strict';
import { readdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { MaildirStore } from '../../src/maildir/index.js';
import { UidSet } from '../../src/update/uid-set.js';
import type { Update } from '../../src/update/update.js';
import { message, sortedLower, USER, withStore } from '../helpers/maildir-fixtures.js';

/**
 * The store's own changes (announced by their callers) interleaved with other tools'
 * (found by scans): what listeners are told, applied in order, must equal storage in
 * the end, and nothing may be told twice. Two stores on one root stand for two processes.
 */
type Op =
  | { kind: 'append' | 'foreign-deliver'; letters: string }
  | { kind: 'store'; pick: number; mode: 'set' | 'add' | 'remove'; flags: string[] }
  | { kind: 'expunge'; pick: number }
  | { kind: 'foreign-rename'; pick: number; letters: string }
  | { kind: 'foreign-delete'; pick: number }
  | { kind: 'discover'; by: 0 | 1 };

const letters = fc.subarray(['D', 'F', 'R', 'S', 'T', 'P'], { maxLength: 3 }).map((l) => l.join(''));
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('append' as const, 'foreign-deliver' as const), letters }),
  fc.record({ kind: fc.constant('store' as const), pick: fc.nat(), mode: fc.constantFrom('set' as const, 'add' as const, 'remove' as const), flags: fc.subarray(['\\Seen', '\\Flagged', '$Work'], { maxLength: 2 }) }),
  fc.record({ kind: fc.constant('expunge' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constantFrom('foreign-rename' as const), pick: fc.nat(), letters }),
  fc.record({ kind: fc.constant('foreign-delete' as const), pick: fc.nat() }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('discover' as const), by: fc.constantFrom(0 as const, 1 as const) }) },
);

/** What a listener knows: UIDs, and the flags it was last told for each (lower-cased), if any. */
class Told {
  readonly uids = new Map<number, string[] | null>();
  apply(u: Update): void {
    if (u.type === 'exists') {
      for (const uid of UidSet.parse(u.uids)) {
        assert.ok(!this.uids.has(uid), `exists ${uid} told twice`);
        this.uids.set(uid, null);
      }
    } else if (u.type === 'expunge') {
      for (const uid of UidSet.parse(u.uids)) {
        assert.ok(this.uids.has(uid), `expunge ${uid}: never told it existed (or told twice)`);
        this.uids.delete(uid);
      }
    } else if (u.type === 'flags') {
      assert.ok(this.uids.has(u.uid), `flags for unknown uid ${u.uid}`);
      this.uids.set(u.uid, sortedLower(u.flags));
    }
  }

  /** A scan's flags update must change what was told: else it is a copy of an announced change. */
  applyFound(u: Update): void {
    if (u.type === 'flags') {
      const before = this.uids.get(u.uid);
      if (before) assert.notDeepEqual(sortedLower(u.flags), before, `flags of ${u.uid} told again unchanged`);
    }
    this.apply(u);
  }
}

async function files(root: string): Promise<string[]> {
  const dir = path.join(root, USER);
  return [...(await readdir(path.join(dir, 'new'))).map((n) => path.join(dir, 'new', n)), ...(await readdir(path.join(dir, 'cur'))).map((n) => path.join(dir, 'cur', n))].sort();
}

test('store edits and other tools interleaved: everything told once, and in the end what is stored', { timeout: 120_000 }, () =>
  fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 25 }), (ops) =>
      withStore(async (store, root) => {
        const stores = [store, new MaildirStore(root)];
        const told = new Told();
        let n = 0;
        const discover = async (s: MaildirStore): Promise<void> => {
          const { announcement } = await s.discover(USER, 'INBOX');
          for (const u of announcement.updates) told.applyFound(u);
          await announcement.done();
        };
        for (const o of ops) {
          const all = await files(root);
          const picked = all.length ? all[(o as { pick?: number }).pick! % all.length] : undefined;
          switch (o.kind) {
            case 'append': {
              const flags = [...o.letters].flatMap((l) => ({ S: ['\\Seen'], F: ['\\Flagged'] })[l] ?? []);
              const r = await store.append(USER, 'INBOX', message(`a${n++}`), flags);
              told.apply({ type: 'exists', user: USER, mailbox: 'INBOX', uids: String(r.uid) } as Update);
              if (flags.length) told.apply({ type: 'flags', user: USER, mailbox: 'INBOX', uid: r.uid, flags });
              break;
            }
            case 'foreign-deliver': {
              const name = `17000000${String(n++).padStart(2, '0')}.M1P1.other`;
              const where = o.letters ? path.join(root, USER, 'cur', `${name}:2,${o.letters}`) : path.join(root, USER, 'new', name);
              await writeFile(path.join(root, USER, 'tmp', name), message(name));
              await rename(path.join(root, USER, 'tmp', name), where);
              break;
            }
            case 'store': {
              const uids = [...told.uids.keys()];
              if (uids.length === 0) break;
              const uid = uids[o.pick % uids.length]!;
              for (const c of await stores[o.pick % 2]!.storeFlags(USER, 'INBOX', [uid], o.mode, o.flags)) {
                if (c.changed) told.apply({ type: 'flags', user: USER, mailbox: 'INBOX', uid: c.uid, flags: c.flags });
              }
              break;
            }
            case 'expunge': {
              const uids = [...told.uids.keys()];
              if (uids.length === 0) break;
              const { uids: gone } = await stores[o.pick % 2]!.expunge(USER, 'INBOX', UidSet.of(uids[o.pick % uids.length]!));
              if (gone.length) told.apply({ type: 'expunge', user: USER, mailbox: 'INBOX', uids: UidSet.parse(gone).toString() } as Update);
              break;
            }
            case 'foreign-rename':
              if (picked) await rename(picked, path.join(root, USER, 'cur', `${path.basename(picked).split(':')[0]}:2,${o.letters}`));
              break;
            case 'foreign-delete':
              if (picked) await unlink(picked);
              break;
            case 'discover':
              await discover(stores[o.by]!);
              break;
          }
        }
        await discover(store);
        const state = await store.sync(USER, 'INBOX');
        assert.deepEqual([...told.uids.keys()].sort((a, b) => a - b), state.messages.map((m) => m.uid), 'told the UIDs stored');
        for (const m of state.messages) {
          const f = told.uids.get(m.uid);
          if (f !== null && f !== undefined) assert.deepEqual(f, sortedLower(m.flags), `flags of ${m.uid}`);
        }
      }),
    ),
    { numRuns: 150 },
  ),
);
