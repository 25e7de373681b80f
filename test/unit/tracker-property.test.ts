import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { MailboxState } from '../../src/tracker/mailbox-state.js';
import type { SessionTracker } from '../../src/tracker/session-tracker.js';
import { UidSet } from '../../src/update/uid-set.js';
import type { Flag, UidSetText, Update } from '../../src/update/update.js';
import { ClientModel, type ClientMessage, flagKey, settle, Storage, testRegistry, type ResyncRequest } from './tracker-fixtures.js';

const USER = 'alice';
const MAILBOX = 'INBOX';
const SESSIONS = 3;
/** How far the pipe may let one update overtake others. */
const WINDOW = 4;
const FLAGS: Flag[] = ['\\Seen', '\\Flagged', '$Work'];

const flagsArb = fc.subarray(FLAGS);
const opArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('append' as const), n: fc.integer({ min: 1, max: 3 }), flags: flagsArb }, { noNullPrototype: true }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('expunge' as const), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) }, { noNullPrototype: true }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('flags' as const), pick: fc.nat(), flags: flagsArb }, { noNullPrototype: true }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('store' as const), s: fc.nat(SESSIONS - 1), pick: fc.nat(), flags: flagsArb }, { noNullPrototype: true }) },
  // A session FETCHes FLAGS: answered from storage, which may be ahead of the tracker.
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fetch' as const), s: fc.nat(SESSIONS - 1), pick: fc.nat() }, { noNullPrototype: true }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('deliver' as const), pick: fc.nat(WINDOW - 1), dup: fc.boolean() }, { noNullPrototype: true }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drop' as const) }, { noNullPrototype: true }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('readStart' as const) }, { noNullPrototype: true }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('readFinish' as const) }, { noNullPrototype: true }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('poll' as const), s: fc.nat(SESSIONS - 1), allowExpunge: fc.boolean() }, { noNullPrototype: true }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reselect' as const), s: fc.nat(SESSIONS - 1) }, { noNullPrototype: true }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('selectFinish' as const), s: fc.nat(SESSIONS - 1) }, { noNullPrototype: true }) },
);
function uidsText(uids: readonly number[]): UidSetText {
  return UidSet.parse(uids).toString() as UidSetText;
}

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

interface Slot {
  session: SessionTracker | null;
  client: ClientModel | null;
  /** A SELECT whose storage read is done but not yet returned to the tracker. */
  selecting: { state: MailboxState; finish: () => Promise<void> } | null;
}

interface Stats {
  runs: number;
  resyncs: number;
  held: number;
  expunges: number;
  exists: number;
  fetches: number;
  ownFetches: number;
}

