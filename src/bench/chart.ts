/** One measured point for the chart. */
export interface ChartPoint {
  /** Transport under test, e.g. 'unix', 'nats core', 'jetstream', 'ws', 'redis'. */
  backend: string;
  /** What was measured: e.g. 'pipe', 'raw, one write per update', 'raw, hand-batched', 'redis+JSON'. */
  series: string;
  value: number;
}
export interface ChartInput {
  /** Updates/s, 1 pusher → 1 listener. */
  throughput: ChartPoint[];
  /** Latency in ms; series are like 'p50 at 1k/s', 'p99 at 1k/s', 'p99 at 10k/s'. */
  latency: ChartPoint[];
  /** A caption line such as 'node v20.19.0, linux, 2 cores, 2026-11-22'. */
  caption: string;
}

interface Scale {
  /** Position of a value along the axis, 0..1. */
  pos(v: number): number;
  ticks: { v: number; label: string }[];
}

const W = 900;
const BAR = 16;
const GROUP_GAP = 12;
const RIGHT = 70; // room for the value label of a full-length bar
// Okabe–Ito, reordered so the low-contrast yellow is used last.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
const r1 = (x: number): number => Math.round(x * 10) / 10;
const text = (x: number, y: number, s: string, attrs = ''): string =>
  `<text x="${r1(x)}" y="${r1(y)}"${attrs ? ' ' + attrs : ''}>${esc(s)}</text>`;

/** Non-finite values would poison the scale maths; treat them as zero. */
const clean = (v: number): number => (Number.isFinite(v) ? v : 0);

function formatCount(v: number): string {
  // Round first so 999_950 becomes "1M" rather than "1000k".
  const r = Number(clean(v).toPrecision(3));
  const a = Math.abs(r);
  if (a >= 1e9) return `${Number((r / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${Number((r / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((r / 1e3).toPrecision(3))}k`;
  return String(r);
}

const formatMs = (v: number): string => String(Number(clean(v).toPrecision(3)));

function linearScale(values: number[]): Scale {
  const max = Math.max(0, ...values.map(clean)) || 1;
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let i = 0; i * step <= top * (1 + 1e-9); i++) ticks.push({ v: i * step, label: formatCount(i * step) });
  return { pos: (v) => Math.min(1, Math.max(0, clean(v) / top)), ticks };
}

function logScale(values: number[]): Scale {
  const pos = values.filter((v) => Number.isFinite(v) && v > 0);
  // Start a decade below the smallest value so that it still gets a visible bar.
  const lo = pos.length ? Math.ceil(Math.log10(Math.min(...pos))) - 1 : -2;
  const hi = pos.length ? Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...pos)))) : 2;
  const ticks = [];
  for (let k = lo; k <= hi; k++) ticks.push({ v: 10 ** k, label: formatMs(10 ** k) });
  return {
    pos: (v) => (Number.isFinite(v) && v > 0 ? Math.min(1, Math.max(0, (Math.log10(v) - lo) / (hi - lo))) : 0),
    ticks,
  };
}

const firstSeen = (xs: string[]): string[] => [...new Set(xs)];

/** Renders one panel starting at y0; returns its markup and height. */
function panel(title: string, points: ChartPoint[], makeScale: (v: number[]) => Scale, fmt: (v: number) => string, y0: number): { svg: string[]; height: number } {
  const out = [text(12, y0 + 18, title, 'font-size="15" font-weight="bold"')];
  if (points.length === 0) {
    out.push(text(W / 2, y0 + 50, 'no data', 'font-size="13" fill="#666" text-anchor="middle"'));
    return { svg: out, height: 72 };
  }
  const backends = firstSeen(points.map((p) => p.backend));
  const series = firstSeen(points.map((p) => p.series));
  // Size the left margin to the longest backend name so labels are never clipped.
  const left = Math.min(260, Math.max(90, 20 + 7 * Math.max(...backends.map((b) => b.length))));
  const plotW = W - left - RIGHT;

  // Legend: wrap onto further rows rather than run off the right edge.
  let lx = left;
  let ly = y0 + 34;
  series.forEach((s, i) => {
    const w = 17 + 6.8 * s.length + 14;
    if (lx + w > W - 12 && lx > left) { lx = left; ly += 18; }
    out.push(`<rect class="swatch" x="${lx}" y="${ly}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(text(lx + 17, ly + 10.5, s, 'font-size="12"'));
    lx += w;
  });

  // Each backend gets rows only for the series it has, so sparse data stays compact;
  // colour, not position, ties a bar to its series.
  const top = ly + 26;
  const rows = backends.map((b) => points.filter((p) => p.backend === b).sort((x, y) => series.indexOf(x.series) - series.indexOf(y.series)));
  const bottom = top + rows.reduce((h, r) => h + r.length * BAR + GROUP_GAP, 0) - GROUP_GAP + 4;
  const scale = makeScale(points.map((p) => p.value));
  for (const t of scale.ticks) {
    const x = r1(left + scale.pos(t.v) * plotW);
    out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="#ddd"/>`);
    out.push(text(x, bottom + 15, t.label, 'font-size="11" fill="#444" text-anchor="middle"'));
  }
  out.push(`<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${bottom}" stroke="#333"/>`);
  let y = top;
  rows.forEach((row, gi) => {
    out.push(text(left - 8, y + (row.length * BAR) / 2 + 4, backends[gi]!, 'font-size="12" text-anchor="end"'));
    for (const p of row) {
      const colour = PALETTE[series.indexOf(p.series) % PALETTE.length];
      const w = r1(scale.pos(p.value) * plotW);
      const label = fmt(p.value);
      out.push(`<rect class="bar" x="${left}" y="${y + 1}" width="${w}" height="${BAR - 2}" fill="${colour}"><title>${esc(`${p.backend} · ${p.series}: ${label}`)}</title></rect>`);
      out.push(text(left + w + 4, y + BAR / 2 + 4, label, 'font-size="11" fill="#222"'));
      y += BAR;
    }
    y += GROUP_GAP;
  });
  return { svg: out, height: bottom + 30 - y0 };
}

/** Renders throughput and latency as one standalone SVG document, with no external resources. */
export function renderChart(input: ChartInput): string {
  const a = panel('Throughput (updates/s, higher is better)', input.throughput, linearScale, formatCount, 8);
  const b = panel('Latency push→handler (ms, lower is better)', input.latency, logScale, formatMs, 8 + a.height + 12);
  const h = 8 + a.height + 12 + b.height + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif">`,
    `<rect class="bg" width="${W}" height="${h}" fill="#fff"/>`,
    ...a.svg,
    ...b.svg,
    text(12, h - 10, input.caption, 'font-size="11" fill="#555"'),
    '</svg>',
    '',
  ].join('\n');
}
