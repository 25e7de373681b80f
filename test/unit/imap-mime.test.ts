import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAddressList } from '../../src/imap/address.js';
import { bodyStructure } from '../../src/imap/body-structure.js';
import { envelope, forHumans } from '../../src/imap/envelope.js';
import { parseFetchItems, renderFetch } from '../../src/imap/fetch.js';
import { parseContentType, parseDisposition, parseLanguages } from '../../src/imap/header-params.js';
import { crlfSize, parseHeaderFields, parseMessage, splitHeader, withCrlf } from '../../src/imap/mime.js';
import { charsetDecoder, decodeHeaderValue } from '../../src/imap/search-text.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');
const structure = (s: string): string => bodyStructure(parseMessage(withCrlf(Buffer.from(s, 'latin1'))), true);

test('bare LFs become CRLF (and nothing else changes); the size is known without copying', () => {
  const same = Buffer.from('a\r\nb\r\n');
  assert.equal(withCrlf(same), same, 'no copy when nothing changes');
  assert.equal(withCrlf(Buffer.from('a\nb\r\nc\rd\n')).toString(), 'a\r\nb\r\nc\rd\r\n', 'a lone CR stays');
  assert.equal(withCrlf(Buffer.from('\n\n')).toString(), '\r\n\r\n');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => assert.equal(crlfSize(Buffer.from(b)), withCrlf(Buffer.from(b)).length)));
});

test('the header ends at the first empty line, which belongs to it; without one all is header', () => {
  assert.deepEqual(
    Object.fromEntries(Object.entries(splitHeader(crlf('A: 1\n\nbody\n'))).map(([k, v]) => [k, typeof v === 'boolean' ? v : v.toString()])),
    { header: 'A: 1\r\n\r\n', body: 'body\r\n', ended: true },
  );
  const none = splitHeader(crlf('\nbody'));
  assert.equal(none.header.toString(), '\r\n', 'a part without header fields');
  assert.equal(none.body.toString(), 'body');
  const only = splitHeader(crlf('A: 1\nB: 2\n'));
  assert.equal(only.ended, false);
  assert.equal(only.body.length, 0);
  const fields = parseHeaderFields(crlf('Subject: a\n  folded\tline  \nno colon here\nX:\n'));
  assert.deepEqual(fields.map((f) => [f.name, f.value]), [['Subject', 'a  folded\tline'], ['X', '']]);
  assert.equal(fields[0]!.raw, 'Subject: a\r\n  folded\tline  ');
});

