/**
 * Bundles `updatepipe push` and `updatepipe mail` (dist/src/cli/{push,mail}-entry.js and
 * what they import) into one CommonJS file each, dist/src/cli/{push,mail}-bundle.cjs:
 * loading one module instead of thirty is most of what their start-up can save. The wire
 * codec (msgpackr's JavaScript entry) goes inside; other packages and the NATS and
 * WebSocket backends stay outside (loaded lazily, only when a pipe URL asks for them), and
 * so does prom-client, which only the long-running commands load. The bundles sit beside
 * the entries so their relative paths resolve to the tsc output. esbuild-wasm: no native
 * binaries.
 *
 * Node 22.1+ requires them with its own compile cache; for Node 20, which has none, each
 * has a V8 code cache beside it (`*-bundle.cjs.cache`, see src/cli/code-cache.ts). The
 * cache comes from a training run of the command, so it holds the functions a run
 * compiles, not only the bundle's top level. A cache made by another Node version is
 * refused at run time and costs nothing but the compile it would have saved.
 */
import { build } from 'esbuild-wasm';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const INSIDE = /^msgpackr(\/|$)/;
const packagesOutside = {
  name: 'packages-outside',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (INSIDE.test(args.path) ? undefined : { path: args.path, external: true }));
  },
};

/**
 * In the CommonJS bundles, `import()` of the backends left outside becomes a call of
 * `__importExternal`, which src/cli/code-cache.ts passes in: a script run from a code
 * cache has no loader for its own `import()`.
 */
const EXTERNAL_IMPORT = /\bimport\((?='\.\.\/\.\.\/pipes\/(?:nats|ws)\/)/g;
const externalImports = {
  name: 'external-imports',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]pipe[\\/]open-pipe\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const n = text.match(EXTERNAL_IMPORT)?.length ?? 0;
      if (n !== 2) throw new Error(`open-pipe.js: expected the NATS and WebSocket imports, found ${n}`);
      return { contents: text.replace(EXTERNAL_IMPORT, '__importExternal('), loader: 'js' };
    });
  },
};

/**
 * In the CommonJS files, a built-in module that a run may well not touch is loaded when
 * first used: its named imports become a proxy that requires it on the first property
 * read. `mail add` on Node 20 loaded node:crypto (3.5–4 ms), node:fs/promises (1.7 ms, with
 * readline and fs watchers) and node:module (0.5 ms) for code it did not run, or ran only
 * on the way to an error (measured one by one in a script that had already loaded `net`).
 * Default imports (`__toESM(require(…))`) copy the module's properties, so they stay eager.
 * test/cli/loaded-modules.test.ts checks what `push` and `mail add` end up loading.
 */
const LAZY_BUILTINS = ['node:crypto', 'node:fs/promises', 'node:module', 'node:os', 'node:timers/promises'];
const LAZY_REQUIRE = new RegExp(`(?<!__toESM\\()require\\("(${LAZY_BUILTINS.join('|').replace(/\//g, '\\/')})"\\)`, 'g');
const LAZY_HELPER = 'var __lazyBuiltin=id=>{let m;return new Proxy({},{get:(_,k)=>(m??=require(id))[k]})};';

function makeBuiltinsLazy(file) {
  const text = readFileSync(file, 'utf8');
  const lazy = text.replace(LAZY_REQUIRE, '__lazyBuiltin("$1")');
  const at = lazy.indexOf(`${LAZY_HELPER}\n`);
  if (at < 0) throw new Error(`${file}: the lazy-builtin helper is missing from its banner`);
  writeFileSync(file, lazy);
}