async function scenario(initial: number, ops: readonly Op[], stats: Stats): Promise<void> {
  const storage = new Storage();
  storage.append(initial);
  const { registry, requests } = testRegistry();
  let inflight: Update[] = [];
  const reading: { req: ResyncRequest; state: MailboxState }[] = [];
  const slots: Slot[] = [];

  const tracker = () => registry.get(USER, MAILBOX);
  const send = (u: Update) => inflight.push(u);

  async function select(slot: Slot, delayed: boolean): Promise<void> {
    slot.session?.close();
    slot.session = null;
    slot.client = null;
    let resolve!: (s: MailboxState) => void;
    const gate = new Promise<MailboxState>((r) => (resolve = r));
    const pending = registry.select(USER, MAILBOX, () => gate);
    // The read happens after the tracker started journaling: like a real SELECT.
    const state = storage.read();
    slot.selecting = {
      state,
      finish: async () => {
        resolve(state);
        slot.session = await pending;
        slot.client = new ClientModel(state);
        slot.selecting = null;
      },
    };
    if (!delayed) await slot.selecting.finish();
  }

  function poll(slot: Slot, allowExpunge: boolean): void {
    if (slot.session === null || slot.client === null) return;
    const rs = slot.session.poll({ allowExpunge });
    slot.client.apply(rs, allowExpunge);
    for (const r of rs) {
      if (r.kind === 'expunge') stats.expunges++;
      else if (r.kind === 'exists') stats.exists++;
      else if (r.kind === 'fetch') stats.fetches++;
    }
    // Nothing here may disconnect a client: a UID is shown only once every lower one is
    // accounted for, and a read older than the index never replaces it.
    const bye = rs.find((r) => r.kind === 'bye');
    assert.equal(bye, undefined, `a client was disconnected: ${JSON.stringify(bye)}`);
    // The client's numbering is the server's numbering for it.
    assert.deepEqual(slot.client.uids, [...slot.session.uids]);
    if (!allowExpunge && slot.session.hasPending) stats.held++;
  }

  /** A message session `s`'s client sees and storage still has, picked by `pick`. */
  function visible(s: number, pick: number): { slot: Slot; m: ClientMessage } | null {
    const slot = slots[s]!;
    if (slot.session === null || slot.client === null) return null;
    const candidates = slot.client.msgs.filter((m) => m.uid !== null && storage.messages.has(m.uid));
    return candidates.length === 0 ? null : { slot, m: candidates[pick % candidates.length]! };
  }

  function deliver(i: number, dup: boolean): void {
    const [u] = inflight.splice(i, 1);
    if (u === undefined) return;
    registry.apply(u);
    if (dup) inflight.push(u);
  }

  function finishRead(): void {
    const r = reading.shift();
    if (r !== undefined) r.req.tracker.resync(r.state);
  }

  for (let s = 0; s < SESSIONS; s++) {
    const slot: Slot = { session: null, client: null, selecting: null };
    slots.push(slot);
    await select(slot, false);
  }

  for (const op of ops) {
    switch (op.k) {
      case 'append': {
        const uids = storage.append(op.n, op.flags);
        send({ type: 'exists', user: USER, mailbox: MAILBOX, uids: uidsText(uids), uidValidity: storage.uidValidity, modseq: storage.modseq });
        // Appended with flags: the pushing server follows up with their flags.
        if (op.flags.length > 0) {
          for (const u of uids) send({ type: 'flags', user: USER, mailbox: MAILBOX, uid: u, flags: op.flags.slice(), modseq: storage.modseq });
        }
        break;
      }
      case 'expunge': {
        const all = storage.uids;
        if (all.length === 0) break;
        const gone = storage.expunge([...new Set(op.picks.map((p) => all[p % all.length]!))]);
        send({ type: 'expunge', user: USER, mailbox: MAILBOX, uids: uidsText(gone) });
        break;
      }
      case 'flags': {
        const all = storage.uids;
        if (all.length === 0) break;
        const uid = all[op.pick % all.length]!;
        const modseq = storage.setFlags(uid, op.flags);
        send({ type: 'flags', user: USER, mailbox: MAILBOX, uid, flags: op.flags.slice(), modseq });
        break;
      }
      case 'store': {
        // STORE by one of our sessions, on a message its client sees and storage still has.
        const { slot, m } = visible(op.s, op.pick) ?? {};
        if (!slot || !m) break;
        const modseq = storage.setFlags(m.uid!, op.flags);
        tracker()?.flags(m.uid!, op.flags, { exclude: slot.session!, modseq });
        m.flags = flagKey(op.flags); // from the STORE's own FETCH response
        slot.client!.toldBySession(m.uid!, modseq);
        break;
      }
      case 'fetch': {
        const { slot, m } = visible(op.s, op.pick) ?? {};
        if (!slot || !m || !slot.session || !slot.client) break;
        const flags = storage.messages.get(m.uid!)!;
        const modseq = storage.modseqs.get(m.uid!)!;
        m.flags = flagKey(flags);
        slot.client.toldBySession(m.uid!, modseq);
        slot.session.told(m.uid!, flags, modseq);
        stats.ownFetches++;
        break;
      }
      case 'deliver':
        if (inflight.length > 0) deliver(Math.min(op.pick, inflight.length - 1), op.dup);
        break;
      case 'drop':
        if (inflight.length > 0) {
          inflight.shift();
          // The pipe notices the gap when the next update of that origin arrives.
          inflight.splice(Math.min(WINDOW - 1, inflight.length), 0, { type: 'resync', user: USER, mailbox: MAILBOX });
        }
        break;
      case 'readStart': {
        const req = requests.shift();
        if (req !== undefined) reading.push({ req, state: storage.read() });
        break;
      }
      case 'readFinish':
        finishRead();
        break;
      case 'poll': {
        const slot = slots[op.s]!;
        poll(slot, op.allowExpunge);
        break;
      }
      case 'reselect': {
        const slot = slots[op.s]!;
        if (slot.selecting === null) await select(slot, true);
        break;
      }
      case 'selectFinish': {
        const slot = slots[op.s]!;
        if (slot.selecting !== null) await slot.selecting.finish();
        break;
      }
    }
    await settle();
  }

  // The pipe delivers what is left (copies included), then storage answers every request.
  while (inflight.length > 0) deliver(0, false);
  inflight = [];
  for (const slot of slots) if (slot.selecting !== null) await slot.selecting.finish();
  await settle();
  for (let round = 0; requests.length > 0 || reading.length > 0; round++) {
    assert.ok(round < 20, 'resync requests never settle');
    while (reading.length > 0) finishRead();
    for (const req of requests.splice(0)) {
      stats.resyncs++;
      req.tracker.resync(storage.read());
    }
    await settle();
  }
  for (const slot of slots) {
    poll(slot, true);
    slot.client!.matches(storage);
  }
  for (const slot of slots) slot.session!.close();
  assert.equal(registry.size, 0, 'trackers left behind after every session closed');
  stats.runs++;
}

test('every client, replaying only the responses it got, ends with exactly the storage', async (t) => {
  const stats: Stats = { runs: 0, ownFetches: 0, resyncs: 0, held: 0, expunges: 0, exists: 0, fetches: 0 };
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 6 }), fc.array(opArb, { minLength: 20, maxLength: 120, size: 'max' }), (initial, ops) => scenario(initial, ops, stats)),
    { numRuns: Number(process.env['TRACKER_PROPERTY_RUNS'] ?? 200), includeErrorInReport: true },
  );
  // The interesting paths were taken, not just the easy ones.
  assert.ok(stats.resyncs > 0 && stats.held > 0, JSON.stringify(stats));
  t.diagnostic(JSON.stringify(stats));
});
