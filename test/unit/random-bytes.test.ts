import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomBytes } from '../../src/random-bytes.js';

/** src/random-bytes.ts: the ids and names of the store and the pipes draw on it. */

test('the asked number of bytes, fresh each time, across refills of the pool and past its size', () => {
  const seen = new Set<string>();
  let total = 0;
  for (let i = 0; i < 2_000; i++) {
    const n = [4, 6, 8, 9, 300][i % 5]!;
    const b = randomBytes(n);
    assert.equal(b.length, n);
    total += n;
    // No draw of 8 bytes or more comes twice (a pool that handed out bytes again would
    // repeat one; by chance, 2^-64). Shorter draws collide by chance too often to check:
    // 32-bit windows of ~50 KB repeat in a few percent of runs (birthday bound).
    if (n >= 8) {
      const key = b.toString('hex');
      assert.ok(!seen.has(key), `repeated draw ${key} after ${total} bytes`);
      seen.add(key);
    }
  }
  // Roughly uniform: each bit is set about half the time over ~150 KB.
  const big = randomBytes(150_000);
  let ones = 0;
  for (const byte of big) for (let bit = 0; bit < 8; bit++) ones += (byte >> bit) & 1;
  assert.ok(Math.abs(ones / (big.length * 8) - 0.5) < 0.01, `bit balance ${ones / (big.length * 8)}`);
});

test("a returned buffer is the caller's own: changing it changes no later draw", () => {
  const a = randomBytes(8);
  a.fill(0);
  const b = randomBytes(8);
  assert.notDeepEqual(b, Buffer.alloc(8));
});

test('without /dev/urandom it draws from node:crypto', () => {
  // A process whose /dev/urandom cannot be opened: fs.openSync refuses that one path.
  const mod = new URL('../../src/random-bytes.js', import.meta.url).href;
  const script = `
import crypto from 'node:crypto';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const open = fs.openSync;
fs.openSync = (p, ...rest) => { if (p === '/dev/urandom') throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); return open(p, ...rest); };
const draw = crypto.randomBytes;
let calls = 0;
crypto.randomBytes = (n) => (calls++, draw(n));
syncBuiltinESMExports(); // the module's named imports see both
const { randomBytes } = await import(${JSON.stringify(mod)});
const a = randomBytes(16), b = randomBytes(16);
process.stdout.write(a.length + ' ' + b.length + ' ' + (a.equals(b) ? 'same' : 'differ') + ' crypto=' + (calls > 0));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '16 16 differ crypto=true');
});
