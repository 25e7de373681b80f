/**
 * The `updatepipe` executable (package.json `bin`; scripts/bundle.mjs makes it into
 * dist/src/cli/updatepipe.cjs). It is CommonJS so that `push` and `mail` on Node 20 start
 * without the ES module loader: its set-up, and a thread-pool read for each module of the
 * entry, took ~13 ms of `mail add` (marks from a preload script, three runs side by side
 * against main.js: add → UID printed 50–57 ms after Node's bootstrap, 37–39 ms from here).
 * Node 22+ and every other command go through main.js as before; so does a `push` or
 * `mail` line the fast parsers do not take (commander explains it).
 */
import { fileURLToPath } from 'node:url';
import { loadBundle } from './code-cache.js';
import { fail } from './fail.js';

type FastEntry = { fastPush?: (argv: string[]) => Promise<boolean>; fastMail?: (argv: string[]) => Promise<boolean> };

/**
 * Node 22.1+ has a compile cache for the ES module bundle (module.enableCompileCache,
 * which main.js turns on). Told by the version: loading node:module to ask costs ~0.5 ms.
 */
function hasCompileCache(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 1);
}

async function fast(argv: string[]): Promise<boolean> {
  const name = argv[0] === 'push' ? 'push' : argv[0] === 'mail' ? 'mail' : null;
  if (name === null || hasCompileCache()) return false;
  // As CommonJS (scripts/bundle.mjs) this file has a `require` of its own, in the bundles' directory.
  const loaded = loadBundle(fileURLToPath(new URL(`./${name}-bundle.cjs`, import.meta.url)), typeof require === 'function' ? require : undefined);
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
