import { formatTable, machine, runBench } from '../../bench/run.js';

export async function benchCommand(o: { json?: string; quick: boolean; smoke: boolean; only?: string[]; profile?: string }): Promise<void> {
  const size = o.smoke ? 'smoke' : o.quick ? 'quick' : 'full';
  // Exit through process.exit so the 'exit' hooks stop our nats-server and redis-server.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const t0 = performance.now();
  const results = await runBench({ size, ...(o.json ? { json: o.json } : {}), ...(o.only ? { only: o.only } : {}), ...(o.profile ? { profile: o.profile } : {}), progress: (l) => void process.stderr.write(`bench: ${l}\n`) });
  process.stdout.write(formatTable(results) + '\n');
  if (o.profile) process.stderr.write(`bench: CPU profiles of every bench process are in ${o.profile} (open them in Chrome DevTools or speedscope)\n`);
  process.stdout.write(`(${machine()}; ${size} run in ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}
