import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CommandReader, type ReaderEvent } from '../../src/imap/command-reader.js';
import { parseFetchItems, renderFetch } from '../../src/imap/fetch.js';
import { listMatcher } from '../../src/imap/list-pattern.js';
import { compileSearch, UnknownCharsetError } from '../../src/imap/search.js';
import { resolveSet } from '../../src/imap/sequence.js';
import { ImapSyntaxError, tokenize, type Token } from '../../src/imap/tokens.js';
import { hashPassword, parseUsers, verifyPassword } from '../../src/imap/users.js';
import { decodeMailboxName, encodeMailboxName } from '../../src/imap/utf7.js';

const read = (input: string | Buffer[], limits = { maxLine: 100, maxLiteral: 50, maxAppendLiteral: 1000 }): ReaderEvent[] => {
  const out: ReaderEvent[] = [];
  const r = new CommandReader((e) => out.push(e), limits);
  for (const c of typeof input === 'string' ? [Buffer.from(input)] : input) r.push(c);
  return out;
};

test('reader: lines, synchronizing and LITERAL+ literals, split anywhere', () => {
  const stream = 'a1 NOOP\r\na2 LOGIN {5}\r\nalice {3+}\r\npw!\r\na3 APPEND INBOX {0}\r\n\r\n';
  for (let cut = 0; cut <= stream.length; cut++) {
    const ev = read([Buffer.from(stream.slice(0, cut)), Buffer.from(stream.slice(cut))]);
    const cmds = ev.filter((e) => e.kind === 'command').map((e) => (e.kind === 'command' ? e.parts.map(String) : []));
    assert.deepEqual(cmds, [['a1 NOOP'], ['a2 LOGIN ', 'alice', ' ', 'pw!', ''], ['a3 APPEND INBOX ', '', '']], `cut ${cut}`);
    assert.equal(ev.filter((e) => e.kind === 'continue').length, 2, 'one "+" per synchronizing literal');
  }
});

test('reader: caps on lines and literals', () => {
  assert.deepEqual(read('x'.repeat(150)), [{ kind: 'error', message: 'line too long', tag: null, fatal: true }]);
  const long = read('a1 ' + 'x'.repeat(120) + '\r\na2 NOOP\r\n');
  assert.equal(long[0]!.kind, 'error');
  assert.deepEqual(long[1], { kind: 'command', parts: ['a2 NOOP'] });
  const big = read('a1 LOGIN {60}\r\n');
  assert.deepEqual(big, [{ kind: 'error', message: 'literal of 60 bytes is over the 50-byte limit', tag: 'a1', fatal: false }]);
  const plus = read('a1 LOGIN {60+}\r\n' + 'y'.repeat(60) + ' more\r\na2 NOOP\r\n');
  assert.equal(plus[0]!.kind, 'error', 'refused LITERAL+ is read past');
  assert.deepEqual(plus[1], { kind: 'command', parts: ['a2 NOOP'] });
  assert.equal(read('a1 APPEND INBOX {900}\r\n').at(-1)!.kind, 'continue', 'APPEND has the larger cap');
});

test('tokenizer: atoms, quoted, literals, lists and FETCH sections', () => {
  const t = tokenize(['a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]<0.100>) "q\\"x" ', Buffer.from('lit'), '']);
  assert.deepEqual(t, [
    { t: 'atom', v: 'a1' },
    { t: 'atom', v: 'FETCH' },
    { t: 'atom', v: '1:*' },
    { t: 'list', v: [{ t: 'atom', v: 'FLAGS' }, { t: 'atom', v: 'BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]<0.100>' }] },
    { t: 'string', v: 'q"x' },
    { t: 'string', v: 'lit', raw: Buffer.from('lit') },
  ] satisfies Token[]);
  for (const bad of ['a1 "unterminated', 'a1 (open', 'a1 x  y', 'a1 BODY[', 'a1 "bad\\escape"', 'a1 ' + '('.repeat(40) + ')'.repeat(40)]) {
    assert.throws(() => tokenize([bad]), ImapSyntaxError, bad);
  }
});

