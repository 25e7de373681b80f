import { formatTable, machine, runBench } from '../../bench/run.js';

export async function benchCommand(o: { json?: string; quick: boolean; smoke: boolean }): Promise<void> {
  const size = o.smoke ? 'smoke' : o.quick ? 'quick' : 'full';
  // Exit through process.exit so the 'exit' hooks stop our nats-server and redis-server.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const t0 = performance.now();
  const results = await runBench({ size, ...(o.json ? { json: o.json } : {}), progress: (l) => void process.stderr.write(`bench: ${l}\n`) });
  process.stdout.write(formatTable(results) + '\n');
  process.stdout.write(`(${machine()}; ${size} run in ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}
