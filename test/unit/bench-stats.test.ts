import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pairedRatio, poolLatency, quantile, summarize } from '../../src/bench/stats.js';

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

test('latency runs pool into one longer measurement; each run keeps its own p99 for the spread', () => {
  // Three runs of 1,000 samples at 0.1 ms; the second met a stall: 15 samples at 5 ms.
  const calm = (): number[] => Array.from({ length: 1000 }, () => 0.1);
  const stalled = calm().map((x, i) => (i < 15 ? 5 : x));
  // Warm-ups of 100 slow updates each: mixed into the measured samples they would be 9 %.
  const runs = [calm(), stalled, calm()].map((samples) => ({ samples, warm: Array.from({ length: 100 }, () => 9) }));
  const l = poolLatency(runs);
  // Alone, the stalled run's p99 is the stall; over 3,000 samples its 15 are under the 1 %.
  assert.equal(quantile(stalled, 0.99), 5);
  assert.equal(l.p99, 0.1);
  assert.deepEqual(l.p99Spread, [0.1, 5]);
  assert.equal(l.p999, 5, 'the tail is still seen past the 1 %');
  assert.equal(l.p50, 0.1);
  assert.equal(l.warmP99, 9, 'the warm-ups pooled on their own');
  assert.equal(l.rounds, 3);
  // 31 stalled samples of 3,016 are more than 1 %: the pooled p99 is the stall again.
  const worse = poolLatency([...runs, { samples: Array.from({ length: 16 }, () => 5), warm: [] }]);
  assert.equal(worse.p99, 5);
  assert.throws(() => poolLatency([]), RangeError);
});
