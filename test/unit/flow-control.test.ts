import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlowControl } from '../../src/hub/flow-control.js';
import { waitFor } from '../helpers/wait.js';

/** Listeners whose queues the test sets by hand; what the hub was told, in order. */
function rig(stallMs = 60) {
  const queue = new Map<string, number>();
  const gone = new Set<string>();
  const said: string[] = [];
  const flow = new FlowControl<string>({
    highWater: 100,
    stallMs,
    pending: (l) => queue.get(l) ?? 0,
    gone: (l) => gone.has(l),
    cut: (l, why) => void said.push(`cut ${l}: ${why.split(' ')[0]}`),
    pauseAll: () => void said.push('pause'),
    resumeAll: () => void said.push('resume'),
  });
  const set = (l: string, bytes: number): void => {
    queue.set(l, bytes);
    flow.queued(l);
  };
  return { flow, queue, gone, said, set };
}

test('flow control: a listener past the high-water mark holds everyone until it is down to half', async () => {
  const r = rig();
  r.set('a', 100);
  assert.deepEqual(r.said, [], 'at the mark is not past it');
  r.set('a', 101);
  r.set('b', 500);
  assert.deepEqual(r.said, ['pause'], 'paused once, for both');
  assert.equal(r.flow.holding, true);
  r.queue.set('a', 50);
  r.queue.set('b', 400); // b made progress, but is still behind
  await new Promise((res) => setTimeout(res, 30));
  assert.deepEqual(r.said, ['pause'], 'b still holds everyone');
  r.queue.set('b', 20);
  await waitFor(() => r.said.length === 2, 'resume');
  assert.deepEqual(r.said, ['pause', 'resume']);
  assert.equal(r.flow.holding, false);
});

test('flow control: a listener that takes nothing is cut off; one that crawls is cut off after three stall times', async () => {
  const r = rig(40);
  r.set('stuck', 1000);
  await waitFor(() => r.said.length === 3, 'the stuck listener cut off and the others resumed');
  assert.deepEqual(r.said, ['pause', 'cut stuck: took', 'resume']);
  r.said.length = 0;
  r.set('slow', 100_000);
  // Always a little progress, never enough.
  const crawl = setInterval(() => r.queue.set('slow', r.queue.get('slow')! - 1), 5);
  try {
    await waitFor(() => r.said.length === 3, 'the crawling listener cut off');
  } finally {
    clearInterval(crawl);
  }
  assert.deepEqual(r.said, ['pause', 'cut slow: stayed', 'resume']);
});

test('flow control: a listener that goes away holds nobody; stop() lets everyone go', async () => {
  const r = rig(10_000);
  r.set('a', 1000);
  r.gone.add('a');
  await waitFor(() => r.said.length === 2, 'resume once it is gone');
  assert.deepEqual(r.said, ['pause', 'resume']);
  r.said.length = 0;
  r.set('b', 1000);
  r.flow.stop();
  assert.deepEqual(r.said, ['pause', 'resume']);
  assert.equal(r.flow.holding, false);
});
