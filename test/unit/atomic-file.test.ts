import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { writeFileAtomic } from '../../src/maildir/atomic-file.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-atomic-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('writeFileAtomic replaces the file only once renameAfter has settled', async () => {
  const file = path.join(dir, 'list');
  await writeFile(file, 'old\n');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const writing = writeFileAtomic(file, 'new\n', gate);
  // Give the temp file's write and fsync every chance to finish: the rename must still wait.
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(await readFile(file, 'utf8'), 'old\n');
  assert.equal((await readdir(dir)).filter((n) => n.startsWith('list.tmp.')).length, 1, 'the temp file is written meanwhile');
  release();
  await writing;
  assert.equal(await readFile(file, 'utf8'), 'new\n');
  assert.deepEqual(await readdir(dir), ['list']);
});

test('writeFileAtomic leaves the file and no temp file when renameAfter rejects', async () => {
  const file = path.join(dir, 'other');
  await writeFile(file, 'old\n');
  await assert.rejects(writeFileAtomic(file, 'new\n', Promise.reject(new Error('not durable'))), /not durable/);
  assert.equal(await readFile(file, 'utf8'), 'old\n');
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('other')), ['other']);
});
