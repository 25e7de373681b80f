/**
 * The `updatepipe` executable (package.json `bin`; scripts/bundle.mjs makes it into
 * dist/src/cli/updatepipe.cjs). It is CommonJS so that `push` and `mail` start without the
 * ES module loader: its set-up, and a thread-pool read for each module of the entry, took
 * ~13 ms of `mail add` on Node 20 (marks from a preload script, three runs side by side
 * against main.js: add → UID printed 50–57 ms after Node's bootstrap, 37–39 ms from here).
 * They run the CommonJS bundle: on Node 20 through `vm.Script` with the build's code cache
 * (code-cache.ts), on Node 22.1+ by `require` with Node's own compile cache turned on
 * (`mail add` → IDLE EXISTS on Node 22: +42 ms over `node -e 0` through main.js and the
 * ES module bundle, +27 ms this way). Every other command goes through main.js, and so
 * does a `push` or `mail` line the fast parsers do not take (commander explains it).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadFastBundle } from './code-cache.js';
import { fail } from './fail.js';

type FastEntry = { fastPush?: (argv: string[]) => Promise<boolean>; fastMail?: (argv: string[]) => Promise<boolean> };

async function fast(argv: string[]): Promise<boolean> {
  const name = argv[0] === 'push' ? 'push' : argv[0] === 'mail' ? 'mail' : null;
  if (name === null) return false;
  // As CommonJS (scripts/bundle.mjs) this file has a `require` of its own, in the bundles' directory.
  const own = typeof require === 'function' ? require : createRequire(import.meta.url);
  const entry = loadFastBundle(fileURLToPath(new URL(`./${name}-bundle.cjs`, import.meta.url)), own) as FastEntry | undefined;
  if (!entry) return false;
  return (name === 'push' ? entry.fastPush! : entry.fastMail!)(argv);
}

fast(process.argv.slice(2)).then(
  async (done) => {
    if (!done) await import('./main.js');
  },
  fail,
);
