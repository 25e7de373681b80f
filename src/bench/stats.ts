export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The q-quantile (nearest rank) of the samples. */
export const quantile = (xs: number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};

/** Several rounds of one measurement: the median and the spread. */
export interface Rounds {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

export function summarize(xs: number[]): Rounds {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), rounds: xs.length };
}

/**
 * The median of x[i] / base[i]: a ratio of measurements taken round by round in turn, so that
 * each quotient compares the same moments of the machine.
 */
export function pairedRatio(xs: readonly number[], base: readonly number[]): number {
  if (xs.length !== base.length || xs.length === 0) throw new RangeError('paired rounds of different lengths');
  return median(xs.map((x, i) => x / base[i]!));
}
