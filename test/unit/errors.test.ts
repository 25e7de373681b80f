import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeOf, PipeError, ValidationError } from '../../src/errors.js';

test('a PipeError from another copy of the module (the bundled push path) keeps its exit code', async () => {
  // A query string loads errors.js a second time: a separate class, as a bundle carries.
  const copy = (await import(`../../src/errors.js?copy=${Date.now()}`)) as typeof import('../../src/errors.js');
  assert.notEqual(copy.PipeError, PipeError);
  const foreign = new copy.PipeError('AUTH', 'bad token');
  assert.ok(foreign instanceof PipeError);
  assert.equal(exitCodeOf(foreign), 5);
  assert.equal(exitCodeOf(new copy.PipeError('NO_LISTENER', 'x')), 3);
  assert.ok(!(new Error('plain') instanceof PipeError));
  assert.ok(!({ code: 'AUTH' } instanceof PipeError), 'a look-alike object is not one');
  assert.equal(exitCodeOf(new Error('plain')), 1);
  // Subclasses keep ordinary instanceof semantics.
  assert.ok(new ValidationError('user', 'x') instanceof PipeError);
  assert.ok(!(new PipeError('AUTH', 'x') instanceof ValidationError));
});
