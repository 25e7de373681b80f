import { openPipe } from '../../pipe/open-pipe.js';
import type { PipeStats } from '../../pipe/update-pipe.js';
import type { UpdateType } from '../../update/update.js';
import { onShutdown } from '../shutdown.js';

export interface StatsOptions {
  pipe: string;
  intervalMs: number;
  count: number;
  json: boolean;
}

const quantile = (xs: number[], q: number): number => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : 0);

/** Joins the pipe as a listener and prints what flows through it, once per interval. */
export async function statsCommand(o: StatsOptions): Promise<void> {
  const pipe = await openPipe(o.pipe);
  let byType: Partial<Record<UpdateType, number>> = {};
  let latencies: number[] = [];
  let printed = 0;
  let last: PipeStats = pipe.stats();
  await pipe.listen((u, meta) => {
    byType[u.type] = (byType[u.type] ?? 0) + 1;
    if (meta.reason === undefined) latencies.push(Math.max(0, Date.now() - meta.ts));
  });
  process.stderr.write('ready\n');
  const done = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = pipe.stats();
      const l = latencies.sort((a, b) => a - b);
      const row = {
        updates_per_s: Math.round(((now.delivered - last.delivered) * 1000) / o.intervalMs),
        by_type: byType,
        duplicates: now.duplicates - last.duplicates,
        gaps: now.gaps - last.gaps,
        resyncs: now.resyncs - last.resyncs,
        rejected: now.rejected - last.rejected,
        latency_ms_p50: quantile(l, 0.5),
        latency_ms_p99: quantile(l, 0.99),
      };
      last = now;
      byType = {};
      latencies = [];
      process.stdout.write(
        o.json
          ? JSON.stringify(row) + '\n'
          : `${new Date().toISOString()} ${row.updates_per_s}/s ${JSON.stringify(row.by_type)} dup ${row.duplicates} gaps ${row.gaps} resyncs ${row.resyncs} rejected ${row.rejected} latency p50 ${row.latency_ms_p50} ms p99 ${row.latency_ms_p99} ms\n`,
      );
      if (o.count > 0 && ++printed >= o.count) {
        clearInterval(timer);
        resolve();
      }
    }, o.intervalMs);
  });
  await Promise.race([done, onShutdown(async () => {})]);
  await pipe.close();
}
