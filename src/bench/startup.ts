import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI_PATH } from '../cli/child.js';
import { median } from './stats.js';

function timeCommand(args: string[], runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t = performance.now();
    spawnSync(process.execPath, args, { stdio: 'ignore' });
    if (i >= 2) samples.push(performance.now() - t); // two warm-up runs
  }
  return median(samples);
}

/** `updatepipe push` of one update to a live listener vs bare `node -e 0`, interleaved. */
export async function startup(runs: number): Promise<{ push: number; bare: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bench-'));
  const url = `unix:${path.join(dir, 's.sock')}`;
  const listener = spawn(process.execPath, [CLI_PATH, 'listen', '--pipe', url], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise<void>((r) => listener.stderr!.on('data', (d: Buffer) => d.toString().includes('ready') && r()));
    const push: number[] = [];
    const bare: number[] = [];
    // Alternate in small blocks so machine noise hits both sides alike.
    for (let i = 0; i < 3; i++) {
      push.push(timeCommand([CLI_PATH, 'push', '--pipe', url, '{"type":"resync","user":"bench"}'], runs));
      bare.push(timeCommand(['-e', '0'], runs));
    }
    return { push: median(push), bare: median(bare) };
  } finally {
    listener.kill();
    await rm(dir, { recursive: true, force: true });
  }
}
