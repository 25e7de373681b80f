import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { readCanonicalBatch, readCanonicalEnvelope } from '../../src/envelope/canonical-reader.js';
import { writeCanonicalEnvelope } from '../../src/envelope/canonical-writer.js';
import { isCanonicalUidSet } from '../../src/update/uid-set-bytes.js';
import { UidSet } from '../../src/update/uid-set.js';
import { decodeEnvelope, decodeEnvelopeAt, encodeCheckedEnvelope, packValue, unpackValue } from '../../src/envelope/codec.js';
import { validateDecodedEnvelope, validateEnvelope } from '../../src/envelope/envelope.js';

/**
 * The canonical reader and writer are shortcuts: the reader for msgpackr +
 * validateDecodedEnvelope, the writer for validateEnvelope + msgpackr.
 *
 * The reader is a shortcut for msgpackr + validateDecodedEnvelope: for any bytes
 * it gives the same envelope, key order included, or `undefined`, never a different
 * answer, and never an envelope where the general path throws.
 */
function general(bytes: Uint8Array): { env?: string; error?: string } {
  try {
    return { env: JSON.stringify(validateDecodedEnvelope(unpackValue(bytes))) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function agrees(bytes: Uint8Array): 'fast' | 'general' {
  const fast = readCanonicalEnvelope(bytes, 0, bytes.length);
  const g = general(bytes);
  if (fast === undefined) return 'general';
  assert.equal(g.error, undefined, `the reader accepted what the general path rejects: ${g.error}`);
  assert.equal(JSON.stringify(fast), g.env);
  return 'fast';
}

const ORIGIN = 'Gx1_-.:abcdefghijklmnop';
const envOf = (update: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ v: 1, origin: ORIGIN, seq: 7, ts: 1_796_219_913_990, update, ...extra });
const bytesOf = (update: unknown, extra?: Record<string, unknown>): Buffer => packValue(envOf(update, extra));

const asciiName = fc.string({ minLength: 1, maxLength: 40, unit: fc.constantFrom(...'abcXYZ09@.-_ /*\\"'.split('')) });
const anyName = fc.oneof(asciiName, fc.string({ maxLength: 40 }), fc.constant('*'), fc.constant('é'), fc.constant('\u0001x'));
const flag = fc.oneof(fc.constantFrom('\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded', '$Junk', '$NotJunk', '$MDNSent', '\\SEEN', 'custom', 'bad flag', ''), fc.string({ maxLength: 8 }));
const num = fc.oneof(fc.integer({ min: -3, max: 300 }), fc.constantFrom(0, 1, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1.5, -0, Number.NaN, Infinity));
const uids = fc.oneof(
  fc.constantFrom('1', '1:3', '1:3,7', '5:5', '3,1', '1:3,4', '01', '1,,2', '1:', ':2', '4294967295', '4294967296', '1:4294967295', '2:1', '1,3:2', '*', ''),
  fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 }).map((a) => a.join(',')),
  fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 4 }),
);
const optional = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const scope = { uidValidity: optional(num), modseq: optional(num) };
const messageUpdate = fc.oneof(
  fc.record({ type: fc.constant('flags'), user: anyName, mailbox: anyName, uid: num, flags: fc.array(flag, { maxLength: 4 }), ...scope }),
  fc.record({ type: fc.constantFrom('exists', 'expunge'), user: anyName, mailbox: anyName, uids, ...scope }),
  // anything goes: other types, missing and stray fields
  fc.record(
    { type: fc.constantFrom('flags', 'exists', 'mailbox', 'resync', 'other'), user: anyName, mailbox: anyName, uid: num, uids, flags: fc.array(flag, { maxLength: 4 }), op: fc.constantFrom('create', 'rename'), ...scope },
    { requiredKeys: ['type'] },
  ),
);