/** The last line of a fast bundle: the id its code cache's header must name (src/cli/code-cache.ts). */
function stamp(file) {
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, `${text}${BUILD_STAMP}${createHash('sha256').update(text).digest('hex').slice(0, 32)}\n`);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const { BUILD_STAMP } = await import(new URL('../dist/src/cli/code-cache.js', import.meta.url).href);
const options = (name) => ({
  absWorkingDir: root,
  entryPoints: [`dist/src/cli/${name}-entry.js`],
  outfile: `dist/src/cli/${name}-bundle.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  plugins: [packagesOutside, externalImports],
  // `__importExternal` is the code cache loader's (code-cache.ts); required as a plain
  // module (Node 22.1+) the bundle imports the backends itself.
  banner: { js: `"use strict";var __importExternal=__importExternal||(s=>import(s));${LAZY_HELPER}` },
  external: ['../../pipes/nats/*', '../../pipes/ws/*'],
  metafile: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

/**
 * What each training run does, in a Maildir and with a listener on `sock`: the whole
 * command, connect, HELLO, WELCOME, push and ACK included. (Trained against a socket
 * nobody listened on, the cache missed every function of the push and `mail add` compiled
 * them at run time, ~1 ms between the UID printed and the push written.) `mail add` twice:
 * the first makes the user and the mailbox, the second is the usual case.
 */
const training = (dir, sock) => ({
  push: [
    ['push', '--pipe', `unix:${sock}`, '{"type":"exists","user":"train","mailbox":"INBOX","uids":"1:2","uidValidity":7}'],
    ['push', '--pipe', `unix:${sock}`, '{"type":"resync","user":"train"}'],
  ],
  mail: [
    ['mail', 'add', '--maildir', path.join(dir, 'mail'), '--user', 'train', '--flags', '\\Seen', '--pipe', `unix:${sock}`, path.join(dir, 'msg.eml')],
    ['mail', 'add', '--maildir', path.join(dir, 'mail'), '--user', 'train', '--pipe', `unix:${sock}`, path.join(dir, 'msg.eml')],
  ],
});

const TRAIN = `
import { loadBundle, writeCodeCache } from './dist/src/cli/code-cache.js';
const [bundle, entry, runs, listening] = process.argv.slice(1);
const loaded = loadBundle(bundle);
for (const argv of JSON.parse(runs)) {
  // Without a listener the edit is saved and the push fails: the cache then lacks the push.
  await loaded.exports[entry](argv).catch((err) => { if (listening === 'yes') throw err; });
}
writeCodeCache(bundle, loaded.source, loaded.script.createCachedData());
`;

/**
 * Runs `fn(true)` with `updatepipe listen` on `sock` (the tsc build's main.js), stopped
 * after; `fn(false)` with a warning where no listener starts (the build still works).
 */
async function withListener(sock, fn) {
  const listener = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'listen', '--pipe', `unix:${sock}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let timer;
    const started = await new Promise((resolve, reject) => {
      let err = '';
      timer = setTimeout(() => reject(new Error(`the training listener did not start: ${err}`)), 20_000);
      listener.stderr.on('data', (d) => {
        err += d;
        if (/ready/.test(err)) resolve(undefined);
      });
      listener.on('error', reject);
      listener.on('exit', (code) => reject(new Error(`the training listener exited (${code}): ${err}`)));
    })
      .finally(() => clearTimeout(timer))
      .then(
        () => true,
        (e) => (console.warn(`bundle: training the code cache without a listener: ${e.message}`), false),
      );
    return fn(started);
  } finally {
    listener.kill('SIGTERM');
  }
}

// The executable (src/cli/launch.ts) as CommonJS with what it needs inside; main.js and
// the bundles stay beside it. `import.meta.url` becomes the file's own URL.
{
  const outfile = 'dist/src/cli/updatepipe.cjs';
  await build({
    absWorkingDir: root,
    entryPoints: ['dist/src/cli/launch.js'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['./main.js'],
    define: { 'import.meta.url': '__launch_url' },
    banner: { js: `#!/usr/bin/env node\n"use strict";${LAZY_HELPER}\nvar __launch_url = require("node:url").pathToFileURL(__filename).href;` },
    minifySyntax: true,
    logLevel: 'warning',
  });
  makeBuiltinsLazy(path.join(root, outfile));
  const text = readFileSync(path.join(root, outfile), 'utf8');
  if (!/\bimport\("\.\/main\.js"\)/.test(text)) throw new Error(`${outfile}: main.js must stay a dynamic import (an ES module)`);
  chmodSync(path.join(root, outfile), 0o755);
}

for (const name of ['push', 'mail']) {
  const out = await build(options(name));
  // Only the long-running commands may load the metrics library (start-up of push and mail).
  const pulled = Object.values(out.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  if (pulled.some((p) => p.startsWith('prom-client'))) throw new Error(`${name} bundle imports prom-client`);
  const bundle = path.join(root, `dist/src/cli/${name}-bundle.cjs`);
  // (The banner's own import(), the first line, runs only where the bundle is required.)
  const body = readFileSync(bundle, 'utf8').split('\n').slice(1).join('\n');
  if (/\bimport\(/.test(body)) throw new Error(`${name}-bundle.cjs has an import() that a cached script cannot run`);
  makeBuiltinsLazy(bundle);
  stamp(bundle);
  rmSync(`${bundle}.cache`, { force: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'up-train-'));
  try {
    writeFileSync(path.join(dir, 'msg.eml'), 'Subject: training\r\n\r\nbody\r\n');
    const entry = name === 'push' ? 'fastPush' : 'fastMail';
    const sock = path.join(dir, 'train.sock');
    const runs = JSON.stringify(training(dir, sock)[name]);
    const r = await withListener(sock, (listening) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', TRAIN, bundle, entry, runs, listening ? 'yes' : 'no'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' }),
    );
    if (r.status !== 0) throw new Error(`training run of the ${name} bundle failed: ${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
