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

/** The bundle's exports: required on Node 22.1+, through the code cache before. */
function load(name: 'push' | 'mail'): FastEntry | undefined {
  // As CommonJS (scripts/bundle.mjs) this file has a `require` of its own, in the bundles' directory.
  const own = typeof require === 'function' ? require : undefined;
  if (!hasCompileCache()) return loadBundle(fileURLToPath(new URL(`./${name}-bundle.cjs`, import.meta.url)), own)?.exports as FastEntry | undefined;
  if (!own) return undefined;
  (own('node:module') as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  try {
    return own(`./${name}-bundle.cjs`) as FastEntry;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined; // a plain `tsc` build
    throw err;
  }
}

async function fast(argv: string[]): Promise<boolean> {
  const name = argv[0] === 'push' ? 'push' : argv[0] === 'mail' ? 'mail' : null;
  const entry = name === null ? undefined : load(name);
  if (!entry) return false;
  return (name === 'push' ? entry.fastPush! : entry.fastMail!)(argv);
}

fast(process.argv.slice(2)).then(
  async (done) => {
    if (!done) await import('./main.js');
  },
  fail,
);