test('random updates: the reader agrees with the general path, and takes the canonical ones itself', () => {
  let fast = 0;
  fc.assert(
    fc.property(messageUpdate, num, fc.oneof(fc.constant(1_796_219_913_990), num), (u, seq, ts) => {
      // Once as sent (any shape), once canonical as a push writes it, where it is valid.
      agrees(bytesOf(u, { seq, ts }));
      let checked;
      try {
        checked = validateEnvelope(envOf(u, { seq, ts }));
      } catch {
        return;
      }
      const frame = encodeCheckedEnvelope(checked);
      const path = agrees(frame);
      if (path === 'fast') fast++;
      const t = checked.update.type;
      const plain = (s: string | undefined): boolean => s === undefined || /^[\x20-\x7e]+$/.test(s);
      const common = t !== 'flags' || checked.update.flags.every((f) => ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded', '$Junk', '$NotJunk', '$MDNSent'].includes(f));
      if ((t === 'flags' || t === 'exists' || t === 'expunge') && plain(checked.update.user) && plain(checked.update.mailbox) && common) {
        assert.equal(path, 'fast', `a canonical ${t} update went the general way: ${JSON.stringify(checked)}`);
      }
    }),
    { numRuns: 5000 },
  );
  // ~150–190 over many seeds (5,000 runs): far above the bound unless the reader gives up.
  assert.ok(fast > 50, `only ${fast} canonical updates were read by the reader`);
});

test('mutated, truncated and extended bytes: the same answer or undefined', () => {
  const seeds = [
    bytesOf({ type: 'flags', user: 'alice@example.org', mailbox: 'INBOX', uid: 5, flags: ['\\Seen', '\\Flagged'], uidValidity: 9, modseq: 2 ** 40 }),
    bytesOf({ type: 'exists', user: 'bob', mailbox: 'Archive/2026', uids: '1:3,7,9:4294967295', modseq: 0 }),
    bytesOf({ type: 'expunge', user: 'bob', mailbox: 'INBOX', uids: '4' }),
  ];
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.integer({ min: -8, max: 4 }), (seed, flips, resize) => {
      let b = Buffer.from(seed);
      for (const [i, v] of flips) b[i % b.length] = v;
      if (resize < 0) b = b.subarray(0, Math.max(0, b.length + resize));
      else if (resize > 0) b = Buffer.concat([b, Buffer.alloc(resize, 0xc0)]);
      agrees(b);
    }),
    { numRuns: 20_000 },
  );
});

test('the shortcut is only for what it knows: anything else goes the general way', () => {
  const good = { type: 'flags', user: 'a', mailbox: 'INBOX', uid: 5, flags: ['\\Seen'] };
  assert.equal(agrees(bytesOf(good)), 'fast');
  const generalWay = [
    bytesOf({ mailbox: 'INBOX', type: 'flags', user: 'a', uid: 5, flags: ['\\Seen'] }), // key order
    packValue({ origin: ORIGIN, v: 1, seq: 7, ts: 1, update: good }),
    bytesOf({ ...good, flags: ['\\Seen', '\\seen'] }), // a duplicate to drop
    bytesOf({ ...good, flags: ['custom'] }),
    bytesOf({ ...good, user: 'é' }),
    bytesOf({ ...good, user: '*' }),
    bytesOf({ type: 'exists', user: 'a', mailbox: 'INBOX', uids: '3,1' }),
    bytesOf({ type: 'exists', user: 'a', mailbox: 'INBOX', uids: '1:2,3' }),
    bytesOf({ type: 'exists', user: 'a', mailbox: 'INBOX', uids: '5:5' }),
    bytesOf({ type: 'exists', user: 'a', mailbox: 'INBOX', uids: [1, 2] }),
    bytesOf({ type: 'mailbox', user: 'a', mailbox: 'X', op: 'create' }),
    bytesOf(good, { v: 2 }),
    bytesOf(good, { extra: 1 }),
    Buffer.concat([bytesOf(good), Buffer.from([0xc0])]),
  ];
  for (const b of generalWay) assert.equal(agrees(b), 'general', general(b).env ?? general(b).error);
  // and the public decoders still canonicalise or reject those
  assert.equal(decodeEnvelope(generalWay[6]!).update.type === 'exists' && (decodeEnvelope(generalWay[6]!).update as { uids: string }).uids, '1,3');
  assert.throws(() => decodeEnvelope(generalWay[11]!), /version/);
});

