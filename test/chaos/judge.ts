/** What one listener's record says about C3 (nothing twice) and C4 (no silent loss). */
export interface Verdict {
  listener: string;
  delivered: number;
  duplicates: number;
  /** Accepted updates neither received nor followed by a resync. */
  unexplained: number;
  resyncs: number;
  detail: string;
}

/**
 * `events`: update indices in arrival order, −1 for a resync. A missing update is
 * explained when a resync arrived after the last update that came before it (the resync
 * re-reads storage, which has the change).
 */
export function judge(listener: string, accepted: ReadonlySet<number>, events: readonly number[]): Verdict {
  const seen = new Map<number, number>();
  let resyncs = 0;
  const lastResyncAt = events.lastIndexOf(-1);
  for (const e of events) {
    if (e === -1) resyncs++;
    else if (e >= 0) seen.set(e, (seen.get(e) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const k of seen.values()) duplicates += k - 1;
  // Position of the last event with an index below i, for every i, in one pass.
  const maxIndex = Math.max(-1, ...accepted);
  const lastBelow = new Int32Array(maxIndex + 2).fill(-1); // lastBelow[i+1] = last position of an index ≤ i
  events.forEach((e, pos) => {
    if (e >= 0 && e <= maxIndex) lastBelow[e + 1] = Math.max(lastBelow[e + 1]!, pos);
  });
  for (let i = 1; i < lastBelow.length; i++) lastBelow[i] = Math.max(lastBelow[i]!, lastBelow[i - 1]!);
  const unexplained: number[] = [];
  let delivered = 0;
  for (const i of accepted) {
    if (seen.has(i)) delivered++;
    else if (lastResyncAt <= lastBelow[i]!) unexplained.push(i);
  }
  const sample = unexplained.sort((a, b) => a - b).slice(0, 10);
  return {
    listener,
    delivered,
    duplicates,
    unexplained: unexplained.length,
    resyncs,
    detail: `${duplicates} duplicate(s), ${unexplained.length} unexplained loss(es)${sample.length ? ` (first: ${sample.join(', ')})` : ''}`,
  };
}
