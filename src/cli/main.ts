#!/usr/bin/env node
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { fail } from './fail.js';

// Node 22+ caches compiled code between runs: a large part of a short command's start-up.
// Node 20 cannot; the bundles carry a code cache of their own for it (see fastEntry).
const enableCompileCache = (module as { enableCompileCache?: () => unknown }).enableCompileCache;
enableCompileCache?.();

type PushEntry = typeof import('./push-entry.js');
type MailEntry = typeof import('./mail-entry.js');

/**
 * `push` and `mail` are what admin tools run many times over, so their start-up counts:
 * each runs from a one-file CommonJS bundle of its own code (built by scripts/bundle.mjs),
 * which loads much faster than thirty small ES modules and commander; how it is loaded on
 * each Node is code-cache.ts's `loadFastBundle`, as for the executable (launch.ts).
 * Without the bundles (a plain `tsc` build) the modules do.
 */
async function fastEntry<T>(name: 'push' | 'mail', modules: () => Promise<T>): Promise<T> {
  const { loadFastBundle } = await import('./code-cache.js');
  const bundle = fileURLToPath(new URL(`./${name}-bundle.cjs`, import.meta.url));
  return ((loadFastBundle(bundle, module.createRequire(import.meta.url)) as T | undefined) ?? modules());
}

async function fastPath(argv: string[]): Promise<boolean> {
  if (argv[0] === 'push') return (await fastEntry<PushEntry>('push', () => import('./push-entry.js'))).fastPush(argv);
  if (argv[0] === 'mail') return (await fastEntry<MailEntry>('mail', () => import('./mail-entry.js'))).fastMail(argv);
  return false;
}

try {
  const argv = process.argv.slice(2);
  if (!(await fastPath(argv))) {
    const [{ runProgram }, { CommanderError }] = await Promise.all([import('./program.js'), import('commander')]);
    try {
      await runProgram(process.argv);
    } catch (err) {
      // --help and --version end here with exit code 0; usage errors are exit code 2.
      if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
      throw err;
    }
  }
} catch (err) {
  fail(err);
}
