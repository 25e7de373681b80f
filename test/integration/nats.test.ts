import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { runCli } from '../../src/cli/child.js';
import { isPipeError } from '../../src/errors.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import { parseNatsUrl as parseNatsUrlForTest } from '../../pipes/nats/nats-url.js';
import { NatsCluster, NatsServer, natsSkip } from '../helpers/nats-server.js';
import { judge } from '../chaos/judge.js';
import { flagsUpdate, Recorder } from '../helpers/recorder.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = natsSkip();
const pipes: UpdatePipe[] = [];
const open = async (url: string): Promise<UpdatePipe> => {
  const p = await openPipe(url);
  pipes.push(p);
  return p;
};
after(async () => {
  await Promise.all(pipes.map((p) => p.close().catch(() => {})));
});

/** Pushes 1..n in windows (like the CLI), so a failover sees many publishes in flight. */
async function pushMany(p: UpdatePipe, n: number, during?: { at: number; run: () => Promise<void> }): Promise<void> {
  const window: Promise<void>[] = [];
  for (let i = 1; i <= n; i++) {
    window.push(p.push(flagsUpdate(i)));
    if (window.length >= 500) await Promise.all(window.splice(0));
    if (during && i === during.at) await during.run();
  }
  await Promise.all(window);
}

describe('NATS JetStream on one node', { skip }, () => {
  let server: NatsServer;
  before(async () => {
    server = await NatsServer.start({ jetstream: true });
  });
  after(() => server?.stop());

  test('a listener stopped while 1,000 updates are pushed gets exactly those, once, in order, on restart', async () => {
    const url = `nats://${server.hostPort}/resume?mode=jetstream&durable=node-a`;
    const first = await open(url);
    const r1 = new Recorder();
    await first.listen(r1.handler);
    const pusher = await open(url.replace('node-a', 'pusher'));
    await pusher.push(flagsUpdate(9999));
    await waitFor(() => r1.updates.length === 1, 'first update');
    await first.close();
    await pushMany(pusher, 1000);
    const again = await open(url);
    const r2 = new Recorder();
    await again.listen(r2.handler);
    await waitFor(() => r2.updates.length >= 1000, '1000 updates after restart', 20_000);
    await sleep(300);
    assert.equal(r2.updates.length, 1000);
    assert.deepEqual(r2.updates.map((x) => (x.u as { uid: number }).uid), Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.equal(r2.resyncs.length, 0);
  });

  test('an update is acked once handled: a listener that stops mid-handler gets it again on restart', async () => {
    const url = `nats://${server.hostPort}/ackafter?mode=jetstream&durable=node-h`;
    const first = await open(url);
    let started = 0;
    // Stuck on the first update: it and the ones queued behind it are never handled.
    await first.listen(() => {
      started++;
      return new Promise<void>(() => {});
    });
    const pusher = await open(url.replace('node-h', 'pusher'));
    await pushMany(pusher, 10);
    await waitFor(() => started === 1, 'the handler started');
    await sleep(200);
    await first.close();
    const again = await open(url);
    const r = new Recorder();
    await again.listen(r.handler);
    // Unacked messages come back after the consumer's ack wait (10 s).
    await waitFor(() => r.updates.length >= 10, 'the unhandled updates redelivered', 25_000);
    await sleep(300);
    assert.deepEqual(r.updates.map((x) => (x.u as { uid: number }).uid), Array.from({ length: 10 }, (_, i) => i + 1));
  });

  test('close() right after listen() returns: the consumer starting meanwhile is closed too', { timeout: 20_000 }, async () => {
    const p = await open(`nats://${server.hostPort}/quick?mode=jetstream&durable=node-q`);
    await p.listen(() => {});
    await p.close();
  });

  test('an existing stream with incompatible settings is a clear configuration error', async () => {
    const nc = await connect({ servers: server.hostPort });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'FOREIGN', subjects: ['other.>'] });
    await nc.close();
    const p = await open(`nats://${server.hostPort}/mine?mode=jetstream&stream=FOREIGN`);
    await assert.rejects(p.initPush(), (e: unknown) => isPipeError(e, 'USAGE') && /FOREIGN exists with subjects/.test((e as Error).message));
  });

  test('a server without JetStream: clear error', async () => {
    const plain = await NatsServer.start();
    try {
      const p = await open(`nats://${plain.hostPort}/x?mode=jetstream&timeout=1`);
      await assert.rejects(p.initPush(), /JetStream/);
    } finally {
      await plain.stop();
    }
  });
});

