export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
