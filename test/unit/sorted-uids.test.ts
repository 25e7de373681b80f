import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FlagSetPool, type FlagSet } from '../../src/tracker/flag-set.js';
import { diffMessages, type Difference, type SortedMessages } from '../../src/tracker/sorted-uids.js';

const pool = new FlagSetPool();
const list = (entries: [number, string[] | null][]): SortedMessages => ({
  uids: entries.map(([u]) => u),
  flags: entries.map(([, f]) => (f === null ? null : (pool.of(f) as FlagSet))),
});
const diff = (a: SortedMessages, b: SortedMessages, also?: (uid: number) => boolean): [Difference, number, number, number][] => {
  const out: [Difference, number, number, number][] = [];
  diffMessages(a, b, (d, uid, i, j) => out.push([d, uid, i, j]), also);
  return out;
};

test('diffMessages reports gone, new and changed flags with their positions, each UID once', () => {
  const a = list([[1, ['\\Seen']], [2, []], [4, ['\\Flagged']]]);
  const b = list([[2, []], [3, []], [4, ['\\Seen']]]);
  assert.deepEqual(diff(a, b), [['gone', 1, 0, -1], ['new', 3, -1, 1], ['flags', 4, 2, 2]]);
  assert.deepEqual(diff(a, a), []);
});

test('diffMessages: alsoChanged reports a UID with the same flags (a newer modseq) once, as flags', () => {
  const a = list([[1, ['\\Seen']], [2, []], [3, []]]);
  const b = list([[1, ['\\Seen']], [2, ['\\Deleted']], [3, []]]);
  const asked: number[] = [];
  const out = diff(a, b, (uid) => (asked.push(uid), uid === 1 || uid === 2));
  assert.deepEqual(out, [['flags', 1, 0, 0], ['flags', 2, 1, 1]]);
  // Only UIDs present in both with equal flags are asked about.
  assert.deepEqual(asked, [1, 3]);
});

test('diffMessages agrees with a set-based model on random lists', () => {
  const entry = fc.tuple(fc.integer({ min: 1, max: 40 }), fc.constantFrom<string[] | null>(null, [], ['\\Seen'], ['\\Seen', '\\Flagged']));
  const sorted = fc.array(entry, { maxLength: 30 }).map((es) => [...new Map(es).entries()].sort((x, y) => x[0] - y[0]));
  fc.assert(
    fc.property(sorted, sorted, fc.integer({ min: 1, max: 40 }), (ea, eb, bumped) => {
      const a = list(ea);
      const b = list(eb);
      const fa = new Map(ea);
      const fb = new Map(eb);
      const want: [Difference, number][] = [];
      for (const u of [...new Set([...fa.keys(), ...fb.keys()])].sort((x, y) => x - y)) {
        if (!fb.has(u)) want.push(['gone', u]);
        else if (!fa.has(u)) want.push(['new', u]);
        else if (JSON.stringify(fa.get(u)) !== JSON.stringify(fb.get(u)) || u === bumped) want.push(['flags', u]);
      }
      const got = diff(a, b, (u) => u === bumped).map(([d, u, i, j]) => {
        if (i >= 0) assert.equal(a.uids[i], u);
        if (j >= 0) assert.equal(b.uids[j], u);
        return [d, u] as [Difference, number];
      });
      assert.deepEqual(got, want);
    }),
  );
});