describe('NATS core', { skip }, () => {
  test('a push on a connection nats.js has closed rejects; it neither throws nor kills the process (batch on and off)', async () => {
    const server = await NatsServer.start();
    try {
      for (const batch of ['on', 'off']) {
        const p = await open(`nats://${server.hostPort}/gone?mode=core&batch=${batch}`);
        await p.push(flagsUpdate(1));
        // nats.js closes a connection itself after repeated auth errors; this stands in for it.
        await (p as unknown as { nc: { close(): Promise<void> } }).nc.close();
        let pushed: Promise<void> | undefined;
        assert.doesNotThrow(() => (pushed = p.push(flagsUpdate(2))), `batch=${batch}`);
        await assert.rejects(pushed!, (e: unknown) => isPipeError(e), `batch=${batch}`);
        // A later tick, where a throw from the batch's publish would be uncaught.
        await sleep(50);
      }
    } finally {
      server.stop();
    }
  });

  test('a push made in the turn its connection fails is rejected or delivered, never accepted and lost (subscribe=interest)', async () => {
    const server = await NatsServer.start();
    try {
      // subscribe=interest checks no gaps, so only the push's own outcome can tell the
      // pusher that the update did not arrive.
      const url = `nats://${server.hostPort}/turn?mode=core&subscribe=interest`;
      const l = (await open(url)) as UpdatePipe & { watch(user: string, mailbox?: string): Promise<void> };
      const r = new Recorder();
      await l.listen(r.handler);
      await l.watch('alice', 'INBOX');
      const p = await open(url);
      await p.push(flagsUpdate(1));
      await waitFor(() => r.updates.length === 1, 'the first update');
      // nats.js redials at once only when the connection is older than its reconnect wait.
      await sleep(700);
      type Socket = { prependOnceListener(e: 'close', f: () => void): void; destroy(e: Error): void };
      const socket = (p as unknown as { nc: { protocol: { transport: { socket: Socket } } } }).nc.protocol.transport.socket;
      let pushed: Promise<void> | undefined;
      // Pushed in the phase where the socket's close is reported, just before nats.js hears
      // of it: nats.js drops the publish when it redials, and the turn's flush goes out on
      // the new connection.
      socket.prependOnceListener('close', () => void (pushed = p.push(flagsUpdate(2))));
      socket.destroy(new Error('reset by the test'));
      await waitFor(() => pushed !== undefined, 'the push from the error turn');
      const outcome = await pushed!.then(() => 'accepted', (e: unknown) => (isPipeError(e, 'UNREACHABLE') ? 'rejected' : String(e)));
      if (outcome === 'accepted') {
        await waitFor(() => r.updates.length === 2, 'an accepted push to arrive', 3_000);
      } else {
        assert.equal(outcome, 'rejected');
      }
      // The pipe works again after the reconnect.
      await p.push(flagsUpdate(3));
      await waitFor(() => r.updates.some((x) => (x.u as { uid: number }).uid === 3), 'the push after the reconnect');
    } finally {
      server.stop();
    }
  });

  test('kill and restart the server mid-stream: listeners get a resync and no duplicates', async () => {
    const server = await NatsServer.start();
    try {
      const url = `nats://${server.hostPort}/restart?mode=core`;
      const l = await open(url);
      const r = new Recorder();
      await l.listen(r.handler);
      const p = await open(url);
      // A steady stream (one push every 2 ms) that the restart lands in the middle of.
      const N = 1_500;
      const accepted = new Set<number>();
      const pushes: Promise<void>[] = [];
      for (let i = 1; i <= N; i++) {
        pushes.push(p.push(flagsUpdate(i)).then(() => void accepted.add(i), () => {}));
        if (i === 500) void server.restart();
        await sleep(2);
      }
      await Promise.all(pushes);
      await waitFor(() => r.updates.some((x) => (x.u as { uid: number }).uid === N), 'the last update', 20_000);
      await sleep(200);
      const seqs = r.updates.map((x) => x.meta.seq);
      assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
      assert.ok(r.resyncs.some((x) => x.meta.reason === 'reconnect'), 'a resync after the reconnect');
      const events = r.got.map((x) => (x.meta.reason === undefined ? (x.u as { uid: number }).uid : -1));
      const v = judge('l', accepted, events);
      assert.equal(v.unexplained, 0, `every accepted push arrived or a resync came after it: ${v.detail}`);
      assert.ok(accepted.has(N), 'pushes are accepted again after the restart');
    } finally {
      await server.stop();
    }
  });

  test('wrong credentials exit 5; unreachable servers exit 4 after a bounded wait', async () => {
    const server = await NatsServer.start({ user: 'svc', pass: 'right' });
    try {
      const bad = await runCli(['push', '--pipe', `nats://svc:wrong@${server.hostPort}/x?timeout=1`, '{"type":"resync","user":"a"}']);
      assert.equal(bad.code, 5, bad.stderr);
      assert.match(bad.stderr, /refused the credentials/);
      assert.doesNotMatch(bad.stderr, /wrong/, 'the password is not echoed');
      const good = await runCli(['push', '--pipe', `nats://svc:right@${server.hostPort}/x?timeout=1`, '{"type":"resync","user":"a"}']);
      assert.equal(good.code, 0, good.stderr);
    } finally {
      await server.stop();
    }
    const t = Date.now();
    const down = await runCli(['push', '--pipe', 'nats://127.0.0.1:1/x?timeout=1', '{"type":"resync","user":"a"}']);
    assert.equal(down.code, 4, down.stderr);
    assert.ok(Date.now() - t < 10_000, 'bounded');
  });
});

