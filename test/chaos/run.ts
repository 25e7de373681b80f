/**
 * `npm run chaos [-- --short] [--only BACKEND]`: pushes a known stream of updates through every backend
 * and the relay while injecting faults, then checks every surviving listener: nothing
 * twice, and every update either received or covered by a later `resync` (C3/C4). Last,
 * the Maildir watcher (test/chaos/maildir.ts), judged per IMAP session as well.
 * Loopback only; private servers on free ports. Prints a table; exits 1 on any duplicate
 * or unexplained loss.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliProcess } from '../../src/cli/child.js';
import { WorkerProcess } from '../../src/bench/worker-process.js';
import { freePort, NatsCluster, NatsServer, natsServerBinary } from '../helpers/nats-server.js';
import { judge, type Verdict } from './judge.js';
import { maildirScenario } from './maildir.js';

const short = process.argv.includes('--short');
const N = short ? 1500 : 5000;
const RATE = 1000;
const STREAM_MS = (N / RATE) * 1000;
const TOKEN = 'chaos-token-0123456789abcdef';
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Participant {
  proc: WorkerProcess;
  name: string;
}

function participant(name: string, spec: { role: 'listen' | 'push'; url: string; n?: number; rate?: number; token?: string; skewMs?: number }): Participant {
  return { proc: new WorkerProcess(spec, `chaos ${name}`, WORKER), name };
}

async function listener(name: string, url: string, token?: string): Promise<Participant> {
  const p = participant(name, { role: 'listen', url, ...(token ? { token } : {}) });
  await p.proc.next(30_000);
  return p;
}

/** One fault script against one backend: what to start, what to break, when. */
interface Scenario {
  backend: string;
  faults: string;
  needsNats?: boolean;
  /** Sets up servers and listeners; returns the push URL, the listeners to judge, the fault schedule and the cleanup. */
  run(): Promise<{ pushUrl: string; token?: string; skewMs?: number; judged: Participant[]; extra: Participant[]; faults: [number, () => Promise<void>][]; settleMs: number; cleanup: () => Promise<void> }>;
}

const at = (fraction: number): number => Math.round(STREAM_MS * fraction);

/** A JetStream server whose stream for `prefix` holds at most 300 messages; `url(durable)` reaches it. */
async function cappedStream(prefix: string, discard: 'old' | 'new'): Promise<{ server: NatsServer; url: (durable: string) => string }> {
  const server = await NatsServer.start({ jetstream: true });
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager, DiscardPolicy } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: server.hostPort });
  const jsm = await jetstreamManager(nc);
  const policy = discard === 'old' ? DiscardPolicy.Old : DiscardPolicy.New;
  await jsm.streams.add({ name: `UPDATEPIPE_${prefix.toUpperCase()}`, subjects: [`${prefix}.>`], max_msgs: 300, discard: policy, duplicate_window: 120e9 });
  await nc.close();
  return { server, url: (durable) => `nats://${server.hostPort}/${prefix}?mode=jetstream&durable=${durable}` };
}

