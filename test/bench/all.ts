/**
 * `npm run bench`: `updatepipe bench` (the Unix pipe against raw baselines, in separate
 * processes), then the scripts of test/bench that need test fixtures (NATS, WebSocket,
 * edit → IDLE, cross-node). Usage: node dist/test/bench/all.js [--quick] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const quick = process.argv.includes('--quick');
const jsonAt = process.argv.indexOf('--json');
const json = jsonAt >= 0 ? process.argv[jsonAt + 1] : undefined;
const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
// The Unix pipe against its raw baselines, in separate processes.
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
process.stderr.write('bench: updatepipe bench…\n');
const core = spawnSync(process.execPath, [cli, 'bench', ...(quick ? ['--quick'] : []), ...(json ? ['--json', json] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
const runs: [string, string[]][] = [
  ['edit-to-idle.js', [quick ? '5' : '20']],
  ['cross-node.js', [quick ? '5' : '20', 'jetstream']],
  ['nats-throughput.js', [quick ? '20000' : '100000']],
  ['ws-throughput.js', [quick ? '20000' : '100000']],
];
let failed = core.status === 0 ? 0 : 1;
for (const [script, args] of runs) {
  process.stderr.write(`bench: ${script} ${args.join(' ')}…\n`);
  const r = spawnSync(process.execPath, [here(`./${script}`), ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
