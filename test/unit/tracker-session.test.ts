import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UidSet } from '../../src/update/uid-set.js';
import { validateUpdate } from '../../src/update/update.js';
import { ClientModel, lines, settle, Storage, testRegistry } from './tracker-fixtures.js';

const U = 'alice';
const M = 'INBOX';

async function setup(n = 5) {
  const storage = new Storage();
  storage.append(n);
  const { registry, requests } = testRegistry();
  const state = storage.read();
  const session = await registry.select(U, M, async () => state);
  const tracker = registry.get(U, M)!;
  return { storage, registry, requests, session, tracker, client: new ClientModel(state) };
}

test('new messages: one EXISTS with the final count, then a FETCH with each UID', async () => {
  const { registry, session } = await setup(2);
  registry.apply(validateUpdate({ type: 'exists', user: U, mailbox: M, uids: '3' }));
  registry.apply(validateUpdate({ type: 'exists', user: U, mailbox: M, uids: '4:5' }));
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['5 EXISTS', '3 FETCH 3', '4 FETCH 4', '5 FETCH 5']);
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  assert.equal(session.count, 5);
});

test('flags: several changes of one message become one FETCH with the last set', async () => {
  const { tracker, session } = await setup(3);
  tracker.flags(2, ['\\Seen']);
  tracker.flags(2, ['\\Seen', '\\Flagged']);
  tracker.flags(2, ['\\Answered']);
  tracker.flags(3, ['$Label1']);
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['2 FETCH 2 (\\Answered)', '3 FETCH 3 ($Label1)']);
});

test('expunges come highest first so each number is valid when applied in order', async () => {
  const { tracker, session, client } = await setup(6);
  tracker.expunge(UidSet.parse('2,4:5'));
  const rs = session.poll({ allowExpunge: true });
  assert.deepEqual(lines(rs), ['5 EXPUNGE', '4 EXPUNGE', '2 EXPUNGE']);
  client.apply(rs, true);
  assert.deepEqual(client.uids, [1, 3, 6]);
  assert.deepEqual([...session.uids], [1, 3, 6]);
});

test('allowExpunge false holds expunges back and keeps their numbers; EXISTS and FETCH still flow', async () => {
  const { tracker, session, client } = await setup(5);
  tracker.expunge(UidSet.of(2));
  tracker.flags(4, ['\\Seen']);
  tracker.flags(2, ['\\Deleted']); // for an expunged message: dropped
  tracker.exists(UidSet.of(6));
  const during = session.poll({ allowExpunge: false });
  // UID 2 still counts: 6 messages, and UID 4 is still number 4.
  assert.deepEqual(lines(during), ['6 EXISTS', '4 FETCH 4 (\\Seen)', '6 FETCH 6']);
  client.apply(during, false);
  assert.equal(session.uidAt(2), 2);
  assert.equal(session.isExpunged(2), true);
  assert.equal(session.isExpunged(3), false);
  assert.ok(session.hasPending);
  assert.deepEqual(session.poll({ allowExpunge: false }), []);
  const after = session.poll({ allowExpunge: true });
  assert.deepEqual(lines(after), ['2 EXPUNGE']);
  client.apply(after, true);
  assert.deepEqual(client.uids, [1, 3, 4, 5, 6]);
  assert.equal(session.seqOf(4), 3);
  assert.equal(session.hasPending, false);
});

test('FETCH numbers follow the expunges sent before them in the same poll', async () => {
  const { tracker, session, client } = await setup(5);
  tracker.expunge(UidSet.parse('1:2'));
  tracker.flags(5, ['\\Seen']);
  const rs = session.poll({ allowExpunge: true });
  assert.deepEqual(lines(rs), ['2 EXPUNGE', '1 EXPUNGE', '3 FETCH 5 (\\Seen)']);
  client.apply(rs, true);
});

test('a batch coalesces: added-and-expunged is nothing, FETCH of an expunged message is dropped', async () => {
  const { tracker, session } = await setup(3);
  tracker.exists(UidSet.parse('4:5'));
  tracker.flags(4, ['\\Seen']);
  tracker.flags(3, ['\\Seen']);
  tracker.expunge(UidSet.parse('3:4'));
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['3 EXPUNGE', '3 EXISTS', '3 FETCH 5']);
});