const SCENARIOS: Scenario[] = [
  {
    backend: 'unix',
    faults: 'socket owner SIGKILLed; a listener frozen 2 s',
    async run() {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'up-chaos-'));
      const url = `unix:${path.join(dir, 'p.sock')}`;
      const owner = await listener('owner', url);
      const a = await listener('a', url);
      const b = await listener('b', url);
      return {
        pushUrl: url,
        judged: [a, b],
        extra: [owner],
        faults: [
          [at(0.3), async () => owner.proc.signal('SIGKILL')],
          [at(0.5), async () => b.proc.signal('SIGSTOP')],
          [at(0.5) + 2000, async () => b.proc.signal('SIGCONT')],
        ],
        settleMs: 3000,
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    backend: 'unix',
    faults: 'pusher clock 1 h ahead; owner SIGKILLed',
    async run() {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'up-chaos-'));
      const url = `unix:${path.join(dir, 'p.sock')}`;
      const owner = await listener('owner', url);
      const a = await listener('a', url);
      return {
        pushUrl: url,
        skewMs: 3_600_000,
        judged: [a],
        extra: [owner],
        faults: [[at(0.5), async () => owner.proc.signal('SIGKILL')]],
        settleMs: 3000,
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    backend: 'ws hub',
    faults: 'hub SIGKILLed and restarted; a listener frozen 2 s',
    async run() {
      const port = await freePort();
      const url = `ws://127.0.0.1:${port}/u`;
      const env = { ...process.env, UPDATEPIPE_TOKEN: TOKEN };
      let hub = new CliProcess(['hub', '--listen', url], env);
      await hub.waitStderr('ready');
      const a = await listener('a', url, TOKEN);
      const b = await listener('b', url, TOKEN);
      return {
        pushUrl: url,
        token: TOKEN,
        judged: [a, b],
        extra: [],
        faults: [
          [at(0.3), async () => {
            await hub.kill('SIGKILL');
            hub = new CliProcess(['hub', '--listen', url], env);
            await hub.waitStderr('ready');
          }],
          [at(0.6), async () => b.proc.signal('SIGSTOP')],
          [at(0.6) + 2000, async () => b.proc.signal('SIGCONT')],
        ],
        settleMs: 4000,
        cleanup: async () => void (await hub.kill('SIGKILL')),
      };
    },
  },
  {
    backend: 'nats core',
    faults: 'nats-server SIGKILLed and restarted',
    needsNats: true,
    async run() {
      const server = await NatsServer.start();
      const url = `nats://${server.hostPort}/chaos?mode=core`;
      const a = await listener('a', url);
      const b = await listener('b', url);
      return {
        pushUrl: url,
        judged: [a, b],
        extra: [],
        faults: [[at(0.4), () => server.restart()]],
        settleMs: 4000,
        cleanup: () => server.stop(),
      };
    },
  },
  {
    backend: 'jetstream R3',
    faults: 'a cluster node SIGKILLed, restarted later',
    needsNats: true,
    async run() {
      const cluster = await NatsCluster.start(3);
      await cluster.createStream('UPDATEPIPE_CHAOS', ['chaos.>']);
      const url = (durable: string): string => `nats://${cluster.servers}/chaos?mode=jetstream&replicas=3&durable=${durable}`;
      const a = await listener('a', url('chaos-a'));
      const b = await listener('b', url('chaos-b'));
      return {
        pushUrl: url('chaos-pusher'),
        judged: [a, b],
        extra: [],
        faults: [
          [at(0.3), () => cluster.nodes[0]!.kill()],
          [at(0.8), () => cluster.nodes[0]!.restart()],
        ],
        // A redelivery can take the consumer's ack wait (10 s); a hole becomes a resync after 15 s.
        settleMs: Number(process.env['CHAOS_JS_SETTLE_MS'] ?? 20_000),
        cleanup: () => cluster.stop(),
      };
    },
  },
  {
    backend: 'jetstream (store full)',
    faults: 'stream capped at 300 messages (old ones discarded) while a listener is frozen',
    needsNats: true,
    async run() {
      const { server, url } = await cappedStream('chaosfull', 'old');
      const a = await listener('a', url('full-a'));
      const b = await listener('b', url('full-b'));
      return {
        pushUrl: url('full-pusher'),
        judged: [a, b],
        extra: [],
        faults: [
          [at(0.1), async () => b.proc.signal('SIGSTOP')],
          [at(0.9), async () => b.proc.signal('SIGCONT')],
        ],
        settleMs: 20_000,
        cleanup: () => server.stop(),
      };
    },
  },
  {
    backend: 'jetstream (store full, new refused)',
    faults: 'stream capped at 300 messages, discard=new: later pushes refused',
    needsNats: true,
    async run() {
      const { server, url } = await cappedStream('chaosnew', 'new');
      const a = await listener('a', url('new-a'));
      return {
        pushUrl: url('new-pusher'),
        judged: [a],
        extra: [],
        faults: [],
        settleMs: 3_000,
        cleanup: () => server.stop(),
      };
    },
  },
  {
    backend: 'nats core (skewed)',
    faults: 'pusher clock 1 h behind; nats-server SIGKILLed and restarted',
    needsNats: true,
    async run() {
      const server = await NatsServer.start();
      const url = `nats://${server.hostPort}/chaos?mode=core`;
      const a = await listener('a', url);
      return {
        pushUrl: url,
        skewMs: -3_600_000,
        judged: [a],
        extra: [],
        faults: [[at(0.5), () => server.restart()]],
        settleMs: 4000,
        cleanup: () => server.stop(),
      };
    },
  },
  {
    backend: 'relay unix→nats→unix',
    faults: 'the sending relay SIGKILLed and restarted',
    needsNats: true,
    async run() {
      const server = await NatsServer.start();
      const dir = await mkdtemp(path.join(os.tmpdir(), 'up-chaos-'));
      const unixA = `unix:${path.join(dir, 'a.sock')}`;
      const unixB = `unix:${path.join(dir, 'b.sock')}`;
      const nats = `nats://${server.hostPort}/chaosrelay?mode=core`;
      const ownerA = await listener('owner-a', unixA); // keeps node A's socket up
      const b1 = await listener('b1', unixB);
      const b2 = await listener('b2', unixB);
      const relayB = new CliProcess(['relay', '--from', nats, '--to', unixB, '--one-way']);
      await relayB.waitStderr('ready');
      let relayA = new CliProcess(['relay', '--from', unixA, '--to', nats, '--one-way']);
      await relayA.waitStderr('ready');
      await sleep(500);
      return {
        pushUrl: unixA,
        judged: [b1, b2],
        extra: [ownerA],
        faults: [
          [at(0.4), async () => {
            await relayA.kill('SIGKILL');
            relayA = new CliProcess(['relay', '--from', unixA, '--to', nats, '--one-way']);
            await relayA.waitStderr('ready');
          }],
        ],
        settleMs: 4000,
        cleanup: async () => {
          await relayA.kill('SIGKILL');
          await relayB.kill('SIGKILL');
          await server.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

interface Row {
  backend: string;
  faults: string;
  pushed: number;
  verdicts: Verdict[];
}

async function runScenario(s: Scenario): Promise<Row> {
  const setup = await s.run();
  const pusher = participant('pusher', { role: 'push', url: setup.pushUrl, n: N, rate: RATE, ...(setup.token ? { token: setup.token } : {}), ...(setup.skewMs ? { skewMs: setup.skewMs } : {}) });
  try {
    await pusher.proc.next(30_000);
    const started = Date.now();
    const faults = setup.faults.map(async ([ms, f]) => {
      await sleep(ms - (Date.now() - started));
      await f();
    });
    const done = (await pusher.proc.next(120_000)) as { accepted: number[]; rejected: number };
    await Promise.all(faults);
    await sleep(setup.settleMs);
    const verdicts: Verdict[] = [];
    for (const l of setup.judged) {
      l.proc.tell('report');
      const { events } = (await l.proc.next(30_000)) as { events: number[] };
      verdicts.push(judge(l.name, new Set(done.accepted), events));
    }
    return { backend: s.backend, faults: s.faults, pushed: done.accepted.length, verdicts };
  } finally {
    await Promise.all([pusher, ...setup.judged, ...setup.extra].map((p) => p.proc.stop()));
    await setup.cleanup();
  }
}

const rows: Row[] = [];
const haveNats = natsServerBinary() !== null;
if (!haveNats) {
  const msg = 'nats-server is not installed: NATS and relay chaos scenarios cannot run';
  if (process.env['CI']) throw new Error(msg);
  process.stderr.write(`\n!!! ${msg}; SKIPPING them\n\n`);
}
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
for (const s of SCENARIOS) {
  if (s.needsNats && !haveNats) continue;
  if (only && !s.backend.includes(only)) continue;
  process.stderr.write(`chaos: ${s.backend}: ${s.faults}…\n`);
  rows.push(await runScenario(s));
}
if (!only || 'maildir watcher'.includes(only)) {
  process.stderr.write('chaos: maildir watcher: MDA delivering while the announcing watcher is SIGKILLed…\n');
  rows.push(await maildirScenario(short));
}

const table = [['backend', 'faults', 'updates', 'listeners', 'delivered (min)', 'duplicates', 'unexplained losses', 'resyncs']];
for (const r of rows) {
  table.push([
    r.backend,
    r.faults,
    String(r.pushed),
    String(r.verdicts.length),
    String(Math.min(...r.verdicts.map((v) => v.delivered))),
    String(r.verdicts.reduce((a, v) => a + v.duplicates, 0)),
    String(r.verdicts.reduce((a, v) => a + v.unexplained, 0)),
    String(r.verdicts.reduce((a, v) => a + v.resyncs, 0)),
  ]);
}
const w = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
for (const row of table) console.log(row.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
const bad = rows.flatMap((r) => r.verdicts.filter((v) => v.duplicates > 0 || v.unexplained > 0).map((v) => `${r.backend} / ${v.listener}: ${v.detail}`));
for (const b of bad) console.log(`FAIL ${b}`);
process.exit(bad.length ? 1 : 0);
