/**
 * Every decoder and parser that reads outside input, with what it may do with garbage:
 * return a value, or throw its own typed error. Anything else (a TypeError, a RangeError,
 * an endless loop) is a bug. Used by fuzz.test.ts (a short run in every `npm test`) and by
 * `npm run fuzz` (a time budget).
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeEnvelope, encodeCheckedEnvelope, unpackValue } from '../../src/envelope/codec.js';
import { FrameDecoder } from '../../src/envelope/frame.js';
import { PipeError } from '../../src/errors.js';
import { parseUpdateJson } from '../../src/cli/update-json.js';
import { CommandReader } from '../../src/imap/command-reader.js';
import { listMatcher } from '../../src/imap/list-pattern.js';
import { compileSearch } from '../../src/imap/search.js';
import { resolveSet } from '../../src/imap/sequence.js';
import { ImapSyntaxError, tokenize } from '../../src/imap/tokens.js';
import { parseFetchModifiers, parseSelectParams, parseStoreModifier } from '../../src/imap/condstore.js';
import { parseUsers } from '../../src/imap/users.js';
import { decodeMailboxName, encodeMailboxName } from '../../src/imap/utf7.js';
import { decodeNameComponent, parseMaildirFilename } from '../../src/maildir/index.js';
import { formatFolderRecord, parseFolderRecord } from '../../src/maildir/folder-record.js';
import { formatUidList, parseUidList } from '../../src/maildir/uid-list.js';
import { decodeAck, decodeHello, decodeNotice, decodeWelcome } from '../../src/hub/hub-protocol.js';
import { readBatch } from '../../src/hub/batch-frames.js';
import { UidSet } from '../../src/update/uid-set.js';
import { decodeBatch, isBatch } from '../../pipes/nats/subject-batch.js';
import { validateEnvelope } from '../../src/envelope/envelope.js';
import { validateUpdate } from '../../src/update/update.js';

export interface FuzzTarget {
  name: string;
  input: fc.Arbitrary<unknown>;
  /** Feeds one input; throws only when the parser broke its contract. */
  run(input: unknown): void;
}

const typed = (err: unknown): boolean => err instanceof PipeError;
const imapTyped = (err: unknown): boolean => err instanceof ImapSyntaxError || err instanceof PipeError;

/** Runs `f`; an error that `allowed` does not accept is re-thrown. */
function tolerate(f: () => unknown, allowed: (err: unknown) => boolean): void {
  try {
    f();
  } catch (err) {
    if (!allowed(err)) throw err;
  }
}

const IMAP_WORDS = ['a1', 'UID', 'FETCH', 'STORE', 'SEARCH', 'LOGIN', 'SELECT', 'APPEND', '1:*', '*', '(', ')', '[', ']', '"', '\\', '{5}', '{3+}', 'BODY[]', 'FLAGS', '\\Seen', 'OR', 'NOT', 'SINCE', '1-Jan-2026', '\r\n', ' ', '4294967295', '0', 'INBOX', '%', '&AOk-'];
const imapText = fc.array(fc.oneof(fc.constantFrom(...IMAP_WORDS), fc.string({ maxLength: 8 })), { maxLength: 40 }).map((ws) => ws.join(' '));
const envelopeLike = fc.record({ v: fc.oneof(fc.constant(1), fc.anything()), origin: fc.oneof(fc.string(), fc.anything()), seq: fc.oneof(fc.nat(), fc.anything()), ts: fc.oneof(fc.nat(), fc.anything()), update: fc.anything() }, { requiredKeys: [] });
const validEnvelope = fc.constantFrom(
  { v: 1 as const, origin: 'o1', seq: 3, ts: 1, update: validateUpdate({ type: 'flags', user: 'a', mailbox: 'INBOX', uid: 9, flags: ['\\Seen'] }) },
  { v: 1 as const, origin: 'o2', seq: 70_000, ts: 2, update: validateUpdate({ type: 'expunge', user: 'bob', mailbox: 'Sent', uids: '1:5,9' }) },
);
/** A valid encoding with a few bytes changed, cut short or extended. */
const mutatedEnvelope = fc.tuple(validEnvelope, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat({ max: 200 })).map(([env, edits, cut]) => {
  const b = Buffer.from(encodeCheckedEnvelope(env));
  for (const [at, v] of edits) b[at % b.length] = v;
  return b.subarray(0, Math.max(0, b.length - (cut % 8)));
});

