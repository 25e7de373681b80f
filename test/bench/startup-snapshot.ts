/**
 * Would a V8 start-up snapshot (`node --build-snapshot`) make `updatepipe mail add` reach
 * its push sooner? Issue 13 named it. This builds one blob with `node:net` and the mail
 * bundle already loaded, then times, interleaved run by run against a live listener:
 * `node -e 0`, the blob's own start (its main returns at once), `mail add` through the
 * executable as users run it, and `mail add` from the blob.
 * Usage: node dist/test/bench/startup-snapshot.js [runs=21]   (after `npm run build`)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI_PATH } from '../../src/cli/child.js';
import { median } from '../../src/bench/stats.js';

const runs = Number(process.argv[2] ?? 21);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs: ${process.argv[2]} is not a positive whole number`);
const dir = mkdtempSync(path.join(os.tmpdir(), 'up-snapshot-'));
const bundle = path.join(path.dirname(CLI_PATH), 'mail-bundle.cjs');
const blob = path.join(dir, 'mail.blob');
const sock = path.join(dir, 'p.sock');

/** A snapshot entry: the bundle (CommonJS needing only built-ins, which is all the entry's `require` loads) and `node:net`; its main takes `mail add …` from argv. */
const entryOf = (source: string): string => `const module = { exports: {} };
(function (exports, module, __filename, __dirname) {
${source}
})(module.exports, module, ${JSON.stringify(bundle)}, ${JSON.stringify(path.dirname(bundle))});
require('node:net');
require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {
  if (process.argv.length < 3) return;
  module.exports.fastMail(process.argv.slice(1)).then((done) => { if (!done) process.exitCode = 2; }, (e) => { console.error(e); process.exitCode = 1; });
});
`;

function listen(): Promise<ChildProcess> {
  const listener = spawn(process.execPath, [CLI_PATH, 'listen', '--pipe', `unix:${sock}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => (listener.kill(), reject(new Error(`the listener did not start in 10 s: ${err}`))), 10_000);
    listener.stderr!.on('data', (d: Buffer) => ((err += d), /ready/.test(err) && (clearTimeout(timer), resolve(listener))));
    listener.on('exit', (code) => (clearTimeout(timer), reject(new Error(`listener exited (${code}): ${err}`))));
  });
}

let listener: ChildProcess | undefined;
try {
  writeFileSync(path.join(dir, 'entry.cjs'), entryOf(readFileSync(bundle, 'utf8')));
  const built = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', path.join(dir, 'entry.cjs')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building the snapshot failed: ${built.stderr}`);
  writeFileSync(path.join(dir, 'm.eml'), 'Subject: snapshot\r\n\r\nbody\r\n');
  listener = await listen();

  const add = ['mail', 'add', '--maildir', path.join(dir, 'mail'), '--user', 'u', '--pipe', `unix:${sock}`, '--require-listener', path.join(dir, 'm.eml')];
  const variants: [string, string[]][] = [
    ['node -e 0', ['-e', '0']],
    ['snapshot blob, start only', ['--snapshot-blob', blob]],
    ['mail add (updatepipe)', [CLI_PATH, ...add]],
    ['mail add (snapshot blob)', ['--snapshot-blob', blob, ...add]],
  ];
  const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    // Each run starts with another variant: what warms up for the next one favours none.
    for (let k = 0; k < variants.length; k++) {
      const [name, args] = variants[(i + k) % variants.length]!;
      const t0 = performance.now();
      const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
      times.get(name)!.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`${name} exited ${r.status}: ${r.stderr}`);
    }
  }
  console.log(`node ${process.version}, ${runs} runs each, interleaved; blob ${(readFileSync(blob).length / 2 ** 20).toFixed(1)} MiB`);
  for (const [name, xs] of times) console.log(`${name.padEnd(28)} ${median(xs).toFixed(1)} ms median (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`);
} finally {
  listener?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
