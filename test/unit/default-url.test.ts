import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPipeUrl } from '../../src/pipe/default-url.js';

test('default pipe URL: env, then XDG_RUNTIME_DIR, then /tmp per uid', () => {
  assert.equal(defaultPipeUrl({ UPDATEPIPE_URL: 'unix:/x.sock' }), 'unix:/x.sock');
  assert.equal(defaultPipeUrl({ XDG_RUNTIME_DIR: '/run/user/1000' }), 'unix:/run/user/1000/updatepipe/updates.sock');
  assert.equal(defaultPipeUrl({}), `unix:/tmp/updatepipe-${process.getuid!()}/updates.sock`);
  assert.equal(defaultPipeUrl({ XDG_RUNTIME_DIR: 'relative' }), `unix:/tmp/updatepipe-${process.getuid!()}/updates.sock`);
});
