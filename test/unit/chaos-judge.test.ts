import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judge } from '../chaos/judge.js';

const all = (n: number): Set<number> => new Set(Array.from({ length: n }, (_, i) => i));

test('chaos judge: complete, duplicated, covered and uncovered streams', () => {
  assert.deepEqual(judge('l', all(4), [0, 1, 2, 3]).unexplained, 0);
  const dup = judge('l', all(3), [0, 1, 1, 2, 2, 2]);
  assert.equal(dup.duplicates, 3);
  assert.equal(dup.delivered, 3);
  // 2 and 3 lost, a resync after 1: covered.
  assert.equal(judge('l', all(5), [0, 1, -1, 4]).unexplained, 0);
  // A resync before the loss does not cover it.
  const early = judge('l', all(5), [-1, 0, 1, 4]);
  assert.equal(early.unexplained, 2);
  assert.match(early.detail, /first: 2, 3/);
  // Lost at the tail with no resync after.
  assert.equal(judge('l', all(4), [0, 1]).unexplained, 2);
  // Late copies filling a hole (JetStream redelivery) count as delivered.
  assert.equal(judge('l', all(4), [0, 2, 3, 1]).unexplained, 0);
  // Updates the pusher never got accepted are not expected.
  assert.equal(judge('l', new Set([0, 1, 3]), [0, 1, 3]).unexplained, 0);
});
