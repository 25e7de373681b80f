import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { PipeError, ValidationError } from '../../src/errors.js';
import { validateDecodedUpdate, validateUpdate } from '../../src/update/update.js';

// dist/test/unit → test/fixtures
const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

interface Vector {
  case: string;
  in: unknown;
  out?: unknown;
  error?: string;
}

const load = (name: string): Vector[] =>
  readFileSync(fixtures + name, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Vector);

for (const file of ['update-vectors.jsonl', 'update-vectors-extra.jsonl']) {
  for (const v of load(file)) {
    test(`${file}: ${v.case}`, () => {
      if (v.error !== undefined) {
        assert.throws(
          () => validateUpdate(v.in),
          (e: unknown) => e instanceof ValidationError && e.field === v.error,
          `expected a ValidationError naming "${v.error}"`,
        );
        // Receivers check decoded updates in place: the same verdict, the same field.
        assert.throws(() => validateDecodedUpdate(structuredClone(v.in)), (e: unknown) => e instanceof ValidationError && e.field === v.error);
      } else {
        const out = validateUpdate(v.in);
        assert.deepEqual(out, v.out);
        assert.equal(JSON.stringify(validateDecodedUpdate(structuredClone(v.in))), JSON.stringify(out));
        // Canonical output validates to itself.
        assert.deepEqual(validateUpdate(JSON.parse(JSON.stringify(out))), out);
      }
    });
  }
}

test('validation never throws anything but ValidationError on arbitrary JSON', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        validateUpdate(v);
      } catch (e) {
        assert.ok(e instanceof PipeError && e.code === 'BAD_INPUT', String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('validation of arbitrary objects shaped like updates never crashes', () => {
  const anyField = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.array(fc.oneof(fc.string(), fc.integer())));
  fc.assert(
    fc.property(
      fc.record(
        {
          type: fc.constantFrom('exists', 'expunge', 'flags', 'mailbox', 'resync', 'x'),
          user: anyField,
          mailbox: anyField,
          uids: anyField,
          uid: anyField,
          flags: anyField,
          op: fc.oneof(fc.constantFrom('create', 'rename', 'delete'), anyField),
          to: anyField,
        },
        { requiredKeys: ['type'], noNullPrototype: true },
      ),
      (v) => {
        let fresh: unknown;
        let failed: unknown = null;
        try {
          fresh = validateUpdate(v);
        } catch (e) {
          assert.ok(e instanceof ValidationError, String(e));
          failed = e;
        }
        // The in-place check of a decoded update agrees: the same error field, or the same result.
        const copy = structuredClone(v);
        if (failed) assert.throws(() => validateDecodedUpdate(copy), (e: unknown) => e instanceof ValidationError && e.field === (failed as ValidationError).field);
        // The same keys in the same (canonical) order, whatever order they came in.
        else assert.equal(JSON.stringify(validateDecodedUpdate(copy)), JSON.stringify(fresh));
      },
    ),
    { numRuns: 2000 },
  );
});

test('a decoded update is checked in place: nothing allocated when it is canonical, fixed where it is not', () => {
  const good = { type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 5, flags: ['\\Seen', '$Junk'], modseq: 9 };
  const flags = good.flags;
  const out = validateDecodedUpdate(good);
  assert.equal(out, good, 'the object itself');
  assert.equal((out as { flags: string[] }).flags, flags, 'and its flag list');
  // Duplicates dropped (a new list), undefined fields removed, a UID set made canonical.
  const dup = validateDecodedUpdate({ type: 'flags', user: 'a', mailbox: 'INBOX', uid: 1, flags: ['\\Seen', '\\SEEN', '$x'], uidValidity: undefined });
  assert.deepEqual(dup, { type: 'flags', user: 'a', mailbox: 'INBOX', uid: 1, flags: ['\\Seen', '$x'] });
  assert.ok(!('uidValidity' in dup));
  assert.deepEqual(validateDecodedUpdate({ type: 'exists', user: 'a', mailbox: 'INBOX', uids: '7,1:3,2' }), { type: 'exists', user: 'a', mailbox: 'INBOX', uids: '1:3,7' });
  assert.deepEqual(validateDecodedUpdate({ type: 'mailbox', user: 'a', mailbox: 'X', op: 'create', to: undefined }), { type: 'mailbox', user: 'a', mailbox: 'X', op: 'create' });
  // Another encoder's key order: the result is a fresh object in the canonical order.
  const shuffled = { flags: ['\\Seen'], uid: 2, mailbox: 'INBOX', type: 'flags', user: 'a' };
  const fixed = validateDecodedUpdate(shuffled);
  assert.notEqual(fixed, shuffled);
  assert.deepEqual(Object.keys(fixed), ['type', 'user', 'mailbox', 'uid', 'flags']);
  // A bad value anywhere leaves the check failing before anything was written.
  const bad = { type: 'exists', user: 'a', mailbox: 'INBOX', uids: '3,1', modseq: -1 };
  assert.throws(() => validateDecodedUpdate(bad), (e: unknown) => e instanceof ValidationError && e.field === 'modseq');
  assert.equal(bad.uids, '3,1', 'untouched');
});