test('sessions at different points each get numbers for their own view', async () => {
  const { storage, registry, tracker } = await setup(4);
  const stateA = storage.read();
  const a = await registry.select(U, M, async () => stateA);
  const b = await registry.select(U, M, async () => stateA);
  const ca = new ClientModel(stateA);
  const cb = new ClientModel(stateA);
  tracker.expunge(UidSet.of(1));
  storage.expunge([1]);
  ca.apply(a.poll({ allowExpunge: true }), true); // a: [2,3,4]
  tracker.exists(UidSet.of(storage.append()[0]!));
  tracker.flags(3, ['\\Seen']);
  storage.setFlags(3, ['\\Seen']);
  const ra = a.poll({ allowExpunge: true });
  const rb = b.poll({ allowExpunge: true });
  assert.deepEqual(lines(ra), ['4 EXISTS', '2 FETCH 3 (\\Seen)', '4 FETCH 5']);
  assert.deepEqual(lines(rb), ['1 EXPUNGE', '4 EXISTS', '2 FETCH 3 (\\Seen)', '4 FETCH 5']);
  ca.apply(ra, true);
  cb.apply(rb, true);
  ca.matches(storage);
  cb.matches(storage);
});

test('duplicates change nothing: EXISTS of known UIDs, EXPUNGE of unknown ones, equal flags', async () => {
  const { tracker, session, client, storage } = await setup(3);
  tracker.exists(UidSet.parse('1:3'));
  tracker.expunge(UidSet.of(2));
  client.apply(session.poll({ allowExpunge: true }), true);
  tracker.expunge(UidSet.of(2));
  tracker.exists(UidSet.parse('1:3'));
  tracker.flags(1, [], { modseq: 5 });
  tracker.flags(1, ['\\Seen'], { modseq: 6 });
  tracker.flags(1, ['\\Seen'], { modseq: 6 });
  const rs = session.poll({ allowExpunge: true });
  assert.deepEqual(lines(rs), ['1 FETCH 1 (\\Seen)']);
  client.apply(rs, true);
  storage.expunge([2]);
  storage.setFlags(1, ['\\Seen']);
  client.matches(storage);
});

test('reordered flags: an older modseq never overwrites a newer one', async () => {
  const { tracker, session } = await setup(2);
  tracker.flags(1, ['\\Seen', '\\Flagged'], { modseq: 20 });
  tracker.flags(1, ['\\Seen'], { modseq: 10 });
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['1 FETCH 1 (\\Flagged \\Seen)']);
  // Without modseq the last one to arrive wins (the pipe keeps each origin in order).
  tracker.flags(2, ['\\Seen']);
  tracker.flags(2, ['\\Draft']);
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['2 FETCH 2 (\\Draft)']);
});

test('flags that moved away and back between polls are not told again', async () => {
  const { tracker, session } = await setup(2);
  tracker.flags(1, ['\\Seen']);
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['1 FETCH 1 (\\Seen)']);
  // A stale copy after a resync, then the current state again: the client already has it.
  tracker.flags(1, []);
  tracker.flags(1, ['\\Seen']);
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
});

test("flags the session's own FETCH told are not told again, other changes are", async () => {
  const { tracker, session } = await setup(2);
  tracker.flags(1, ['\\Seen']);
  session.told(1, ['\\Seen']); // the client fetched them before the poll
  tracker.flags(2, ['\\Flagged']);
  session.told(2, ['\\Answered']); // storage was behind the index when it answered
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['2 FETCH 2 (\\Flagged)']);
});

test('an EXPUNGE that overtakes its EXISTS does not resurrect the message, and lets the next one through', async () => {
  const { tracker, session, requests, storage, client } = await setup(2);
  const [u] = storage.append();
  storage.expunge([u!]);
  const [next] = storage.append();
  tracker.expunge(UidSet.of(u!));
  tracker.exists(UidSet.of(next!)); // the expunged one is accounted for: no hole
  tracker.exists(UidSet.of(u!)); // late: known gone
  client.apply(session.poll({ allowExpunge: true }), true);
  client.matches(storage);
  await settle();
  assert.equal(requests.length, 0, 'nothing to ask storage: every UID is accounted for');
});