test('a frame read in place out of a larger chunk, at an offset into pooled memory', () => {
  const frames = [1, 2, 3].map((i) => encodeCheckedEnvelope(validateEnvelope(envOf({ type: 'flags', user: 'u', mailbox: 'INBOX', uid: i, flags: ['\\Seen'] }, { seq: i })), 3));
  const chunk = Buffer.concat([Buffer.from([9, 9, 9]), ...frames, Buffer.from([1, 2])]).subarray(3);
  let at = 0;
  for (let i = 0; i < 3; i++) {
    const end = at + frames[i]!.length;
    const env = readCanonicalEnvelope(chunk, at + 5, end);
    assert.equal(env?.seq, i + 1);
    assert.deepEqual(env, decodeEnvelopeAt(chunk, at + 5, end));
    // one byte short or long of the frame is not an envelope
    assert.equal(readCanonicalEnvelope(chunk, at + 5, end - 1), undefined);
    assert.equal(readCanonicalEnvelope(chunk, at + 5, end + 1), undefined);
    at = end;
  }
});

test('a long UID set is read as such; one past 64 KiB (str 32) goes the general way', () => {
  for (const [count, fast] of [[10_000, true], [100_000, false]] as const) {
    const uids = Array.from({ length: count }, (_, k) => 3 * k + 1).join(',');
    const frame = encodeCheckedEnvelope(validateEnvelope(envOf({ type: 'expunge', user: 'u', mailbox: 'INBOX', uids })), 3);
    const env = readCanonicalEnvelope(frame, 5, frame.length);
    assert.equal((env?.update as { uids: string } | undefined)?.uids, fast ? uids : undefined);
    assert.equal((decodeEnvelopeAt(frame, 5, frame.length).update as { uids: string }).uids, uids);
  }
});

test('a batch: every envelope canonical, or the general way for all of them', () => {
  const envs = [1, 2, 3].map((i) => validateEnvelope(envOf({ type: 'expunge', user: 'u', mailbox: 'INBOX', uids: String(i) }, { seq: i })));
  const batch = packValue(envs);
  assert.deepEqual(readCanonicalBatch(batch, 1024), envs);
  assert.equal(readCanonicalBatch(batch, 2), undefined, 'more than the cap');
  assert.equal(readCanonicalBatch(packValue([...envs, { v: 1 }]), 1024), undefined);
  assert.equal(readCanonicalBatch(packValue([]), 1024), undefined);
  assert.equal(readCanonicalBatch(batch.subarray(0, batch.length - 1), 1024), undefined);
  assert.equal(readCanonicalBatch(packValue(envs[0]), 1024), undefined, 'not an array');
  const many = Array.from({ length: 40 }, (_, i) => validateEnvelope(envOf({ type: 'flags', user: 'u', mailbox: 'INBOX', uid: i + 1, flags: [] }, { seq: i + 1 })));
  assert.deepEqual(readCanonicalBatch(packValue(many), 1024), many, 'array 16 header');
});

