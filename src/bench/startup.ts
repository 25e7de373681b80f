import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI_PATH } from '../cli/child.js';
import { median } from './stats.js';

function timeOnce(args: string[]): number {
  const t = performance.now();
  spawnSync(process.execPath, args, { stdio: 'ignore' });
  return performance.now() - t;
}

/** `updatepipe push` of one update to a live listener vs bare `node -e 0`, interleaved. */
export async function startup(runs: number): Promise<{ push: number; bare: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bench-'));
  const url = `unix:${path.join(dir, 's.sock')}`;
  const listener = spawn(process.execPath, [CLI_PATH, 'listen', '--pipe', url], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise<void>((r) => listener.stderr!.on('data', (d: Buffer) => d.toString().includes('ready') && r()));
    const pushArgs = [CLI_PATH, 'push', '--pipe', url, '{"type":"resync","user":"bench"}'];
    const push: number[] = [];
    const bare: number[] = [];
    // Run by run, side by side: this machine's speed drifts within seconds, and a block of
    // runs of one command would catch a different speed than the block of the other.
    for (let i = 0; i < runs + 2; i++) {
      const p = timeOnce(pushArgs);
      const b = timeOnce(['-e', '0']);
      if (i < 2) continue; // warm-up (page cache)
      push.push(p);
      bare.push(b);
    }
    return { push: median(push), bare: median(bare) };
  } finally {
    listener.kill();
    await rm(dir, { recursive: true, force: true });
  }
}
