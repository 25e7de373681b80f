import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { ImapFixture, message } from '../helpers/imap-fixture.js';
import { sleep, waitFor } from '../helpers/wait.js';

const fx = new ImapFixture();
let port = 0;

const client = (): ImapFlow => new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, logger: false, auth: { user: 'alice', pass: 'secret' }, qresync: true });

before(async () => {
  await fx.setup();
  port = await fx.server();
  for (let i = 1; i <= 5; i++) assert.equal((await fx.mailWithInput(message(`m${i}`), 'add', '--user', 'alice', '-')).code, 0);
});
after(() => fx.teardown());

test('imapflow with qresync: back after offline expunges, flag changes, a MUA rename and a delivery, it learns exactly those', async () => {
  const first = client();
  await first.connect();
  const opened = await first.mailboxOpen('INBOX');
  assert.equal(first.enabled.has('QRESYNC'), true, 'QRESYNC enabled');
  const { uidValidity, highestModseq } = opened as { uidValidity: bigint; highestModseq: bigint };
  assert.ok(highestModseq > 0n);
  await first.logout();

  // While it is away: an admin expunges and flags, a MUA marks one read, an MDA delivers.
  assert.equal((await fx.mail('expunge', '--user', 'alice', '--uid', '2')).code, 0);
  assert.equal((await fx.mail('flags', '--user', 'alice', '--uid', '3', '--add', '\\Flagged')).code, 0);
  const file = (await new MaildirStore(fx.maildir).sync('alice', 'INBOX')).messages.find((m) => m.uid === 4)!.file;
  await rename(file, path.join(fx.maildir, 'alice', 'cur', `${path.basename(file).split(':')[0]}:2,S`));
  assert.equal((await fx.mailWithInput(message('m6'), 'add', '--user', 'alice', '-')).code, 0);
  await sleep(200); // serve-imap's watcher records the MUA's rename

  const back = client();
  const expunged: number[] = [];
  const flags = new Map<number, string[]>();
  back.on('expunge', (e: { uid?: number; vanished?: boolean; earlier?: boolean }) => {
    assert.equal(e.vanished, true, 'reported as VANISHED');
    expunged.push(e.uid!);
  });
  back.on('flags', (e: { uid?: number; flags: Set<string> }) => flags.set(e.uid!, [...e.flags].sort()));
  await back.connect();
  const resumed = (await back.mailboxOpen('INBOX', { uidValidity, changedSince: highestModseq } as object)) as { exists: number; highestModseq: bigint };
  await waitFor(() => flags.size >= 3, 'the changed messages');
  assert.deepEqual(expunged, [2]);
  assert.deepEqual(
    [...flags].sort(([a], [b]) => a - b),
    [
      [3, ['\\Flagged']],
      [4, ['\\Seen']],
      [6, []],
    ],
    'the two changed messages and the new one; nothing unchanged',
  );
  assert.equal(resumed.exists, 5);
  assert.ok(resumed.highestModseq > highestModseq);
  await back.logout();
});
