import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart, type ChartInput } from '../../src/bench/chart.js';

export const sample: ChartInput = {
  throughput: [
    { backend: 'unix', series: 'pipe', value: 105_000 },
    { backend: 'unix', series: 'raw, one write per update', value: 240_000 },
    { backend: 'unix', series: 'raw, hand-batched', value: 1_234_567 },
    { backend: 'nats core', series: 'pipe', value: 61_000 },
    { backend: 'nats core', series: 'raw, one write per update', value: 98_500 },
    { backend: 'jetstream', series: 'pipe', value: 8_200 },
    { backend: 'ws', series: 'pipe', value: 52_000 },
    { backend: 'redis', series: 'redis+JSON', value: 44_000 },
  ],
  latency: [
    { backend: 'unix', series: 'p50 at 1k/s', value: 0.1 },
    { backend: 'unix', series: 'p99 at 1k/s', value: 1 },
    { backend: 'unix', series: 'p99 at 10k/s', value: 10 },
    { backend: 'nats core', series: 'p50 at 1k/s', value: 0.21 },
    { backend: 'nats core', series: 'p99 at 1k/s', value: 0.87 },
    { backend: 'jetstream', series: 'p50 at 1k/s', value: 1.9 },
    { backend: 'jetstream', series: 'p99 at 10k/s', value: 47.3 },
    { backend: 'redis', series: 'p99 at 1k/s', value: 0 },
  ],
  caption: 'node v20.19.0, linux, 2 cores, 2026-11-22',
};

/** Every element is closed in order, so a stray '<' from unescaped text shows up here. */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)([^<>]*?)(\/?)>/g)) {
    const [, close, name, , selfClose] = m;
    if (selfClose) continue;
    if (close) assert.equal(stack.pop(), name, `unbalanced </${name}>`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, []);
  // Anything left over after removing tags and entities must not contain markup characters.
  const rest = svg.replace(/<[^<>]*>/g, '').replace(/&(amp|lt|gt|quot|apos);/g, '');
  assert.doesNotMatch(rest, /[<>&]/);
}

/** Bar widths keyed by "backend · series" from each bar's <title>. */
function bars(svg: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of svg.matchAll(/<rect class="bar"[^>]*width="([\d.]+)"[^>]*><title>(.*?): [^<]*<\/title><\/rect>/g)) {
    out.set(m[2]!, Number(m[1]));
  }
  return out;
}

test('renders a well-formed standalone SVG naming every backend and series', () => {
  const svg = renderChart(sample);
  assert.ok(svg.startsWith('<svg'));
  assert.equal(svg.match(/<svg\b/g)?.length, 1);
  assert.equal(svg.match(/<\/svg>/g)?.length, 1);
  assert.equal(svg.match(/<text\b/g)?.length, svg.match(/<\/text>/g)?.length);
  assertBalanced(svg);
  assert.doesNotMatch(svg, /<script|href=|url\(/);
  for (const p of [...sample.throughput, ...sample.latency]) {
    assert.ok(svg.includes(`>${p.backend}</text>`), p.backend);
    assert.ok(svg.includes(`>${p.series}</text>`), p.series);
  }
  assert.ok(svg.includes('>node v20.19.0, linux, 2 cores, 2026-11-22</text>'));
  assert.ok(svg.includes('>105k</text>'));
  assert.ok(svg.includes('>1.23M</text>'));
  assert.ok(svg.includes('>47.3</text>'));
});

test('one bar per data point', () => {
  const svg = renderChart(sample);
  assert.equal(svg.match(/<rect class="bar"/g)?.length, sample.throughput.length + sample.latency.length);
  assert.equal(bars(svg).size, sample.throughput.length + sample.latency.length);
});

test('throughput bars are proportional to the value', () => {
  const b = bars(renderChart(sample));
  const big = b.get('unix · raw, hand-batched')!;
  const small = b.get('unix · pipe')!;
  assert.ok(big > small, `${big} > ${small}`);
  assert.ok(Math.abs(b.get('unix · raw, one write per update')! / small - 240 / 105) < 0.05);
});

test('latency bars are on a log scale', () => {
  const b = bars(renderChart(sample));
  const [tenth, one, ten] = ['p50 at 1k/s', 'p99 at 1k/s', 'p99 at 10k/s'].map((s) => b.get(`unix · ${s}`)!);
  assert.ok(tenth! > 0 && one! > tenth! && ten! > one!);
  // Each decade adds the same length, so 10 ms is nowhere near 10x the 1 ms bar.
  assert.ok(Math.abs(ten! - one! - (one! - tenth!)) <= 0.2, `${tenth} ${one} ${ten}`);
  assert.ok(ten! / one! < 2, `10ms/1ms ratio ${ten! / one!}`);
  // Length ratios cannot be equal when every bar starts at the axis minimum; equal
  // increments per decade (checked above) are what a log axis guarantees.
  assert.ok(ten! / one! <= one! / tenth!);
  // A zero latency is clamped to the axis minimum rather than producing NaN or a negative width.
  assert.equal(b.get('redis · p99 at 1k/s'), 0);
});

test('escapes hostile names', () => {
  const svg = renderChart({
    throughput: [{ backend: 'a<b&"c"', series: "it's <s>", value: 5 }],
    latency: [{ backend: 'a<b&"c"', series: 'p&q', value: 0.5 }],
    caption: '<script>alert(1)</script>',
  });
  assert.ok(svg.includes('a&lt;b&amp;&quot;c&quot;'));
  assert.ok(svg.includes('it&apos;s &lt;s&gt;'));
  assert.ok(svg.includes('p&amp;q'));
  assert.ok(!svg.includes('a<b') && !svg.includes('<script') && !svg.includes('<s>'));
  assertBalanced(svg);
});

test('empty input still yields a valid SVG saying "no data"', () => {
  const svg = renderChart({ throughput: [], latency: [], caption: '' });
  assert.ok(svg.startsWith('<svg'));
  assertBalanced(svg);
  assert.equal(svg.match(/no data/g)?.length, 2);
  assert.doesNotMatch(svg, /class="bar"|NaN|Infinity/);
});

test('non-finite and all-zero values do not leak NaN into the markup', () => {
  const svg = renderChart({
    throughput: [{ backend: 'x', series: 's', value: 0 }, { backend: 'y', series: 's', value: Number.NaN }],
    latency: [{ backend: 'x', series: 's', value: -1 }, { backend: 'y', series: 's', value: Infinity }],
    caption: 'c',
  });
  assertBalanced(svg);
  assert.doesNotMatch(svg, /NaN|Infinity/);
});