test('the update vectors, sent as they are: the same answers both ways', () => {
  const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
  for (const file of ['update-vectors.jsonl', 'update-vectors-extra.jsonl']) {
    for (const line of readFileSync(fixtures + file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      agrees(bytesOf((JSON.parse(line) as { in: unknown }).in));
    }
  }
});

/** The writer: msgpackr's bytes for validateEnvelope's result, or undefined; never bytes where the general path throws. */
function writes(u: unknown, seq: number, ts: number, kind?: number): 'fast' | 'general' {
  const fast = writeCanonicalEnvelope(ORIGIN, seq, ts, u, kind);
  let expected: Buffer | undefined;
  try {
    expected = encodeCheckedEnvelope(validateEnvelope({ v: 1, origin: ORIGIN, seq, ts, update: u }), kind);
  } catch (err) {
    assert.equal(fast, undefined, `the writer took what the general path rejects: ${(err as Error).message}`);
    return 'general';
  }
  if (fast === undefined) return 'general';
  assert.equal(Buffer.from(fast).toString('hex'), Buffer.from(expected).toString('hex'));
  return 'fast';
}

const isPlain = (s: string | undefined): boolean => s === undefined || /^[\x20-\x7e]+$/.test(s);
const COMMON = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded', '$Junk', '$NotJunk', '$MDNSent'];

test('random updates: the writer gives the bytes msgpackr gives the checked envelope, and writes the canonical ones itself', () => {
  let fast = 0;
  let canonicalFast = 0;
  fc.assert(
    fc.property(messageUpdate, fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), num), fc.oneof(fc.constant(1_796_219_913_990), num), fc.constantFrom(undefined, 3), (u, seq, ts, kind) => {
      if (writes(u, seq, ts, kind) === 'fast') fast++;
      // The same update once canonical: the writer must take it if it is plain enough.
      let checked;
      try {
        checked = validateEnvelope(envOf(u, { seq, ts })).update;
      } catch {
        return;
      }
      const path = writes(checked, seq, ts, kind);
      if (path === 'fast') canonicalFast++;
      const t = checked.type;
      const flagsOk = t !== 'flags' || (checked.flags.length <= 15 && checked.flags.every((f) => COMMON.includes(f)));
      if ((t === 'flags' || t === 'exists' || t === 'expunge') && isPlain(checked.user) && isPlain(checked.mailbox) && flagsOk && Number.isSafeInteger(ts) && ts >= 0) {
        assert.equal(path, 'fast', `a canonical ${t} update went the general way: ${JSON.stringify(checked)}`);
      }
    }),
    { numRuns: 5000 },
  );
  // Over many seeds: ~70 of the updates as generated and ~195 of their canonical forms are written
  // by the writer (5,000 runs); the bounds sit many deviations below, so only a writer that gives
  // up on what it should take fails them.
  assert.ok(fast > 20, `only ${fast} updates as generated were written by the writer`);
  assert.ok(canonicalFast > 100, `only ${canonicalFast} canonical updates were written by the writer`);
});

