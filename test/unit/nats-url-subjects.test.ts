import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseNatsUrl, redactNatsUrl } from '../../pipes/nats/nats-url.js';
import { encodeToken, subjectFor } from '../../pipes/nats/subjects.js';

test('nats URL: servers, prefix, mode and options', () => {
  const s = parseNatsUrl('nats://u:p%40ss@10.0.0.1:4222,10.0.0.2:4222/mail/updates?mode=jetstream&stream=S1&durable=node-a&replicas=3&dupwindow=60');
  assert.deepEqual(s.servers, ['10.0.0.1:4222', '10.0.0.2:4222']);
  assert.equal(s.prefix, 'mail.updates');
  assert.equal(s.mode, 'jetstream');
  assert.equal(s.stream, 'S1');
  assert.equal(s.durable, 'node-a');
  assert.equal(s.replicas, 3);
  assert.equal(s.duplicateWindowMs, 60_000);
  assert.equal(s.user, 'u');
  assert.equal(s.pass, 'p@ss');
  const d = parseNatsUrl('nats://127.0.0.1:4222');
  assert.equal(d.mode, 'core');
  assert.equal(d.prefix, 'updatepipe');
  assert.match(d.durable, /^updatepipe-/);
  assert.ok(parseNatsUrl('tls://h:1/x?ca=/ca.pem').tls);
  assert.equal(parseNatsUrl('nats://tok123@h:1/x').token, 'tok123');
  for (const bad of ['nats://', 'nats://h/x', 'nats://h:1/x?mode=weird', 'nats://h:1/a*b', 'nats://h:1/x?replicas=2', 'nats://h:1/x?bogus=1', 'nats://h:1/x?durable=a.b', 'nats://h:1/x?dupwindow=-1']) {
    assert.throws(() => parseNatsUrl(bad), /nats URL/, bad);
  }
  assert.equal(redactNatsUrl('nats://u:secret@h:1/x?token=abc&mode=core'), 'nats://***@h:1/x?token=***&mode=core');
});

const VALID_TOKEN = /^[!-~]+$/; // printable, no space
test('subject tokens: dots, wildcards, spaces, non-ASCII and long names are safe and distinct', () => {
  for (const name of ['INBOX', 'a.b', 'x*y', 'q>r', 'with space', 'Entwürfe/Q4 *report* > 1', '~', '_', 'x'.repeat(500)]) {
    const t = encodeToken(name);
    assert.ok(VALID_TOKEN.test(t) && !/[.*>]/.test(t), `${name} → ${t}`);
    assert.ok(t.length <= 96, 'bounded length');
    assert.notEqual(t, '~', 'never the reserved "no mailbox" token');
  }
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), (a, b) => {
      if (a !== b && a.isWellFormed() && b.isWellFormed()) assert.notEqual(encodeToken(a), encodeToken(b));
    }),
  );
  assert.equal(subjectFor('p', { type: 'exists', user: 'a.b', mailbox: 'INBOX', uids: '1' as never }), 'p.a~2Eb.INBOX');
  assert.equal(subjectFor('p', { type: 'resync', user: '*' }), 'p.~.~');
  assert.equal(subjectFor('p', { type: 'resync', user: 'al' }), 'p.al.~');
});

test('subjectFor remembers only the very names it was given (it keeps the last subject)', () => {
  // Any order of prefixes, users, mailboxes and mailbox-less or all-users updates gives
  // the subject built from scratch: the remembered one is never handed to other names.
  const fresh = (prefix: string, user: string, mailbox?: string): string =>
    `${prefix}.${user === '*' ? '~' : encodeToken(user)}.${mailbox === undefined ? '~' : encodeToken(mailbox)}`;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('p', 'q'), fc.constantFrom('al', 'bo', 'a.b', '*'), fc.option(fc.constantFrom('INBOX', 'Sent', 'a.b'), { nil: undefined })), { maxLength: 30 }),
      (steps) => {
        for (const [prefix, user, mailbox] of steps) {
          const u = user === '*' || mailbox === undefined ? ({ type: 'resync', user, ...(user !== '*' && mailbox !== undefined ? { mailbox } : {}) } as const) : ({ type: 'exists', user, mailbox, uids: '1' as never } as const);
          const want = fresh(prefix, user, user === '*' ? undefined : mailbox);
          assert.equal(subjectFor(prefix, u), want, JSON.stringify(u));
        }
      },
    ),
  );
});
