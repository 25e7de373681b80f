/** One figure: a value beside the baseline it is compared with, measured in the same run. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline. */
  ratio?: number;
  /** The SPEC §8 goal this figure is held to, and whether this run met it. */
  goal?: { text: string; met: boolean };
  /** Spread over rounds (min, max) when there were several. */
  spread?: [number, number];
  rounds?: number;
  /** Set when the scenario could not run; value is then NaN. */
  error?: string;
  /** Where the chart draws it. */
  chart?: { panel: 'throughput' | 'latency'; backend: string; series: string };
}

const num = (v: number): string => (Number.isNaN(v) ? '—' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(3));

export function formatTable(results: BenchResult[]): string {
  const rows = [
    ['scenario', 'value', 'baseline', 'ratio', 'goal'],
    ...results.map((r) => [
      r.name,
      r.error ? `failed: ${r.error}` : `${num(r.value)} ${r.unit}${r.spread ? ` (${num(r.spread[0])}–${num(r.spread[1])})` : ''}`,
      r.baseline ? `${num(r.baseline.value)} (${r.baseline.name})` : '',
      r.ratio !== undefined && !Number.isNaN(r.ratio) ? `${r.ratio.toFixed(2)}×` : '',
      r.goal ? `${r.goal.text} ${r.goal.met ? 'met' : 'NOT met'}` : '',
    ]),
  ];
  const w = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
}

/** The JSON file's shape: one object per scenario. */
export const toJson = (results: BenchResult[]): object[] =>
  results.map(({ chart: _c, ...r }) => ({ ...r, value: Number.isNaN(r.value) ? null : r.value }));
