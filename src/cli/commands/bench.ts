import { formatTable, runBench } from '../../bench/run.js';

export async function benchCommand(o: { json?: string; quick: boolean }): Promise<void> {
  const results = await runBench({ quick: o.quick, ...(o.json ? { json: o.json } : {}), progress: (l) => void process.stderr.write(`bench: ${l}…\n`) });
  process.stdout.write(formatTable(results) + '\n');
  process.stdout.write(`(node ${process.version}, ${process.platform}, ${(await import('node:os')).cpus().length} cores; NATS, ws, Redis and edit→IDLE: npm run bench)\n`);
}
