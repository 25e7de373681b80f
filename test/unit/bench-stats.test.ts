import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pairedRatio, quantile, summarize } from '../../src/bench/stats.js';

test('a paired ratio compares round with round: a slow round slows both sides and does not move it', () => {
  // The pipe is 0.9× its baseline in every round; the machine halves its speed in round 2.
  const base = [300_000, 150_000, 310_000];
  const pipe = [270_000, 135_000, 279_000];
  assert.equal(pairedRatio(pipe, base), 0.9);
  // Between medians of the same figures it would read otherwise if the rounds fell apart.
  const pipeLate = [135_000, 270_000, 140_000];
  assert.ok(summarize(pipeLate).median / summarize(base).median < 0.5);
  assert.equal(pairedRatio([1, 2, 30], [1, 1, 1]), 2, 'the median of the quotients, not their mean');
  assert.throws(() => pairedRatio([1, 2], [1]), RangeError);
  assert.throws(() => pairedRatio([], []), RangeError);
});

test('quantiles are nearest rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(quantile(xs, 0.99), 99);
  assert.equal(quantile(xs, 0.5), 50);
  assert.equal(quantile([7], 0.99), 7);
});