describe('NATS JetStream 3-node cluster', { skip }, () => {
  let cluster: NatsCluster;
  before(async () => {
    cluster = await NatsCluster.start(3);
    // Wait for the meta leader: stream creation succeeds only then.
    await cluster.createStream('UPDATEPIPE_CLUSTER', ['cluster.>']);
  });
  after(() => cluster?.stop());

  test('kill the node a listener is on while 10,000 updates stream through an R3 stream: nothing lost, nothing twice', async () => {
    const [n0, n1, n2] = cluster.nodes as [NatsServer, NatsServer, NatsServer];
    const base = (servers: string, durable: string): string => `nats://${servers}/cluster?mode=jetstream&replicas=3&durable=${durable}&timeout=10`;
    const onKilled = await open(base(n0.hostPort, 'l0')); // learns the other nodes from the cluster
    const elsewhere = await open(base(`${n1.hostPort},${n2.hostPort}`, 'l1'));
    const r0 = new Recorder();
    const r1 = new Recorder();
    await onKilled.listen(r0.handler);
    await elsewhere.listen(r1.handler);
    const pusher = await openPipe(base(`${n1.hostPort},${n2.hostPort}`, 'p'), { pushTimeoutMs: 30_000 });
    pipes.push(pusher);
    const N = 10_000;
    await pushMany(pusher, N, { at: 3000, run: () => n0.kill() });
    for (const [name, r] of [['listener on the killed node', r0], ['other listener', r1]] as const) {
      await waitFor(() => new Set(r.updates.map((x) => x.meta.seq)).size >= N, `${name}: ${N} updates`, 60_000);
      await sleep(500);
      const seqs = r.updates.map((x) => x.meta.seq);
      assert.equal(new Set(seqs).size, N, `${name}: exactly ${N} distinct`);
      assert.equal(seqs.length, N, `${name}: no duplicate reached the handler`);
    }
  });
});

