/**
 * Bundles `updatepipe push` and `updatepipe mail` (dist/src/cli/{push,mail}-entry.js and
 * what they import) into one file each, dist/src/cli/{push,mail}-bundle.js: loading one
 * module instead of thirty is most of what their start-up can save. The wire codec
 * (msgpackr's JavaScript entry) goes inside; other packages and the NATS and WebSocket
 * backends stay outside (loaded lazily, only when a pipe URL asks for them), and so does
 * prom-client, which only the long-running commands load. The bundles sit beside the
 * entries so their relative paths resolve to the tsc output. esbuild-wasm: no native
 * binaries.
 *
 * Each bundle is also written as CommonJS (`*-bundle.cjs`) with a V8 code cache beside it
 * (`*-bundle.cjs.cache`) for Node 20, which has no compile cache (see src/cli/code-cache.ts).
 * The cache comes from a training run of the command, so it holds the functions a run
 * compiles, not only the bundle's top level: against a Maildir in a temp directory and a
 * pipe nobody listens on. A cache made by another Node version is refused at run time
 * and costs nothing but the compile it would have saved.
 */
import { build } from 'esbuild-wasm';
import { spawnSync } from 'node:child_process';
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

const root = fileURLToPath(new URL('..', import.meta.url));
const options = (name, format) => ({
  absWorkingDir: root,
  entryPoints: [`dist/src/cli/${name}-entry.js`],
  outfile: `dist/src/cli/${name}-bundle.${format === 'esm' ? 'js' : 'cjs'}`,
  bundle: true,
  platform: 'node',
  format,
  target: 'node20',
  plugins: format === 'esm' ? [packagesOutside] : [packagesOutside, externalImports],
  external: ['../../pipes/nats/*', '../../pipes/ws/*'],
  metafile: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

/** What each training run does, in a Maildir and beside a socket path in `dir`. */
const training = (dir) => ({
  push: ['push', '--pipe', `unix:${path.join(dir, 'none.sock')}`, '{"type":"resync","user":"train"}'],
  mail: ['mail', 'add', '--maildir', path.join(dir, 'mail'), '--user', 'train', '--flags', '\\Seen', '--pipe', `unix:${path.join(dir, 'none.sock')}`, path.join(dir, 'msg.eml')],
});

const TRAIN = `
import { loadBundle, writeCodeCache } from './dist/src/cli/code-cache.js';
const [bundle, entry, ...argv] = process.argv.slice(1);
const loaded = loadBundle(bundle);
await loaded.exports[entry](argv).catch(() => {}); // no listener: the edit is saved, the push fails
writeCodeCache(bundle, loaded.source, loaded.script.createCachedData());
`;

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
    banner: { js: '#!/usr/bin/env node\nvar __launch_url = require("node:url").pathToFileURL(__filename).href;' },
    minifySyntax: true,
    logLevel: 'warning',
  });
  const text = readFileSync(path.join(root, outfile), 'utf8');
  if (!/\bimport\("\.\/main\.js"\)/.test(text)) throw new Error(`${outfile}: main.js must stay a dynamic import (an ES module)`);
  chmodSync(path.join(root, outfile), 0o755);
}

for (const name of ['push', 'mail']) {
  for (const format of ['esm', 'cjs']) {
    const out = await build(options(name, format));
    // Only the long-running commands may load the metrics library (start-up of push and mail).
    const pulled = Object.values(out.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    if (pulled.some((p) => p.startsWith('prom-client'))) throw new Error(`${name} bundle imports prom-client`);
  }
  const cjs = readFileSync(path.join(root, `dist/src/cli/${name}-bundle.cjs`), 'utf8');
  if (/\bimport\(/.test(cjs)) throw new Error(`${name}-bundle.cjs has an import() that a cached script cannot run`);
  const bundle = path.join(root, `dist/src/cli/${name}-bundle.cjs`);
  rmSync(`${bundle}.cache`, { force: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'up-train-'));
  try {
    writeFileSync(path.join(dir, 'msg.eml'), 'Subject: training\r\n\r\nbody\r\n');
    const entry = name === 'push' ? 'fastPush' : 'fastMail';
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', TRAIN, bundle, entry, ...training(dir)[name]], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`training run of the ${name} bundle failed: ${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