test('tokenizer never throws anything but ImapSyntaxError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      try {
        tokenize([s]);
      } catch (e) {
        assert.ok(e instanceof ImapSyntaxError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('modified UTF-7 mailbox names round-trip', () => {
  assert.equal(encodeMailboxName('Entwürfe'), 'Entw&APw-rfe');
  assert.equal(encodeMailboxName('A&B'), 'A&-B');
  assert.equal(decodeMailboxName('&ZeVnLIqe-'), '日本語');
  assert.equal(decodeMailboxName('&Jjo-!'), '☺!');
  for (const bad of ['&', '&!!-', '&AAA-']) assert.equal(decodeMailboxName(bad), null, bad);
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => assert.equal(decodeMailboxName(encodeMailboxName(s)), s)));
});

test('sequence sets resolve against a view, by seq and by UID', () => {
  const uids = [3, 5, 9, 10, 20];
  assert.deepEqual(resolveSet('1:*', uids, false), [0, 1, 2, 3, 4]);
  assert.deepEqual(resolveSet('*', uids, false), [4]);
  assert.deepEqual(resolveSet('2,4:3', uids, false), [1, 2, 3]);
  assert.deepEqual(resolveSet('5:10', uids, true), [1, 2, 3]);
  assert.deepEqual(resolveSet('21:*', uids, true), [4], '"*" is the largest UID even below the range');
  assert.deepEqual(resolveSet('1:4294967295', uids, true), [0, 1, 2, 3, 4]);
  for (const bad of ['0', '1:0', 'a', '1,,2', '', '6', '1::2']) assert.throws(() => resolveSet(bad, uids, false), ImapSyntaxError, bad);
});

test('LIST patterns: * crosses the delimiter, % does not', () => {
  const m = listMatcher('', 'A/%', '/');
  assert.ok(m('A/B'));
  assert.ok(!m('A/B/C'));
  assert.ok(listMatcher('', '*', '/')('A/B/C'));
  assert.ok(listMatcher('', 'inbox', '/')('INBOX'));
  assert.ok(listMatcher('', 'a.b', '/')('a.b') && !listMatcher('', 'a.b', '/')('axb'));
});

test('SEARCH criteria', () => {
  const msg = (uid: number, flags: string[], size = 100) => ({ index: uid - 1, uid, flags, size, internalDate: new Date(Date.UTC(2026, 10, uid)), raw: Buffer.from(`Subject: hello ${uid}\r\nFrom: bob@x\r\n\r\nbody${uid}`), modseq: 10 * uid });
  const ms = [msg(1, ['\\Seen']), msg(2, []), msg(3, ['\\Seen', '\\Flagged'], 5000)];
  const run = (q: string): number[] => {
    const c = compileSearch(tokenize([q]), [1, 2, 3]);
    return ms.filter(c.test).map((m) => m.uid);
  };
  assert.deepEqual(run('ALL'), [1, 2, 3]);
  assert.deepEqual(run('SEEN'), [1, 3]);
  assert.deepEqual(run('UNSEEN'), [2]);
  assert.deepEqual(run('OR FLAGGED UNSEEN'), [2, 3]);
  assert.deepEqual(run('MODSEQ 20'), [2, 3]);
  assert.deepEqual(run('MODSEQ "/flags/\\\\draft" all 30'), [3]);
  assert.equal(compileSearch(tokenize(['MODSEQ 5']), [1]).usesModseq, true);
  assert.equal(compileSearch(tokenize(['SEEN']), [1]).usesModseq, false);
  for (const bad of ['MODSEQ', 'MODSEQ x', 'MODSEQ "/flags/x" nobody 5', 'MODSEQ 99999999999999999999']) assert.throws(() => compileSearch(tokenize([bad]), [1]), ImapSyntaxError, bad);
  assert.deepEqual(run('NOT SEEN'), [2]);
  assert.deepEqual(run('LARGER 1000'), [3]);
  assert.deepEqual(run('UID 2:*'), [2, 3]);
  assert.deepEqual(run('2'), [2]);
  assert.deepEqual(run('SUBJECT "hello 3"'), [3]);
  assert.deepEqual(run('BODY body1'), [1]);
  assert.deepEqual(run('SINCE 2-Nov-2026'), [2, 3]);
  assert.deepEqual(run('(SEEN FLAGGED)'), [3]);
  assert.deepEqual(run('CHARSET UTF-8 SEEN'), [1, 3]);
  assert.deepEqual(run('CHARSET KOI8-R SEEN'), [1, 3], 'any charset Node can decode');
  assert.throws(() => run('CHARSET X-UNKNOWN ALL'), UnknownCharsetError);
  for (const bad of ['', 'FROB', 'SINCE notadate', 'LARGER abc', 'SMALLER -1', 'NOT', '()']) assert.throws(() => run(bad), ImapSyntaxError, bad);
});

