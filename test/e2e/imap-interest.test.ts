import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import { ImapFixture, message, type Client } from '../helpers/imap-fixture.js';
import { NatsServer, natsSkip } from '../helpers/nats-server.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * serve-imap on NATS with `subscribe=interest`: it subscribes to exactly the mailboxes its
 * sessions have selected, following SELECT, re-SELECT and LOGOUT.
 */
describe('serve-imap subscribes by interest as sessions select mailboxes', { skip: natsSkip() }, () => {
  const fx = new ImapFixture();
  let nats: NatsServer;
  let pusher: UpdatePipe;
  let metrics = '';
  let client: Client;

  before(async () => {
    await fx.setup();
    const store = new MaildirStore(fx.maildir);
    await store.ensureUser('alice');
    await store.createMailbox('alice', 'Other');
    await store.append('alice', 'INBOX', Buffer.from(message('in inbox')));
    await store.append('alice', 'Other', Buffer.from(message('in other')));
    nats = await NatsServer.start();
    const url = `nats://${nats.hostPort}/mail?mode=core&subscribe=interest`;
    const server = await fx.process(['serve-imap', '--maildir', fx.maildir, '--listen', '127.0.0.1:0', '--pipe', url, '--users', path.join(fx.dir, 'users'), '--metrics', '127.0.0.1:0']);
    metrics = /metrics on (http:\/\/\S+)\/metrics/.exec(server.stderr)![1]!;
    const port = Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(server.stderr)![1]);
    client = await fx.client(port);
    pusher = await openPipe(`nats://${nats.hostPort}/mail?mode=core`);
  });
  after(async () => {
    await pusher?.close();
    await fx.teardown();
    await nats?.stop();
  });

  const delivered = async (): Promise<number> => Number(/updatepipe_delivered_total\{pipe="local"\} (\d+)/.exec(await (await fetch(`${metrics}/metrics`)).text())![1]);
  /**
   * The count once it stops moving: the waitFor loops below push again on every poll, so the
   * push of the poll that saw the event may still be on its way when the loop ends.
   */
  const settledDelivered = async (): Promise<number> => {
    for (let last = await delivered(); ; ) {
      await sleep(200);
      const now = await delivered();
      if (now === last) return now;
      last = now;
    }
  };
  // With a modseq, as every producer of this project sends: a CONDSTORE client (imapflow
  // enables it) is told a change without one only after storage confirms it.
  let modseq = 1_000;
  const flags = (mailbox: string, f: string[]) => pusher.push({ type: 'flags', user: 'alice', mailbox, uid: 1, flags: f, modseq: ++modseq });

  test('only the selected mailbox reaches the server; a new SELECT moves the interest', async () => {
    await waitFor(async () => (await flags('INBOX', ['\\Seen']), client.events.some((e) => e.type === 'flags')), 'INBOX flags while INBOX is selected', 10_000);
    const base = await settledDelivered();
    await flags('Other', ['\\Flagged']);
    await pusher.push({ type: 'flags', user: 'bob', mailbox: 'INBOX', uid: 1, flags: ['\\Seen'] });
    await sleep(300);
    assert.equal(await delivered(), base, 'updates for mailboxes nobody selected were not delivered to the server');

    client.events.length = 0;
    await client.flow.mailboxOpen('Other');
    await waitFor(async () => (await flags('Other', ['\\Answered']), client.events.some((e) => e.type === 'flags' && e.flags!.includes('\\Answered'))), 'Other flags after selecting Other', 10_000);
    const moved = await settledDelivered();
    await flags('INBOX', ['\\Draft']);
    await sleep(300);
    assert.equal(await delivered(), moved, 'INBOX is no longer subscribed once the session left it');
  });
});
