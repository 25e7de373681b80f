import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { PipeError, ValidationError } from '../../src/errors.js';
import { validateUpdate } from '../../src/update/update.js';

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
      } else {
        const out = validateUpdate(v.in);
        assert.deepEqual(out, v.out);
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
        try {
          validateUpdate(v);
        } catch (e) {
          assert.ok(e instanceof ValidationError, String(e));
        }
      },
    ),
    { numRuns: 2000 },
  );
});