test('an EXISTS below UIDNEXT of the last read for an unknown UID is stale and ignored', async () => {
  const storage = new Storage();
  storage.append(3);
  storage.expunge([2]);
  const { registry, requests } = testRegistry();
  const session = await registry.select(U, M, async () => storage.read());
  registry.apply(validateUpdate({ type: 'exists', user: U, mailbox: M, uids: '2' }));
  await settle();
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  assert.equal(requests.length, 0);
});

test('a UID that overtakes a lower one (another origin, a lost exists): shown only in order, nobody disconnected', async () => {
  const { storage, registry, tracker, requests } = await setup(2);
  const state = storage.read();
  const a = await registry.select(U, M, async () => state);
  const b = await registry.select(U, M, async () => state);
  const [u3, u4] = storage.append(2); // 3 by one process, 4 by another
  tracker.exists(UidSet.of(u4!)); // arrives first: 3 may exist, so 4 waits for storage
  assert.deepEqual(a.poll({ allowExpunge: true }), [], 'not shown ahead of a hole');
  await settle();
  assert.equal(requests.length, 1, 'storage is asked');
  tracker.exists(UidSet.of(u3!)); // the late one
  const ca = new ClientModel(state);
  ca.apply(a.poll({ allowExpunge: true }), true);
  assert.deepEqual(ca.uids, [1, 2, 3]);
  tracker.resync(storage.read());
  ca.apply(a.poll({ allowExpunge: true }), true);
  ca.matches(storage);
  const cb = new ClientModel(state);
  cb.apply(b.poll({ allowExpunge: true }), true);
  cb.matches(storage);
  assert.equal(a.closed || b.closed, false);
});

test('an exists whose lower neighbours were lost for good (a dead announcer) waits for the resync that covers them', async () => {
  const { storage, session, tracker, requests, client } = await setup(2);
  const lost = storage.append(3); // announced by a process that died before its push
  const later = storage.append(1);
  tracker.exists(UidSet.parse(later)); // the next announcer's
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  await settle();
  assert.equal(requests.length, 1);
  tracker.resync(storage.read()); // the resync the dead announcer's marker brings
  client.apply(session.poll({ allowExpunge: true }), true);
  client.matches(storage);
  assert.deepEqual(client.uids, [1, 2, ...lost, ...later]);
});

test('a higher uidValidity in an update ends every session; a lower one is a late update and ignored', async () => {
  const { tracker, session, registry } = await setup(2);
  tracker.flags(1, ['\\Seen'], { uidValidity: 999 });
  tracker.exists(UidSet.of(3), { uidValidity: 999 });
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  tracker.exists(UidSet.of(3), { uidValidity: 1001 });
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['BYE uidvalidity']);
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  assert.equal(registry.size, 0);
});

test('a resync read with another uidValidity ends the sessions', async () => {
  const { tracker, session, storage } = await setup(2);
  storage.uidValidity = 2000;
  tracker.requestResync();
  tracker.resync(storage.read());
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['BYE uidvalidity']);
});

test('resync: expunges for vanished messages, EXISTS for new ones, FETCH for changed flags', async () => {
  const { storage, session, tracker, client, requests, registry } = await setup(6);
  storage.expunge([2, 5]);
  storage.setFlags(3, ['\\Seen']);
  storage.append(2, ['\\Flagged']);
  registry.apply({ type: 'resync', user: U, mailbox: M });
  await settle();
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.cause, 'pipe');
  assert.equal(tracker.resyncPending, true);
  tracker.resync(storage.read());
  const rs = session.poll({ allowExpunge: true });
  assert.deepEqual(lines(rs), ['5 EXPUNGE', '2 EXPUNGE', '6 EXISTS', '2 FETCH 3 (\\Seen)', '5 FETCH 7 (\\Flagged)', '6 FETCH 8 (\\Flagged)']);
  client.apply(rs, true);
  client.matches(storage);
});

