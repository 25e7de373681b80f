import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import { Kind } from '../../src/hub/hub-protocol.js';
import { RawUnixClient, unixBadInputs } from '../helpers/unix-raw.js';
import { waitFor } from '../helpers/wait.js';
import { conformance } from './suite.js';

let dir = '';
const file = (): string => path.join(dir, 'pipe.sock');

conformance({
  name: 'unix',
  async setup() {
    dir = await mkdtemp(path.join(os.tmpdir(), 'up-conf-'));
  },
  async teardown() {
    await rm(dir, { recursive: true, force: true });
  },
  open: (o) => openPipe(`unix:${file()}`, o),
  async rawSend(envs) {
    const c = await RawUnixClient.connect(file());
    c.hello({ origin: 'raw-sender' });
    c.sendEnvelopes(envs);
    await waitFor(() => c.frames.some((f) => f.kind === Kind.Ack && f.body.readDoubleBE(0) === envs.length), 'owner ACK');
    await c.end();
  },
  async rawBytes(bytes) {
    const c = await RawUnixClient.connect(file());
    c.write(bytes);
    // The owner drops a bad peer; a truncated frame is only bad once the stream ends.
    await Promise.race([waitFor(() => c.closed, 'owner to drop the peer', 2_000).catch(() => {}), new Promise((r) => setTimeout(r, 300))]);
    await c.end();
  },
  badInputs: unixBadInputs,
  rejected: (pipes: UpdatePipe[]) => pipes.reduce((n, p) => n + p.stats().rejected, 0),
});
