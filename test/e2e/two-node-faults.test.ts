import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CliProcess } from '../../src/cli/child.js';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import { ImapFixture, message, type Client } from '../helpers/imap-fixture.js';
import { NatsCluster, natsSkip } from '../helpers/nats-server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const SYSTEM = ['\\Seen', '\\Flagged', '\\Answered', '\\Draft'];
/** A non-empty flag set that differs from the one before it for the same message. */
const flagsFor = (round: number): string[] => SYSTEM.filter((_, bit) => ((round % 15) + 1) & (1 << bit));

/**
 * Two nodes over one Maildir, each with its Unix pipe and a relay into a 3-node JetStream
 * cluster, plus a redundant second relay on node A. During 5,000 offline edits on node A,
 * one NATS node is killed, node A's relay is killed and restarted (its spare carries on),
 * and node B's only relay is killed and restarted (B is cut off for a while). Clients on
 * both nodes must end with exactly what storage says, and never see the same change twice.
 */
describe('two nodes under faults: NATS node and relay killed mid-stream', { skip: natsSkip() }, () => {
  const fx = new ImapFixture();
  let cluster: NatsCluster;
  let bus = '';
  let pipeA = '';
  let pipeB = '';
  let portA = 0;
  let portB = 0;
  let onA: Client;
  let onB: Client;
  let relayA: CliProcess;
  let relayB: CliProcess;
  let pusher: UpdatePipe;
  const MESSAGES = 50;
  const EDITS = 5_000;

  before(async () => {
    await fx.setup();
    cluster = await NatsCluster.start(3);
    await cluster.createStream('UPDATEPIPE_MAIL', ['mail.>']);
    bus = `nats://${cluster.servers}/mail?mode=jetstream&replicas=3&timeout=10`;
    pipeA = `unix:${path.join(fx.dir, 'a.sock')}`;
    pipeB = `unix:${path.join(fx.dir, 'b.sock')}`;
    const store = new MaildirStore(fx.maildir);
    await store.ensureUser('alice');
    for (let i = 0; i < MESSAGES; i++) await store.append('alice', 'INBOX', Buffer.from(message(`m${i}`)));
    portA = await fx.server(pipeA, ['-v']);
    portB = await fx.server(pipeB, ['-v']);
    relayA = await fx.process(['relay', '--from', pipeA, '--to', `${bus}&durable=node-a`]);
    await fx.process(['relay', '--from', pipeA, '--to', `${bus}&durable=node-a-spare`]);
    relayB = await fx.process(['relay', '--from', pipeB, '--to', `${bus}&durable=node-b`]);
    onA = await fx.client(portA);
    onB = await fx.client(portB);
    pusher = await openPipe(pipeA);
    await sleep(300);
  });
  after(async () => {
    await pusher?.close();
    await fx.teardown();
    await cluster?.stop();
  });

  test('clients on both nodes end consistent with storage, and no change arrives twice', async () => {
    const store = new MaildirStore(fx.maildir);
    onA.events.length = 0;
    onB.events.length = 0;
    for (let i = 0; i < EDITS; i++) {
      const uid = (i % MESSAGES) + 1;
      const now = await store.setFlags('alice', 'INBOX', uid, flagsFor(Math.floor(i / MESSAGES)));
      await pusher.push({ type: 'flags', user: 'alice', mailbox: 'INBOX', uid, flags: now });
      if (i === 1500) await cluster.nodes[0]!.kill();
      if (i === 2500) relayA.child.kill('SIGKILL');
      if (i === 3000) relayB.child.kill('SIGKILL'); // node B's only relay: B is cut off
      if (i === 3500) relayA = await fx.process(['relay', '--from', pipeA, '--to', `${bus}&durable=node-a`]);
      if (i === 4000) relayB = await fx.process(['relay', '--from', pipeB, '--to', `${bus}&durable=node-b`]);
    }
    // The truth, read by a fresh session.
    const truth = new Map<number, string[]>();
    const fresh = await fx.client(portB);
    for await (const m of fresh.flow.fetch('1:*', { uid: true, flags: true })) truth.set(m.uid, [...(m.flags ?? [])].sort());
    assert.equal(truth.size, MESSAGES);
    // What each IDLE client was told, applied in order, until it agrees with storage.
    for (const [name, client] of [['A', onA], ['B', onB]] as const) {
      const seen = new Map<number, string[]>();
      const lastFor = new Map<number, string>();
      let twice = 0;
      const shownTwice: string[] = [];
      const settle = (): boolean => {
        for (const e of client.events.splice(0)) {
          if (e.type !== 'flags' || e.uid === undefined) continue;
          const key = e.flags!.join(' ');
          if (lastFor.get(e.uid) === key) {
            twice++;
            if (shownTwice.length < 5) shownTwice.push(`uid ${e.uid} (${key})`);
          }
          lastFor.set(e.uid, key);
          seen.set(e.uid, e.flags!);
        }
        return [...truth].every(([uid, f]) => (seen.get(uid) ?? []).join(' ') === f.join(' '));
      };
      const deadline = Date.now() + 45_000;
      while (!settle() && Date.now() < deadline) await sleep(200);
      const wrong = [...truth].filter(([uid, f]) => (seen.get(uid) ?? []).join(' ') !== f.join(' '));
      assert.deepEqual(wrong.slice(0, 5), [], `client on ${name} disagrees with storage for ${wrong.length} messages; its mailbox: ${JSON.stringify(client.flow.mailbox && { exists: (client.flow.mailbox as { exists: number }).exists })}; usable: ${String((client.flow as unknown as { usable: boolean }).usable)}; last told: ${JSON.stringify([...lastFor].slice(0, 3))}; client log: ${client.log.slice(-8).join(' | ')}; servers: ${fx.servers.slice(0, 2).map((p) => p.stderr.split('\n').filter((l) => !/pipe (connected|disconnected|owner)/.test(l)).slice(-15).join(' | ')).join(' ### ')}`);
      assert.equal((client.flow.mailbox as { exists: number }).exists, MESSAGES, `message count on ${name} matches`);
      assert.equal(twice, 0, `no change was shown twice on ${name}; shown twice: ${shownTwice.join(', ')}`);
    }
  });
});
