import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliProcess } from '../cli/child.js';
import { freePort, type Service } from './services.js';
import type { Transport, WorkerSpec } from './spec.js';
import { profileFlags, WorkerProcess } from './worker-process.js';

/** Where one run's processes meet: fresh per run so no state leaks between runs. */
export interface Stage {
  /** Target for listener k, or for the pusher (k = -1). */
  target(k: number): string;
  fanout?: string[];
  token?: string;
  /** The process that relays for everyone (ws hub), when it is not a listener. */
  hubPid?: number;
  cleanup(): Promise<void>;
}

export interface Backend {
  transport: Transport;
  label: string;
  stage(kind: WorkerSpec['kind'], listeners: number): Promise<Stage>;
}

const TOKEN = randomBytes(24).toString('hex');
let runs = 0;

export const unixBackend: Backend = {
  transport: 'unix',
  label: 'unix',
  async stage(kind, listeners) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bench-'));
    const raw = Array.from({ length: listeners }, (_, k) => path.join(dir, `raw${k}.sock`));
    return {
      target: (k) => (kind === 'pipe' ? `unix:${path.join(dir, 'pipe.sock')}` : raw[Math.max(0, k)]!),
      fanout: raw,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

export function natsBackend(nats: Service, transport: 'nats' | 'jetstream'): Backend {
  return {
    transport,
    label: transport === 'nats' ? 'nats core' : 'jetstream',
    async stage(kind) {
      const run = ++runs;
      const hp = `127.0.0.1:${nats.port}`;
      return {
        target: (k) =>
          kind !== 'pipe'
            ? `${hp}/RAW${run}`
            : transport === 'nats'
              ? `nats://${hp}/bench${run}?mode=core`
              : `nats://${hp}/benchjs${run}?mode=jetstream&durable=bench${run}n${k + 1}`,
        cleanup: async () => {},
      };
    },
  };
}

export const wsBackend: Backend = {
  transport: 'ws',
  label: 'ws',
  async stage(kind) {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/u`;
    if (kind === 'pipe') {
      const profiling = profileFlags('ws-hub');
      const hub = new CliProcess(['hub', '--listen', url], { ...process.env, UPDATEPIPE_TOKEN: TOKEN }, [], profiling);
      await hub.waitStderr('ready');
      // A profiled hub must exit on its own for node to write the profile.
      return { target: () => url, token: TOKEN, hubPid: hub.child.pid!, cleanup: () => hub.kill(profiling.length ? 'SIGTERM' : 'SIGKILL').then(() => {}) };
    }
    const relay = new WorkerProcess({ side: 'relay', kind, transport: 'ws', target: url, n: 0 });
    await relay.next();
    return { target: () => url, hubPid: relay.pid, cleanup: () => relay.stop() };
  },
};

export function redisBackend(redis: Service): Backend {
  return {
    transport: 'redis',
    label: 'redis',
    async stage() {
      return { target: () => String(redis.port), cleanup: async () => {} };
    },
  };
}
