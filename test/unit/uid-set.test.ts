import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import { MAX_UID, UidSet } from '../../src/update/uid-set.js';

test('formats canonical sorted merged ranges', () => {
  assert.equal(UidSet.parse([5, 3, 4, 9]).toString(), '3:5,9');
  assert.equal(UidSet.parse('7,1:3,2').toString(), '1:3,7');
  assert.equal(UidSet.parse('9:7').toString(), '7:9');
  assert.equal(UidSet.parse('1:3,4').toString(), '1:4');
  assert.equal(UidSet.parse([MAX_UID]).toString(), '4294967295');
});

test('rejects bad sets naming the field', () => {
  for (const bad of ['', '0', '-3', '1:*', '*', 'a', '1,,2', '01', '1:', ':2', '4294967296', '1 2', [], [0], [-1], [1.5], ['1'], [2 ** 32], {}]) {
    assert.throws(() => UidSet.parse(bad), (e: unknown) => e instanceof ValidationError && e.field === 'uids', `input ${JSON.stringify(bad)}`);
  }
});

test('has/size/iteration agree with the input', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 60 }), (uids) => {
      const set = UidSet.parse(uids);
      const distinct = [...new Set(uids)].sort((a, b) => a - b);
      assert.deepEqual([...set], distinct);
      assert.equal(set.size, distinct.length);
      for (let u = 1; u <= 501; u++) assert.equal(set.has(u), distinct.includes(u));
      // Canonical text parses back to the same set.
      assert.equal(UidSet.parse(set.toString()).toString(), set.toString());
    }),
  );
});

test('parser never throws anything but ValidationError on arbitrary strings', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      try {
        UidSet.parse(s);
      } catch (e) {
        assert.ok(e instanceof ValidationError);
      }
    }),
  );
});