describe('NATS core with subscribe=interest', { skip }, () => {
  test('a listener gets only the mailboxes it watches (and all-users resyncs), without false gap resyncs', async () => {
    const server = await NatsServer.start();
    try {
      const url = `nats://${server.hostPort}/interest?mode=core`;
      const l = await open(`${url}&subscribe=interest`);
      const r = new Recorder();
      await l.listen(r.handler);
      const w = l as unknown as { watch(u: string, m?: string): Promise<void>; unwatch(u: string, m?: string): Promise<void> };
      await w.watch('alice', 'INBOX');
      await w.watch('bob');
      const p = await open(url);
      const mk = (user: string, mailbox: string, uid: number) => ({ type: 'flags' as const, user, mailbox, uid, flags: [] });
      await p.push(mk('alice', 'INBOX', 1));
      await p.push(mk('alice', 'Archive', 2)); // not watched
      await p.push(mk('bob', 'Sent', 3)); // bob: whole account
      await p.push({ type: 'resync', user: 'alice' }); // user-wide
      await p.push({ type: 'resync', user: '*' }); // everyone
      await p.push(mk('carol', 'INBOX', 4)); // not watched
      // Unwatching drops what is still in flight for that mailbox: let it arrive first.
      await waitFor(() => r.updates.some((x) => x.u.type === 'resync' && x.u.user === '*'), 'the all-users resync');
      await w.unwatch('alice', 'INBOX');
      await p.push(mk('alice', 'INBOX', 5)); // no longer watched
      await p.push(mk('bob', 'INBOX', 6));
      await waitFor(() => r.updates.some((x) => (x.u as { uid?: number }).uid === 6), 'last watched update');
      await sleep(200);
      assert.deepEqual(
        r.updates.map((x) => (x.u.type === 'flags' ? x.u.uid : `${x.u.type}:${x.u.user}`)),
        [1, 3, 'resync:alice', 'resync:*', 6],
      );
      assert.equal(r.resyncs.length, 0, 'holes from unwatched mailboxes are not losses');
      assert.throws(() => parseNatsUrlForTest(`${url.replace('core', 'jetstream')}&subscribe=interest`), /interest is for mode=core/);
    } finally {
      await server.stop();
    }
  });
});

describe('NATS token auth and TLS with a private CA', { skip }, () => {
  test('token and TLS from the URL and the environment; a wrong token exits 5, an untrusted certificate fails clearly', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'up-nats-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const TOKEN = 'nats-token-0123456789';
    const server = await NatsServer.start({ config: `authorization { token: "${TOKEN}" }\ntls { cert_file: "${cert}", key_file: "${key}" }\n` });
    try {
      const base = `nats://${server.hostPort}/tls?mode=core&ca=${encodeURIComponent(cert)}&timeout=2`;
      const l = await open(`${base}&token=${TOKEN}`);
      const r = new Recorder();
      await l.listen(r.handler);
      // The CLI takes the token from the environment (kept out of `ps`), over TLS.
      const env = { ...process.env, UPDATEPIPE_NATS_TOKEN: TOKEN };
      const ok = await runCli(['push', '--pipe', base, JSON.stringify(flagsUpdate(42))], { env });
      assert.equal(ok.code, 0, ok.stderr);
      await waitFor(() => r.updates.some((x) => (x.u as { uid: number }).uid === 42), 'the update over TLS');
      const wrong = await runCli(['push', '--pipe', base, JSON.stringify(flagsUpdate(1))], { env: { ...process.env, UPDATEPIPE_NATS_TOKEN: 'not-the-token' } });
      assert.equal(wrong.code, 5, wrong.stderr);
      assert.doesNotMatch(wrong.stderr, /not-the-token/, 'the token is not printed');
      const untrusted = await runCli(['push', '--pipe', `nats://${server.hostPort}/tls?mode=core&tls=1&timeout=1`, JSON.stringify(flagsUpdate(1))], { env });
      assert.notEqual(untrusted.code, 0);
      assert.match(untrusted.stderr, /certificate|TLS|self.signed/i);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
