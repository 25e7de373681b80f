/**
 * The `updatepipe` executable (package.json `bin`; scripts/bundle.mjs makes it into
 * dist/src/cli/updatepipe.cjs). It is CommonJS so that `push` and `mail` on Node 20 start
 * without the ES module loader: its set-up, and a thread-pool read for each module of the
 * entry, took ~13 ms of `mail add` (marks from a preload script, three runs side by side
 * against main.js: add → UID printed 50–57 ms after Node's bootstrap, 37–39 ms from here).
 * Node 22+ and every other command go through main.js as before; so does a `push` or
 * `mail` line the fast parsers do not take (commander explains it).
 */
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadBundle } from './code-cache.js';
import { fail } from './fail.js';

type FastEntry = { fastPush?: (argv: string[]) => Promise<boolean>; fastMail?: (argv: string[]) => Promise<boolean> };

async function fast(argv: string[]): Promise<boolean> {
  const name = argv[0] === 'push' ? 'push' : argv[0] === 'mail' ? 'mail' : null;
  // Node 22+ has a compile cache for the ES module bundle (main.js enables it).
  if (name === null || (module as { enableCompileCache?: unknown }).enableCompileCache) return false;
  const loaded = loadBundle(fileURLToPath(new URL(`./${name}-bundle.cjs`, import.meta.url)));
  if (!loaded) return false;
  const entry = loaded.exports as FastEntry;
  return (name === 'push' ? entry.fastPush! : entry.fastMail!)(argv);
}

fast(process.argv.slice(2)).then(
  async (done) => {
    if (!done) await import('./main.js');
  },
  fail,
);