test('Content-Type: case kept, comments dropped, RFC 2231 continuations joined, defaults', () => {
  assert.deepEqual(parseContentType('Text/PLAIN (a comment); CharSet="ISO-8859-1" (another)'), { type: 'Text', subtype: 'PLAIN', params: [['CharSet', 'ISO-8859-1']] });
  assert.deepEqual(parseContentType(null), { type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']] });
  assert.deepEqual(parseContentType(null, true), { type: 'message', subtype: 'rfc822', params: [] }, 'in a digest');
  assert.deepEqual(parseContentType('text; charset=utf-8'), { type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']] }, 'no subtype: the RFC 2045 default');
  assert.deepEqual(parseContentType('text/x; a=1; a=2').params, [['a', '1'], ['a', '2'], ['charset', 'us-ascii']], 'duplicates kept, charset added last');
  assert.deepEqual(parseContentType("application/pdf; name*0*=UTF-8''a%20; name*1*=b.pdf; x=y").params, [['x', 'y'], ['name*', "UTF-8''a%20b.pdf"]]);
  assert.deepEqual(parseContentType('application/pdf; name*1="b"; name*0="a"').params, [['name', 'ab']], 'in index order, not extended');
  assert.deepEqual(parseContentType('image/png; broken; =x; name="q\\"uo"').params, [['name', 'q"uo']], 'malformed ones skipped');
  assert.deepEqual(parseDisposition('ATTACHMENT; filename="a b.zip"; size=3'), { type: 'ATTACHMENT', params: [['filename', 'a b.zip'], ['size', '3']] });
  assert.equal(parseDisposition(';'), null);
  assert.deepEqual(parseLanguages('en, de-DE (German)'), ['en', 'de-DE']);
  assert.equal(parseLanguages(' '), null);
});

test('addresses: display names, comments, quoted local parts, routes, groups, placeholders', () => {
  const env = (v: string) => parseAddressList(v);
  assert.deepEqual(env('bob@example.org (Bob Smith)'), [{ kind: 'mailbox', name: 'Bob Smith', route: null, mailbox: 'bob', host: 'example.org' }]);
  assert.deepEqual(env('"Doe, Jane" <jane@x.org>, "john..doe"@y.org'), [
    { kind: 'mailbox', name: 'Doe, Jane', route: null, mailbox: 'jane', host: 'x.org' },
    { kind: 'mailbox', name: null, route: null, mailbox: 'john..doe', host: 'y.org' },
  ]);
  assert.deepEqual(env('<@a.example,@b.example:u@h>'), [{ kind: 'mailbox', name: null, route: '@a.example,@b.example', mailbox: 'u', host: 'h' }]);
  assert.deepEqual(env('postmaster, <>'), [
    { kind: 'mailbox', name: null, route: null, mailbox: 'postmaster', host: 'MISSING_DOMAIN' },
    { kind: 'mailbox', name: null, route: null, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' },
  ]);
  assert.deepEqual(env('Team: a@x, "B" <b@y>;, c@z'), [
    { kind: 'group-start', name: 'Team' },
    { kind: 'mailbox', name: null, route: null, mailbox: 'a', host: 'x' },
    { kind: 'mailbox', name: 'B', route: null, mailbox: 'b', host: 'y' },
    { kind: 'group-end' },
    { kind: 'mailbox', name: null, route: null, mailbox: 'c', host: 'z' },
  ]);
  assert.deepEqual(env('undisclosed-recipients: ;'), [{ kind: 'group-start', name: 'undisclosed-recipients' }, { kind: 'group-end' }]);
  assert.deepEqual(env('u@[192.0.2.1]'), [{ kind: 'mailbox', name: null, route: null, mailbox: 'u', host: '[192.0.2.1]' }]);
  assert.equal(forHumans('  a \t b\r\n c  '), 'a b c');
});

test('address parsing never throws, always ends and stays bounded, whatever the input', () => {
  const atoms = fc.constantFrom('a', '@', '<', '>', ',', ';', ':', '"', '(', ')', '\\', '[', ']', '.', ' ', 'x@y', '=?utf-8?q?x?=', '\xe9');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(atoms, { maxLength: 60 }).map((a) => a.join(''))), (s) => {
      const list = parseAddressList(s);
      assert.ok(list.length <= 1000);
    }),
    { numRuns: 3000 },
  );
  const many = Array.from({ length: 5000 }, (_, i) => `u${i}@x`).join(',');
  assert.equal(parseAddressList(many).length, 1000, 'capped');
  const started = Date.now();
  parseAddressList('('.repeat(50_000) + 'a@b' + ')'.repeat(50_000));
  parseAddressList('"'.repeat(100_001));
  assert.ok(Date.now() - started < 5_000, 'linear on hostile nesting');
});

test('ENVELOPE: the last of repeated fields, empty subject as "", 8-bit bytes passed through', () => {
  const e = envelope(parseHeaderFields(Buffer.from('Subject: one\r\nSubject:\r\nFrom: J\xf6rg <j@x>\r\nDate: d1\r\nDate: d2\r\n', 'latin1')));
  assert.equal(e, '("d2" "" (({4}\r\nJ\xf6rg NIL "j" "x")) (({4}\r\nJ\xf6rg NIL "j" "x")) (({4}\r\nJ\xf6rg NIL "j" "x")) NIL NIL NIL NIL NIL)');
});

test('BODYSTRUCTURE of broken multiparts: no boundary, no close delimiter, repeated delimiters, nested close', () => {
  assert.equal(structure('Content-Type: multipart/mixed\n\n--x\n\nbody\n'), '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)');
  assert.equal(
    structure('Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\none\n--b\n--b\nContent-Type: text/html\n\nlast\n'),
    '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)',
    'the unterminated last part runs to the end, its CRLF included',
  );
  const nested = parseMessage(crlf('Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\na\n--i--\n--o--\n'));
  assert.equal(nested.parts[0]!.body.toString(), '--i\r\n\r\na\r\n--i--\r\n', 'the CRLF after a nested close delimiter stays in the part');
  const deep = 'Content-Type: multipart/mixed; boundary=b\n\n--b\n'.repeat(100) + 'x';
  assert.match(structure(deep), /^\(+/, 'deep nesting is cut off, not a stack overflow');
});

test('sections follow Dovecot: n.1 of a leaf is the leaf, paths continue into message/rfc822', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\nleaf\n--b\nContent-Type: message/rfc822\n\nSubject: in\n\ninner\n--b--\n');
  const fetch = (item: string): string => {
    const out = renderFetch(1, parseFetchItems({ t: 'atom', v: item }), { uid: 1, flags: [], size: raw.length, internalDate: new Date(0), modseq: 1 }, raw).toString('latin1');
    return /\{\d+\}\r\n([\s\S]*)\)\r\n$/.exec(out)![1]!;
  };
  assert.equal(fetch('BODY.PEEK[1.1]'), 'leaf');
  assert.equal(fetch('BODY.PEEK[1.2]'), '');
  assert.equal(fetch('BODY.PEEK[2.1]'), 'inner', 'part 1 of the single-part message inside');
  assert.equal(fetch('BODY.PEEK[2.HEADER]'), 'Subject: in\r\n\r\n');
  assert.equal(fetch('BODY.PEEK[2.MIME]'), 'Content-Type: message/rfc822\r\n\r\n');
  assert.equal(fetch('BODY.PEEK[1.HEADER]'), '', 'HEADER needs a message/rfc822 part');
  assert.equal(fetch('BODY.PEEK[3]'), '');
  assert.equal(fetch('BODY.PEEK[HEADER.FIELDS.NOT (X)]'), 'Content-Type: multipart/mixed; boundary=b\r\n\r\n');
});

test('every FETCH item on every corpus message, and on random mutations of them, renders without throwing', () => {
  const dir = new URL('../../../test/fixtures/imap-differential/messages/', import.meta.url);
  const corpus = readdirSync(dir).map((f) => readFileSync(new URL(f, dir)));
  const items = parseFetchItems({
    t: 'list',
    v: ['UID', 'FLAGS', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822.SIZE', 'BODY.PEEK[]', 'BODY.PEEK[1.MIME]', 'BODY.PEEK[2.1.HEADER]', 'BODY.PEEK[1.2.3]<1.5>', 'BODY.PEEK[HEADER.FIELDS (FROM)]', 'BODY.PEEK[1.TEXT]'].map((v) => ({ t: 'atom' as const, v })),
  });
  const meta = { uid: 1, flags: [], size: 0, internalDate: new Date(0), modseq: 1 };
  for (const m of corpus) assert.ok(renderFetch(1, items, meta, m).length > m.length);
  fc.assert(
    fc.property(fc.nat({ max: corpus.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }), fc.nat(), (i, edits, cut) => {
      const b = Buffer.from(corpus[i]!);
      for (const [at, v] of edits) b[at % b.length] = v;
      renderFetch(1, items, meta, b.subarray(0, b.length - (cut % b.length)));
    }),
    { numRuns: 300 },
  );
});

test('SEARCH text decoding: encoded words (adjacent ones joined), charsets as named, unknown ones kept', () => {
  assert.equal(decodeHeaderValue('=?UTF-8?Q?a_b?= =?ISO-8859-1?B?6Q==?= and =?x-unknown?q?z?='), 'a bé and =?x-unknown?q?z?=');
  assert.equal(decodeHeaderValue('Gr\xc3\xbc\xc3\x9fe'), 'Grüße', '8-bit header bytes are UTF-8');
  assert.equal(charsetDecoder('windows-1252')!(Buffer.from([0x80, 0x96])), '€–');
  assert.equal(charsetDecoder('ISO-8859-1')!(Buffer.from([0x80, 0xe9])), '\x80é', 'Latin-1 is not windows-1252');
  assert.equal(charsetDecoder('koi8-r')!(Buffer.from([0xc1])), 'а');
  assert.equal(charsetDecoder('no-such-charset'), null);
});