test('changes that arrive while the resync read is in flight are replayed on top of it', async () => {
  const { storage, session, tracker, client, requests } = await setup(3);
  tracker.requestResync();
  await settle();
  assert.equal(requests.length, 1);
  const read = storage.read(); // the read happens now...
  const [u4] = storage.append(); // ...and these changes after it
  tracker.exists(UidSet.of(u4!));
  storage.expunge([1]);
  tracker.expunge(UidSet.of(1));
  const m = storage.setFlags(2, ['\\Seen']);
  tracker.flags(2, ['\\Seen'], { modseq: m });
  tracker.resync(read);
  client.apply(session.poll({ allowExpunge: true }), true);
  client.matches(storage);
});

test('SELECT: changes during the read reach the new session on its first poll', async () => {
  const storage = new Storage();
  storage.append(3);
  const { registry } = testRegistry();
  const first = await registry.select(U, M, async () => storage.read());
  const tracker = registry.get(U, M)!;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const state = storage.read();
  const pending = registry.select(U, M, async () => {
    await gate;
    return state;
  });
  const [u4] = storage.append();
  tracker.exists(UidSet.of(u4!));
  storage.expunge([2]);
  tracker.expunge(UidSet.of(2));
  release();
  const second = await pending;
  const client = new ClientModel(state);
  client.apply(second.poll({ allowExpunge: true }), true);
  client.matches(storage);
  assert.deepEqual(lines(first.poll({ allowExpunge: true })), ['2 EXPUNGE', '3 EXISTS', '3 FETCH 4']);
});

test('own STORE: the acting session gets no FETCH, the others do', async () => {
  const { storage, registry, tracker } = await setup(3);
  const a = await registry.select(U, M, async () => storage.read());
  const b = await registry.select(U, M, async () => storage.read());
  tracker.flags(2, ['\\Seen'], { exclude: a });
  assert.deepEqual(a.poll({ allowExpunge: false }), []);
  assert.deepEqual(lines(b.poll({ allowExpunge: false })), ['2 FETCH 2 (\\Seen)']);
  // Through the registry, as for an update from the pipe.
  registry.apply({ type: 'flags', user: U, mailbox: M, uid: 3, flags: ['\\Flagged'] }, { exclude: b });
  assert.deepEqual(lines(a.poll({ allowExpunge: false })), ['3 FETCH 3 (\\Flagged)']);
  assert.deepEqual(b.poll({ allowExpunge: false }), []);
});

test('own EXPUNGE and APPEND: the acting session polls and gets the normal responses', async () => {
  const { tracker, session } = await setup(3);
  tracker.expunge(UidSet.of(2));
  tracker.exists(UidSet.of(4));
  tracker.flags(4, ['\\Seen']);
  assert.deepEqual(lines(session.poll({ allowExpunge: true })), ['2 EXPUNGE', '3 EXISTS', '3 FETCH 4 (\\Seen)']);
});

test('a full queue collapses; the next poll compares the whole view and is still exact', async () => {
  const storage = new Storage();
  storage.append(50);
  const { registry } = testRegistry({ maxPending: 8 });
  const state = storage.read();
  const session = await registry.select(U, M, async () => state);
  const tracker = registry.get(U, M)!;
  const client = new ClientModel(state);
  for (let u = 1; u <= 50; u += 3) {
    storage.setFlags(u, ['\\Seen']);
    tracker.flags(u, ['\\Seen']);
  }
  const gone = storage.expunge([2, 3, 10, 11, 12, 40]);
  tracker.expunge(UidSet.parse(gone));
  for (let i = 0; i < 4; i++) tracker.exists(UidSet.parse(storage.append(5)));
  const held = session.poll({ allowExpunge: false });
  client.apply(held, false);
  assert.ok(!held.some((r) => r.kind === 'expunge'));
  client.apply(session.poll({ allowExpunge: true }), true);
  client.matches(storage);
});

