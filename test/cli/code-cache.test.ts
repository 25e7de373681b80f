import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUILD_STAMP, buildIdOf, cacheFileOf, readCodeCache } from '../../src/cli/code-cache.js';

/**
 * The build's code cache for Node 20 (scripts/bundle.mjs, src/cli/code-cache.ts): used when
 * it belongs to the bundle, and when it is missing, stale or damaged the bundle is
 * compiled from source and works the same.
 */
const built = fileURLToPath(new URL('../../src/cli/mail-bundle.cjs', import.meta.url));
const loader = pathToFileURL(fileURLToPath(new URL('../../src/cli/code-cache.js', import.meta.url))).href;
let dir = '';
let bundle = '';

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-code-cache-'));
  bundle = path.join(dir, 'mail-bundle.cjs');
  await copyFile(built, bundle);
  await writeFile(path.join(dir, 'msg.eml'), 'Subject: cached\r\n\r\nbody\r\n');
});
after(() => rm(dir, { recursive: true, force: true }));

/** Loads the bundle copy in a fresh process, runs `mail add` with it: whether V8 took the cache, and what it printed. */
function runCopy(): { cached: boolean; stdout: string; stderr: string; status: number | null } {
  const script = `
import { loadBundle } from ${JSON.stringify(loader)};
const l = loadBundle(${JSON.stringify(bundle)});
await l.exports.fastMail(['mail', 'add', '--maildir', ${JSON.stringify(path.join(dir, 'mail'))}, '--user', 'alice', '--pipe', ${JSON.stringify(`unix:${path.join(dir, 'none.sock')}`)}, ${JSON.stringify(path.join(dir, 'msg.eml'))}]);
process.stderr.write('cached=' + l.cached + '\\n');
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return { cached: /cached=true/.test(r.stderr), stdout: r.stdout, stderr: r.stderr, status: r.status };
}

test('the build made a cache that belongs to the bundle, and V8 takes it', async () => {
  const source = await readFile(built, 'utf8');
  assert.ok(readCodeCache(built, source), 'the header vouches for the cache');
  await copyFile(cacheFileOf(built), cacheFileOf(bundle));
  const r = runCopy();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.cached, true, `V8 refused the build's cache (built by another Node?): ${r.stderr}`);
  assert.equal(r.stdout, '1\n');
});

test('a missing, stale or damaged cache is refused and the bundle still works', async () => {
  const source = await readFile(built, 'utf8');
  const good = await readFile(cacheFileOf(built));
  const header = good.indexOf(0x0a) + 1;
  // Bytes deep in V8's data: without --verify-snapshot-checksum, V8 20 read such a cache
  // as code and crashed (SIGSEGV, "unreachable code") or ran it.
  const damaged = [100, 5_000, Math.floor((good.length - header) / 2)].map((at) => {
    const copy = Buffer.from(good);
    copy[header + at] = copy[header + at]! ^ 0xff;
    return copy;
  });
  const cases: [string, Buffer | null, 'here' | 'V8'][] = [
    ['missing', null, 'here'],
    ['not ours', Buffer.from('garbage that is no cache at all'), 'here'],
    ['another build', Buffer.concat([Buffer.from(`updatepipe-code-cache/2 ${'0'.repeat(32)}\n`), good.subarray(header)]), 'here'],
    ['truncated', good.subarray(0, good.length - 1000), 'V8'],
    ...damaged.map((d, i): [string, Buffer, 'V8'] => [`damaged ${i + 1}`, d, 'V8']),
  ];
  for (const [why, data, refuser] of cases) {
    await rm(cacheFileOf(bundle), { force: true });
    if (data) await writeFile(cacheFileOf(bundle), data);
    assert.equal(readCodeCache(bundle, source) === undefined, refuser === 'here', `${why}: refused by ${refuser}`);
    const r = runCopy();
    assert.equal(r.status, 0, `${why}: ${r.stderr}`);
    assert.equal(r.cached, false, why);
    assert.match(r.stdout, /^\d+\n$/, why);
  }
  // A rebuilt bundle: other text (here of the same length, all V8 compares) and so another stamp.
  const i = source.indexOf('empty message');
  const id = buildIdOf(source)!;
  const rebuilt = `${source.slice(0, i)}EMPTY message${source.slice(i + 'empty message'.length)}`.replace(id, id.replace(/./, (c) => (c === 'a' ? 'b' : 'a')));
  assert.equal(rebuilt.length, source.length);
  assert.notEqual(buildIdOf(rebuilt), id);
  await writeFile(cacheFileOf(bundle), good);
  await writeFile(bundle, rebuilt);
  assert.equal(readCodeCache(bundle, rebuilt), undefined, 'rebuilt: refused');
  const r = runCopy();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.cached, false, 'rebuilt');
  assert.match(r.stdout, /^\d+\n$/);
  // No stamp, no cache.
  assert.equal(buildIdOf(source.slice(0, source.lastIndexOf(BUILD_STAMP))), undefined);
  await copyFile(built, bundle);
});

test('a bundle run from its cache still loads the backends left outside it (a cached script has no import() of its own)', () => {
  const push = fileURLToPath(new URL('../../src/cli/push-bundle.cjs', import.meta.url));
  const script = `
import { loadBundle } from ${JSON.stringify(loader)};
const l = loadBundle(${JSON.stringify(push)});
process.stderr.write('cached=' + l.cached + '\\n');
await l.exports.fastPush(['push', '--pipe', 'ws://127.0.0.1:9/x', '{"type":"resync","user":"alice"}']).catch((e) => process.stderr.write('code=' + e.code + ' ' + e.message + '\\n'));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.match(r.stderr, /cached=true/, r.stderr);
  // The WebSocket backend was imported and tried to connect: nobody is on port 9.
  assert.match(r.stderr, /code=UNREACHABLE cannot reach ws:\/\/127\.0\.0\.1:9\/x/, r.stderr);
});
