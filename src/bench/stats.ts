export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The q-quantile (nearest rank) of samples already sorted ascending. */
const nearestRank = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

/** The q-quantile (nearest rank) of the samples. */
export const quantile = (xs: number[], q: number): number => nearestRank([...xs].sort((a, b) => a - b), q);

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

/** One latency run's samples in ms: the measured window, and the warm-up's apart. */
export interface LatencySamples {
  samples: number[];
  warm: number[];
}

/** Quantiles of several latency runs pooled, and the spread of the runs' own p99. */
export interface Latency {
  p50: number;
  p99: number;
  p999: number;
  /** p99 of the warm-ups' updates, while V8 still compiles the hot path. */
  warmP99: number;
  /** The lowest and highest p99 of a single run. */
  p99Spread: [number, number];
  rounds: number;
}

/**
 * Several runs at one rate as one longer measurement: a quantile over all their samples
 * (a 5 s window's p99 is about its 50th-worst update, so one stall of the machine in one
 * window decided it), with each run's own p99 for the spread. Quantiles are nearest rank
 * (`quantile`); the workers used to take index floor(n·p), one sample higher.
 */
export function poolLatency(runs: readonly LatencySamples[]): Latency {
  if (runs.length === 0) throw new RangeError('no latency runs');
  const all = runs.flatMap((r) => r.samples).sort((a, b) => a - b);
  const own = runs.map((r) => quantile(r.samples, 0.99));
  return {
    p50: nearestRank(all, 0.5),
    p99: nearestRank(all, 0.99),
    p999: nearestRank(all, 0.999),
    warmP99: quantile(runs.flatMap((r) => r.warm), 0.99),
    p99Spread: [Math.min(...own), Math.max(...own)],
    rounds: runs.length,
  };
}