test('FETCH items and rendering, with binary-safe literals and partials', () => {
  assert.deepEqual(parseFetchItems({ t: 'atom', v: 'FAST' }).map((i) => i.kind), ['flags', 'internaldate', 'size']);
  const raw = Buffer.from('Subject: Hi\r\nFrom: "Bob B" <bob@example.org>\r\nTo: a@x, "C, D" <c@y>\r\n\r\nBody text\r\n');
  const items = parseFetchItems({ t: 'list', v: ['UID', 'FLAGS', 'ENVELOPE', 'BODY.PEEK[HEADER.FIELDS (SUBJECT)]', 'BODY[TEXT]<0.4>', 'RFC822.SIZE'].map((v) => ({ t: 'atom' as const, v })) });
  const out = renderFetch(7, items, { uid: 42, flags: ['\\Seen'], size: raw.length, internalDate: new Date(0), modseq: 5 }, raw).toString();
  assert.match(out, /^\* 7 FETCH \(UID 42 FLAGS \(\\Seen\) ENVELOPE \(NIL "Hi" \(\("Bob B" NIL "bob" "example.org"\)\)/);
  assert.match(out, /\(\(NIL NIL "a" "x"\)\("C, D" NIL "c" "y"\)\)/, 'to list splits on commas outside quotes');
  assert.match(out, /BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{15\}\r\nSubject: Hi\r\n\r\n/);
  assert.match(out, /BODY\[TEXT\]<0> \{4\}\r\nBody/);
  for (const bad of ['BODY[', 'BODY[0]', 'BODY[HEADER.FIELDS]', 'FOO', 'BODY[MIME]']) {
    assert.throws(() => parseFetchItems({ t: 'atom', v: bad }), ImapSyntaxError, bad);
  }
});

test('users file: plain and scrypt passwords, constant-time checks', async () => {
  const users = parseUsers(`# comment\nalice:secret\nbob:${await hashPassword('hunter2')}\n`);
  assert.equal(await verifyPassword(users, 'alice', 'secret'), true);
  assert.equal(await verifyPassword(users, 'alice', 'Secret'), false);
  assert.equal(await verifyPassword(users, 'bob', 'hunter2'), true);
  assert.equal(await verifyPassword(users, 'bob', 'hunter3'), false);
  assert.equal(await verifyPassword(users, 'carol', 'x'), false);
  assert.throws(() => parseUsers('nocolon\n'), /line 1/);
  assert.throws(() => parseUsers('a:1\na:2\n'), /twice/);
});

test('LIST patterns: regex-special characters are literal, and hostile patterns cannot stall the server', { timeout: 10_000 }, () => {
  // Found by the fuzz harness: "-" made an invalid regular expression and the command threw.
  assert.equal(listMatcher('', '-', '/')('-'), true);
  assert.equal(listMatcher('', 'a-b.c(d)[e]{f}+?|^$\\', '/')('a-b.c(d)[e]{f}+?|^$\\'), true);
  assert.equal(listMatcher('', 'a.c', '/')('abc'), false);
  assert.equal(listMatcher('', '%', '/')('a/b'), false);
  assert.equal(listMatcher('', '*', '/')('a/b'), true);
  assert.equal(listMatcher('', 'inbox', '/')('INBOX'), true);
  assert.equal(listMatcher('', 'Inbox/%', '/')('Inbox/x'), true);
  // A backtracking matcher takes ages on this; the table-driven one is linear in each.
  const hostile = '*a'.repeat(200) + 'b';
  assert.equal(listMatcher('', hostile, '/')('a'.repeat(1000)), false);
  assert.equal(listMatcher('', '%'.repeat(500) + 'x', '/')('y'.repeat(1000)), false);
});