/**
 * Envelope-like values with every type msgpackr has an extension for (records, Date, Set,
 * Map, BigInt, RegExp, Error, typed arrays, undefined, cycles), packed by a Packr that uses
 * them all: what a peer running msgpackr with other options, or a hostile one, could send.
 */
const extensionPackr = new Packr({ structuredClone: true, moreTypes: true, useRecords: true, useBigIntExtension: true });
const exotic = fc.oneof(
  fc.date({ noInvalidDate: false }),
  fc.bigInt(),
  fc.constant(new Set(['\\Seen'])),
  fc.constant(new Map([['uid', 1]])),
  fc.constant(/a+$/),
  fc.constant(new Error('x')),
  fc.constant(new Float64Array([1, 2])),
  fc.constant(undefined),
  fc.constant(null),
);
const fieldValue = fc.oneof(exotic, fc.string({ maxLength: 12 }), fc.nat(), fc.array(fc.oneof(exotic, fc.string({ maxLength: 8 })), { maxLength: 3 }));
const extensionEnvelope = fc
  .record({
    v: fc.oneof(fc.constant(1), exotic),
    origin: fc.oneof(fc.constant('o1'), exotic),
    seq: fc.oneof(fc.constant(5), exotic),
    ts: fc.oneof(fc.constant(1_700_000_000_000), exotic),
    update: fc.oneof(
      exotic,
      fc.record({ type: fc.oneof(fc.constant('flags'), exotic), user: fc.oneof(fc.constant('a'), exotic), mailbox: fc.oneof(fc.constant('INBOX'), exotic), uid: fc.oneof(fc.constant(3), exotic), flags: fc.oneof(fc.constant(['\\Seen']), fieldValue) }),
    ),
  }, { noNullPrototype: true })
  .chain((e) => fc.boolean().map((cyclic) => (cyclic ? Object.assign(e, { update: e }) : e)))
  .map((e) => Buffer.from(extensionPackr.pack(e)));

