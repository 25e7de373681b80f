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

test('every error code has its SPEC §6 exit code; NATS errors map to the right codes', async () => {
  const { natsError } = await import('../../pipes/nats/connect.js');
  const codes: [ConstructorParameters<typeof PipeError>[0], number][] = [
    ['INTERNAL', 1], ['CLOSED', 1], ['USAGE', 2], ['BAD_INPUT', 2], ['BAD_FRAME', 2], ['NO_LISTENER', 3],
    ['UNREACHABLE', 4], ['TIMEOUT', 4], ['REFUSED', 4], ['AUTH', 5],
  ];
  for (const [code, exit] of codes) assert.equal(exitCodeOf(new PipeError(code, 'x')), exit, code);
  const named = (name: string, message: string): Error => Object.assign(new Error(message), { name });
  assert.equal(natsError(named('AuthorizationError', 'Authorization Violation'), 'connect').code, 'AUTH');
  assert.equal(natsError(named('TimeoutError', 'timeout'), 'push').code, 'TIMEOUT');
  assert.equal(natsError(new Error('maximum messages exceeded'), 'publish').code, 'REFUSED');
  assert.equal(natsError(new Error('insufficient resources'), 'publish').code, 'REFUSED');
  assert.equal(natsError(new Error('CONNECTION_REFUSED'), 'connect').code, 'UNREACHABLE');
});
