import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImapFixture, message, type Client } from '../helpers/imap-fixture.js';
import { NatsCluster, natsSkip } from '../helpers/nats-server.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * Two mail nodes over one Maildir root, each with its own Unix pipe and a relay to a
 * 3-node JetStream cluster, plus a redundant second relay on node A (loops must die out):
 * an admin edit on node A reaches IDLE clients on node B exactly once, and back.
 */
describe('two nodes joined by relays over a 3-node NATS JetStream cluster', { skip: natsSkip() }, () => {
  const fx = new ImapFixture();
  let nats: NatsCluster;
  let pipeA = '';
  let pipeB = '';
  let onA: Client;
  let onB: Client;
  let onB2: Client;
  const settle = (): Promise<void> => sleep(300);
  const reset = (...cs: Client[]): void => cs.forEach((c) => (c.events.length = 0));

  before(async () => {
    await fx.setup();
    nats = await NatsCluster.start(3);
    await nats.createStream('UPDATEPIPE_MAIL', ['mail.>']);
    pipeA = `unix:${path.join(fx.dir, 'a.sock')}`;
    pipeB = `unix:${path.join(fx.dir, 'b.sock')}`;
    const bus = `nats://${nats.servers}/mail?mode=jetstream&replicas=3&timeout=10`;
    const portA = await fx.server(pipeA);
    const portB = await fx.server(pipeB);
    await fx.process(['relay', '--from', pipeA, '--to', `${bus}&durable=node-a`]);
    await fx.process(['relay', '--from', pipeA, '--to', `${bus}&durable=node-a-spare`]);
    await fx.process(['relay', '--from', pipeB, '--to', `${bus}&durable=node-b`]);
    onA = await fx.client(portA);
    onB = await fx.client(portB);
    onB2 = await fx.client(portB);
    await sleep(200);
  });
  after(async () => {
    await fx.teardown();
    await nats?.stop();
  });

  test('mail add/flags/expunge on node A: each IDLE client on node B gets exactly one event', async () => {
    const add = await fx.mailWithInputVia(pipeA, message('cross'), 'add', '--user', 'alice', '-');
    assert.equal(add.code, 0, add.stderr);
    await waitFor(() => onB.events.length > 0 && onB2.events.length > 0 && onA.events.length > 0, 'exists everywhere');
    await settle();
    for (const c of [onA, onB, onB2]) assert.deepEqual(c.events, [{ type: 'exists', count: 1 }]);
    reset(onA, onB, onB2);
    assert.equal((await fx.mailVia(pipeA, 'flags', '--user', 'alice', '--uid', '1', '--set', '\\Flagged')).code, 0);
    await waitFor(() => onB.events.length > 0 && onB2.events.length > 0, 'flags on B');
    await settle();
    for (const c of [onB, onB2]) assert.deepEqual(c.events, [{ type: 'flags', seq: 1, uid: 1, flags: ['\\Flagged'] }]);
    reset(onA, onB, onB2);
    assert.equal((await fx.mailVia(pipeA, 'expunge', '--user', 'alice', '--uid', '1')).code, 0);
    await waitFor(() => onB.events.length > 0 && onB2.events.length > 0, 'expunge on B');
    await settle();
    for (const c of [onB, onB2]) assert.deepEqual(c.events, [{ type: 'expunge', seq: 1 }]);
  });

  test('the reverse direction, and a client STORE on node B reaching node A', async () => {
    reset(onA, onB, onB2);
    const add = await fx.mailWithInputVia(pipeB, message('back'), 'add', '--user', 'alice', '-');
    assert.equal(add.code, 0, add.stderr);
    await waitFor(() => onA.events.length > 0, 'exists on A');
    await settle();
    assert.deepEqual(onA.events, [{ type: 'exists', count: 1 }]);
    reset(onA, onB, onB2);
    await onB.flow.messageFlagsAdd({ uid: '2' }, ['\\Seen'], { uid: true });
    await waitFor(() => onA.events.length > 0 && onB2.events.length > 0, 'flags on A and B2');
    await settle();
    for (const c of [onA, onB2]) assert.deepEqual(c.events, [{ type: 'flags', seq: 1, uid: 2, flags: ['\\Seen'] }]);
  });
});

describe('two nodes joined by relays through a wss:// hub with tokens', () => {
  const fx = new ImapFixture();
  let pipeA = '';
  let pipeB = '';
  let onA: Client;
  let onB: Client;

  before(async () => {
    await fx.setup();
    const key = path.join(fx.dir, 'key.pem');
    const cert = path.join(fx.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tokens = path.join(fx.dir, 'tokens');
    await writeFile(tokens, 'node-token-0123456789abcdef\n', { mode: 0o600 });
    const hub = await fx.process(['hub', '--listen', 'wss://127.0.0.1:0/updates', '--token-file', tokens, '--cert', cert, '--key', key]);
    const url = /(wss:\/\/\S+)/.exec(hub.stderr)![1]!;
    const env = { ...process.env, UPDATEPIPE_CA_FILE: cert };
    pipeA = `unix:${path.join(fx.dir, 'a.sock')}`;
    pipeB = `unix:${path.join(fx.dir, 'b.sock')}`;
    const portA = await fx.server(pipeA);
    const portB = await fx.server(pipeB);
    await fx.process(['relay', '--from', pipeA, '--to', url, '--token-file', tokens], env);
    await fx.process(['relay', '--from', pipeB, '--to', url, '--token-file', tokens], env);
    onA = await fx.client(portA);
    onB = await fx.client(portB);
    await sleep(200);
  });
  after(() => fx.teardown());

  test('an edit on either node reaches the other node once', async () => {
    const add = await fx.mailWithInputVia(pipeA, message('via hub'), 'add', '--user', 'alice', '-');
    assert.equal(add.code, 0, add.stderr);
    await waitFor(() => onB.events.length > 0 && onA.events.length > 0, 'exists on both nodes');
    await sleep(300);
    assert.deepEqual(onB.events, [{ type: 'exists', count: 1 }]);
    onA.events.length = 0;
    onB.events.length = 0;
    assert.equal((await fx.mailVia(pipeB, 'flags', '--user', 'alice', '--uid', '1', '--add', '\\Seen')).code, 0);
    await waitFor(() => onA.events.length > 0, 'flags on A');
    await sleep(300);
    assert.deepEqual(onA.events, [{ type: 'flags', seq: 1, uid: 1, flags: ['\\Seen'] }]);
  });
});