/** One frame of a BATCH, its length prefix off by `skew`. */
function batchFrame(body: Buffer, kind: number, skew: number): Buffer {
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt32BE(Math.max(0, body.length + 1 + skew), 0);
  f[4] = kind;
  body.copy(f, 5);
  return f;
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'frame decoder (stream chunks)',
    input: fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
    run: (chunks) => {
      const d = new FrameDecoder(4096);
      tolerate(() => (chunks as Uint8Array[]).forEach((c) => d.push(Buffer.from(c), () => {})), typed);
    },
  },
  { name: 'msgpack decoder (msgpackr)', input: fc.oneof(fc.uint8Array({ maxLength: 128 }), mutatedEnvelope, extensionEnvelope), run: (b) => tolerate(() => unpackValue(Buffer.from(b as Uint8Array)), typed) },
  {
    // A batch header in front of envelopes (good, mutated or exotic), or garbage after one.
    name: 'NATS batch decode + validation',
    input: fc.oneof(
      fc.array(fc.oneof(mutatedEnvelope, extensionEnvelope), { maxLength: 6 }).chain((parts) => fc.nat({ max: 20 }).map((count) => Buffer.concat([Buffer.from([0x90 | Math.min(count, 15)]), ...parts]))),
      fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.concat([Buffer.from([0xdc, 0, b.length & 0xff]), b])),
    ),
    run: (b) =>
      tolerate(() => {
        const bytes = Buffer.from(b as Uint8Array);
        if (!isBatch(bytes)) return;
        for (const v of decodeBatch(bytes)) tolerate(() => validateEnvelope(v), typed);
      }, typed),
  },
  {
    name: 'envelope decode + validation',
    input: fc.oneof(mutatedEnvelope, fc.uint8Array({ maxLength: 96 }), extensionEnvelope),
    run: (b) =>
      tolerate(() => {
        const env = decodeEnvelope(Buffer.from(b as Uint8Array));
        // Whatever passes is plain data again: it encodes and decodes to itself.
        if (JSON.stringify(decodeEnvelope(encodeCheckedEnvelope(env))) !== JSON.stringify(env)) throw new Error('accepted envelope does not round-trip');
      }, typed),
  },
  {
    name: 'update validation (objects)',
    input: fc.oneof(fc.anything(), envelopeLike.map((e) => e.update), fc.record({ type: fc.constantFrom('exists', 'expunge', 'flags', 'mailbox', 'resync', '__proto__'), user: fc.string(), mailbox: fc.string(), uid: fc.anything(), uids: fc.oneof(fc.string(), fc.array(fc.integer())), flags: fc.array(fc.string()), op: fc.string(), to: fc.string() }, { requiredKeys: ['type'] })),
    run: (u) =>
      tolerate(() => {
        const once = validateUpdate(u);
        // Canonical output validates to itself.
        if (JSON.stringify(validateUpdate(once)) !== JSON.stringify(once)) throw new Error('validation is not idempotent');
      }, typed),
  },
  { name: 'CLI JSON input', input: fc.oneof(fc.string(), fc.json(), fc.anything().map((v) => JSON.stringify(v) ?? '')), run: (s) => tolerate(() => parseUpdateJson(s as string, 'argument 1'), typed) },
  {
    name: 'uid-set parser',
    input: fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.constantFrom('1', '2', ':', ',', '*', '0', '4294967295', '4294967296', '-1', ' '), { maxLength: 20 }).map((p) => p.join('')), fc.array(fc.anything())),
    run: (s) =>
      tolerate(() => {
        const set = UidSet.parse(s);
        if (UidSet.parse(set.toString()).toString() !== set.toString()) throw new Error('uid set does not round-trip');
      }, typed),
  },
  {
    name: 'IMAP command reader + tokenizer',
    input: fc.array(fc.oneof(imapText, fc.string({ maxLength: 30 })), { maxLength: 6 }),
    run: (lines) => {
      const reader = new CommandReader((e) => {
        if (e.kind === 'command') tolerate(() => tokenize(e.parts), imapTyped);
      }, { maxLine: 512, maxLiteral: 64, maxAppendLiteral: 256 });
      for (const l of lines as string[]) reader.push(Buffer.from(l + '\r\n'));
    },
  },
  {
    name: 'IMAP sequence sets',
    input: fc.tuple(fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.constantFrom('1', '*', ':', ',', '4294967295', '0', '7'), { maxLength: 12 }).map((p) => p.join(''))), fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 10 }), fc.boolean()),
    run: (t) => {
      const [text, uids, byUid] = t as [string, number[], boolean];
      tolerate(() => resolveSet(text, [...new Set(uids)].sort((a, b) => a - b), byUid), imapTyped);
    },
  },
  {
    name: 'IMAP SEARCH',
    input: imapText,
    run: (text) => tolerate(() => compileSearch(tokenize([text as string]), [1, 2, 3, 10]), imapTyped),
  },
  {
    name: 'IMAP CONDSTORE/QRESYNC parameters and modifiers',
    input: fc.oneof(
      fc.string(),
      fc
        .array(fc.constantFrom('(', ')', 'QRESYNC', 'CONDSTORE', 'CHANGEDSINCE', 'VANISHED', 'UNCHANGEDSINCE', '1', '0', '4294967295', '99999999999999999999', '1:*', '5:3,7', '"x"', ' '), { maxLength: 14 })
        .map((p) => p.join(' ')),
    ),
    run: (text) => {
      let toks: ReturnType<typeof tokenize>;
      try {
        toks = tokenize([text as string]);
      } catch (err) {
        if (imapTyped(err)) return;
        throw err;
      }
      tolerate(() => parseSelectParams(toks[0]), imapTyped);
      tolerate(() => parseFetchModifiers(toks[0]), imapTyped);
      tolerate(() => parseStoreModifier(toks), imapTyped);
    },
  },
  {
    name: 'IMAP LIST patterns (no runaway matching)',
    input: fc.tuple(fc.string({ maxLength: 10 }), fc.array(fc.constantFrom('*', '%', 'a', '/', '.', 'INBOX', '(', '[', '\\'), { maxLength: 30 }).map((p) => p.join('')), fc.string({ maxLength: 60 })),
    run: (t) => {
      const [ref, pattern, name] = t as [string, string, string];
      tolerate(() => listMatcher(ref, pattern, '/')(name + 'a'.repeat(40)), imapTyped);
    },
  },
  {
    name: 'modified UTF-7 mailbox names',
    input: fc.oneof(fc.string(), fc.array(fc.constantFrom('&', '-', 'AOk', '&-', 'a', ',', '+'), { maxLength: 12 }).map((p) => p.join(''))),
    run: (s) => {
      const name = decodeMailboxName(s as string);
      if (name !== null && decodeMailboxName(encodeMailboxName(name)) !== name) throw new Error('utf7 does not round-trip');
    },
  },
  { name: 'Maildir file names', input: fc.oneof(fc.string(), fc.string().map((s) => `${s}:2,${s}`)), run: (s) => void parseMaildirFilename(s as string) },
  { name: 'Maildir folder names', input: fc.string(), run: (s) => void decodeNameComponent(s as string) },
  {
    name: 'Maildir UID list files',
    input: fc.oneof(
      fc.string(),
      fc.array(fc.oneof(fc.constantFrom('v1 3 5', 'v2 3 5 9', '1 a:2,S', '2 b', '0 x', '99999999999 y', '1 2 S a', '2 9 - b', '3 1 SF c', '4 99999999999999999 - d', ''), fc.string()), { maxLength: 6 }).map((l) => l.join('\n') + '\n'),
    ),
    run: (s) => {
      const list = parseUidList(s as string);
      // What parses must come back the same once written (v1 is upgraded to v2 first).
      if (!('corrupt' in list) && list.entries.every((e) => e.letters !== null)) {
        const again = parseUidList(formatUidList(list));
        if ('corrupt' in again || JSON.stringify(again) !== JSON.stringify(list)) throw new Error('UID list does not round-trip');
      }
    },
  },
  {
    name: 'Maildir folder records',
    input: fc.oneof(fc.string(), fc.array(fc.oneof(fc.constantFrom('v1', '12:34 .A', '12:34 .A', '1 .B', ':5 .C', '9:9 .'), fc.string()), { maxLength: 5 }).map((l) => l.join('\n') + '\n')),
    run: (s) => {
      const r = parseFolderRecord(s as string);
      if (r !== null && JSON.stringify([...(parseFolderRecord(formatFolderRecord(r)) ?? [])].sort()) !== JSON.stringify([...r].sort())) throw new Error('folder record does not round-trip');
    },
  },
  { name: 'users file', input: fc.array(fc.oneof(fc.string(), fc.constantFrom('alice:secret', '$scrypt$x', '#c', ':', 'a:')), { maxLength: 5 }).map((l) => l.join('\n')), run: (s) => tolerate(() => parseUsers(s as string), typed) },
  {
    // A BATCH message: its frames (good, mutated or garbage, of any kind, lengths off by a
    // few bytes), or garbage after the kind byte.
    name: 'hub BATCH message (WebSocket)',
    input: fc.oneof(
      fc.array(fc.tuple(fc.oneof(mutatedEnvelope, fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u))), fc.constantFrom(3, 3, 3, 0, 1, 6, 255), fc.integer({ min: -3, max: 3 })), { maxLength: 5 }).map((frames) =>
        Buffer.concat([Buffer.from([6]), ...frames.map(([body, kind, skew]) => batchFrame(body, kind, skew))]),
      ),
      fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.concat([Buffer.from([6]), u])),
    ),
    run: (b) => {
      const msg = b as Buffer;
      let last = 1;
      tolerate(
        () =>
          readBatch(msg, 1, (start, end) => {
            // What is handed out is a whole UPDATE frame inside the message, in order.
            if (start !== last || end > msg.length || end - start < 5 || msg[start + 4] !== 3) throw new Error(`bad span ${start}..${end} of ${msg.length}`);
            last = end;
            tolerate(() => decodeEnvelope(msg.subarray(start + 5, end)), typed);
          }),
        typed,
      );
    },
  },
  {
    name: 'hub protocol HELLO/WELCOME/ACK/NOTICE',
    input: fc.oneof(fc.uint8Array({ maxLength: 64 }), mutatedEnvelope, extensionEnvelope),
    run: (b) => {
      const body = Buffer.from(b as Uint8Array);
      for (const decode of [decodeHello, decodeWelcome, decodeAck, decodeNotice] as ((x: Buffer) => unknown)[]) tolerate(() => decode(body), typed);
    },
  },
];
