import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PipeError } from '../../src/errors.js';
import { MaildirStore } from '../../src/maildir/index.js';
import { UidSet } from '../../src/update/uid-set.js';
import { message, sortedLower, USER, withStore } from '../helpers/maildir-fixtures.js';

// Mixed case on purpose: flags compare case-insensitively; \Recent is never stored.
const FLAG_POOL = ['\\Seen', '\\seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Recent', '$Forwarded', '$forwarded', 'Work', '$Junk'];

type Op =
  | { kind: 'append'; flags: string[] | undefined }
  | { kind: 'set' | 'add' | 'remove'; pick: number; flags: string[] }
  | { kind: 'expunge'; picks: number[] }
  | { kind: 'expungeDeleted' }
  | { kind: 'sync' };

const flags = fc.subarray(FLAG_POOL, { maxLength: 4 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), flags: fc.option(flags, { nil: undefined }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('set' as const, 'add' as const, 'remove' as const), pick: fc.nat(), flags }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expunge' as const), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expungeDeleted' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
);

/** The reference: UIDs in order, each with a set of lower-cased flags. */
class Model {
  readonly messages = new Map<number, Set<string>>();
  uidNext = 1;

  static stored(flags: readonly string[]): Set<string> {
    return new Set(flags.map((f) => f.toLowerCase()).filter((f) => f !== '\\recent'));
  }

  /** The nth existing UID (wrapping), or a UID that never existed when there are none. */
  pick(n: number): number {
    const uids = [...this.messages.keys()];
    return uids.length === 0 ? this.uidNext + n : uids[n % uids.length]!;
  }
}

async function checkAgainst(store: MaildirStore, mailbox: string, model: Model): Promise<void> {
  const state = await store.sync(USER, mailbox);
  assert.equal(state.uidNext, model.uidNext);
  assert.deepEqual(
    state.messages.map((m) => [m.uid, sortedLower(m.flags)]),
    [...model.messages].map(([uid, f]) => [uid, [...f].sort()]),
  );
}

async function apply(store: MaildirStore, mailbox: string, model: Model, o: Op): Promise<void> {
  switch (o.kind) {
    case 'append': {
      const { uid } = await store.append(USER, mailbox, message(`m${model.uidNext}`), o.flags);
      assert.equal(uid, model.uidNext++);
      model.messages.set(uid, Model.stored(o.flags ?? []));
      return;
    }
    case 'set':
    case 'add':
    case 'remove': {
      const uid = model.pick(o.pick);
      const current = model.messages.get(uid);
      const call = o.kind === 'set' ? store.setFlags : o.kind === 'add' ? store.addFlags : store.removeFlags;
      if (current === undefined) {
        await assert.rejects(call.call(store, USER, mailbox, uid, o.flags), (e: unknown) => e instanceof PipeError && e.code === 'BAD_INPUT');
        return;
      }
      const given = Model.stored(o.flags);
      const next = o.kind === 'set' ? given : o.kind === 'add' ? new Set([...current, ...given]) : new Set([...current].filter((f) => !given.has(f)));
      model.messages.set(uid, next);
      assert.deepEqual(sortedLower(await call.call(store, USER, mailbox, uid, o.flags)), [...next].sort());
      return;
    }
    case 'expunge': {
      const uids = o.picks.map((p) => model.pick(p));
      const present = [...new Set(uids)].filter((u) => model.messages.has(u)).sort((a, b) => a - b);
      for (const u of present) model.messages.delete(u);
      assert.deepEqual((await store.expunge(USER, mailbox, UidSet.parse(uids))).uids, present);
      return;
    }
    case 'expungeDeleted': {
      const deleted = [...model.messages].filter(([, f]) => f.has('\\deleted')).map(([u]) => u);
      for (const u of deleted) model.messages.delete(u);
      assert.deepEqual((await store.expungeDeleted(USER, mailbox)).uids, deleted);
      return;
    }
    case 'sync':
      await checkAgainst(store, mailbox, model);
      return;
  }
}

test('random append/flag/expunge sequences match an in-memory model', { timeout: 60_000 }, () =>
  withStore(async (store) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 20 }), async (ops) => {
        const mailbox = `Run ${run++}`;
        await store.createMailbox(USER, mailbox);
        const model = new Model();
        for (const o of ops) await apply(store, mailbox, model, o);
        await checkAgainst(store, mailbox, model);
        // A second store instance (another process, in effect) sees the same.
        await checkAgainst(new MaildirStore(store.root), mailbox, model);
      }),
      { numRuns: 40 },
    );
  }));