test('the writer: hostile and odd inputs go the general way, and frames already handed out stay as they were', () => {
  const good = { type: 'flags', user: 'a', mailbox: 'INBOX', uid: 5, flags: ['\\Seen'] };
  assert.equal(writes(good, 1, 1), 'fast');
  // Long names take longer string headers (str 8, str 16), and numbers every integer form.
  for (const n of [31, 32, 255, 256, 1024]) assert.equal(writes({ ...good, mailbox: 'm'.repeat(n), user: 'u'.repeat(Math.min(n, 320)) }, 1, 1, 3), 'fast', `names of ${n}`);
  const longSet = Array.from({ length: 20_000 }, (_, k) => 2 * k + 1).join(','); // > 64 KiB: str 32
  assert.equal(writes({ type: 'exists', user: 'u', mailbox: 'INBOX', uids: longSet }, 1, 1, 3), 'fast');
  for (const v of [127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1]) assert.equal(writes({ ...good, uid: v, uidValidity: v, modseq: v * 2 ** 20 }, v, v, 3), 'fast', `numbers around ${v}`);
  const odd: unknown[] = [
    null,
    'flags',
    [good],
    Object.assign(Object.create({ inherited: 1 }), good),
    { ...good, type: 'constructor' },
    { ...good, type: '__proto__' },
    { ...good, extra: 1 },
    { ...good, uid: 0 },
    { ...good, uid: 2 ** 32 },
    { ...good, uid: '5' },
    { ...good, flags: ['\\Seen', '\\Seen'] },
    { ...good, flags: ['\\Seen', '\\SEEN'] },
    { ...good, flags: '\\Seen' },
    { ...good, user: '*' },
    { ...good, user: 'x'.repeat(321) },
    { ...good, mailbox: 'é' },
    { ...good, modseq: -1 },
    { ...good, modseq: 2 ** 53 },
    { ...good, uidValidity: 1.5 },
    { type: 'exists', user: 'a', mailbox: 'INBOX', uids: [1, 2] },
    { type: 'exists', user: 'a', mailbox: 'INBOX', uids: '2,1' },
    { type: 'exists', user: 'a', mailbox: 'INBOX', uids: '1:é' },
    { type: 'exists', user: 'a', mailbox: 'INBOX', uid: 1, uids: '1' },
    { type: 'exists', user: 'a', mailbox: 'INBOX', uids: '1', flags: ['\\Seen'] },
    { ...good, modseq: undefined },
    { ...good, uids: '1' },
    // An unknown key beside one of ours that is not enumerable: the counts alone would match.
    Object.defineProperty({ type: 'exists', user: 'a', mailbox: 'INBOX', uids: '1', extra: 1 }, 'modseq', { value: 5 }),
    Object.defineProperty({ ...good, extra: 1 }, 'uidValidity', { value: 5 }),
  ];
  for (const u of odd) assert.equal(writes(u, 1, 1), 'general', JSON.stringify(u));
  assert.equal(writeCanonicalEnvelope(ORIGIN, 1, 1.5, good), undefined, 'a fractional timestamp');
  // Past a block's end: big names and long UID sets start new blocks; older frames keep their bytes.
  const kept: [Buffer, string][] = [];
  for (let i = 0; i < 400; i++) {
    const u = i % 2 ? { ...good, uid: i + 1, mailbox: 'm'.repeat(900) } : { type: 'exists', user: 'u', mailbox: 'INBOX', uids: Array.from({ length: 300 }, (_, k) => 3 * k + 1).join(',') };
    const f = writeCanonicalEnvelope(ORIGIN, i + 1, 1, u, 3)!;
    kept.push([f, Buffer.from(f).toString('hex')]);
  }
  for (const [f, hex] of kept) assert.equal(f.toString('hex'), hex);
  assert.equal(decodeEnvelopeAt(kept[399]![0], 5, kept[399]![0].length).seq, 400);
});

test('UID set text is taken as canonical exactly when UidSet prints it so', () => {
  fc.assert(
    fc.property(fc.oneof(uids.filter((x): x is string => typeof x === 'string'), fc.stringMatching(/^[0-9:,]{0,14}$/)), (text) => {
      let canonical = false;
      try {
        canonical = UidSet.parse(text).toString() === text;
      } catch {
        // not a UID set at all
      }
      assert.equal(isCanonicalUidSet(Buffer.from(text, 'latin1'), 0, text.length), canonical, text);
    }),
    { numRuns: 20_000 },
  );
});

test('the reader\'s remembered names: one byte different anywhere, at any length, is another name', () => {
  // Names are compared with the last one read four bytes at a time, then byte by byte: a
  // difference in a word or in the tail, in names shorter and longer than the first buffer.
  for (let n = 1; n <= 70; n++) {
    const base = 'm'.repeat(n);
    const names = [base, ...Array.from({ length: n }, (_, k) => base.slice(0, k) + 'x' + base.slice(k + 1)), base];
    for (const mailbox of names) {
      const bytes = bytesOf({ type: 'flags', user: mailbox, mailbox, uid: 1, flags: ['\\Seen'] });
      const env = readCanonicalEnvelope(bytes, 0, bytes.length);
      assert.equal((env?.update as { mailbox?: string } | undefined)?.mailbox, mailbox, `mailbox of ${n} bytes`);
      assert.equal((env?.update as { user?: string } | undefined)?.user, mailbox, `user of ${n} bytes`);
    }
  }
});