test('an EXISTS naming more new messages than the queue bound asks for a read instead', async () => {
  const storage = new Storage();
  storage.append(3);
  const { registry, requests } = testRegistry({ maxPending: 8 });
  const state = storage.read();
  const session = await registry.select(U, M, async () => state);
  const tracker = registry.get(U, M)!;
  tracker.exists(UidSet.parse(storage.append(20)));
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  await settle();
  assert.equal(requests.length, 1);
  tracker.resync(storage.read());
  const client = new ClientModel(state);
  client.apply(session.poll({ allowExpunge: true }), true);
  client.matches(storage);
});

test('close releases the tracker; updates for mailboxes nobody selected are dropped', async () => {
  const { registry, session } = await setup(2);
  registry.apply(validateUpdate({ type: 'exists', user: U, mailbox: 'Other', uids: '1' }));
  registry.apply(validateUpdate({ type: 'exists', user: 'bob', mailbox: M, uids: '9' }));
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  assert.equal(registry.size, 1);
  session.close();
  assert.equal(registry.size, 0);
  assert.equal(session.closed, true);
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
});

test('watch wakes an IDLE session once per burst', async () => {
  const { tracker, session } = await setup(3);
  let wakes = 0;
  const stop = session.watch(() => wakes++);
  tracker.flags(1, ['\\Seen']);
  tracker.flags(2, ['\\Seen']);
  tracker.exists(UidSet.of(4));
  await settle();
  assert.equal(wakes, 1);
  session.poll({ allowExpunge: true });
  tracker.expunge(UidSet.of(1));
  await settle();
  assert.equal(wakes, 2);
  stop();
  tracker.expunge(UidSet.of(2));
  await settle();
  assert.equal(wakes, 2);
});

test('modseq: an older change is never shown after a newer one; the flags an exists leaves unknown come at its modseq', async () => {
  const { storage, session, tracker, client } = await setup(2);
  const [u] = storage.append(1, ['$Work']);
  const at = storage.modseq;
  tracker.exists(UidSet.of(u!), { modseq: at });
  tracker.flags(u!, ['$Work'], { modseq: at }); // the delivery's own flags, same modseq: news
  tracker.flags(1, ['\\Seen'], { modseq: 50 });
  tracker.flags(1, ['\\Flagged'], { modseq: 40 }); // overtaken: dropped
  client.apply(session.poll({ allowExpunge: true }), true);
  assert.deepEqual(client.msgs.map((m) => m.flags), ['\\seen', '', '$work']);
  assert.equal(client.modseqs.get(1), 50);
});

test('a session whose client was told newer flags by its own FETCH is not told the older ones the pipe brings later', async () => {
  const { registry, storage, session, tracker } = await setup(2);
  const newer = storage.setFlags(1, ['\\Answered']);
  session.told(1, ['\\Answered'], newer); // its FETCH read storage, ahead of the pipe
  tracker.flags(1, ['\\Seen'], { modseq: newer - 1 }); // an older change, arriving now
  assert.deepEqual(session.poll({ allowExpunge: true }), []);
  registry.apply(validateUpdate({ type: 'flags', user: U, mailbox: M, uid: 1, flags: ['\\Answered'], modseq: newer }));
  assert.deepEqual(session.poll({ allowExpunge: true }), [], 'and the client already has the newest');
});

test('a CONDSTORE session is told a change without a modseq only once storage gave it one', async () => {
  const { storage, session, tracker, requests } = await setup(2);
  session.wantModseq();
  await settle();
  assert.equal(requests.length, 0, 'every modseq is known from the read');
  storage.setFlags(2, ['\\Seen']);
  tracker.flags(2, ['\\Seen']); // a producer without modseqs
  assert.deepEqual(session.poll({ allowExpunge: true }), [], 'held: no MODSEQ to give');
  await settle();
  assert.equal(requests.length, 1, 'storage is asked');
  let woke = 0;
  const stop = session.watch(() => woke++);
  tracker.resync(storage.read());
  await settle();
  assert.ok(woke > 0, 'an IDLE session is woken for it');
  stop();
  const rs = session.poll({ allowExpunge: true });
  assert.deepEqual(rs, [{ kind: 'fetch', seq: 2, uid: 2, flags: ['\\Seen'], modseq: storage.modseq }]);
});
