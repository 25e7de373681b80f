#!/usr/bin/env node
import module from 'node:module';
import { exitCodeOf, PipeError } from '../errors.js';

// Node 22+ caches compiled code between runs: a large part of a short command's start-up.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

function fail(err: unknown): never {
  const code = exitCodeOf(err);
  const msg = err instanceof PipeError ? err.message : ((err as Error)?.stack ?? String(err));
  process.stderr.write(`updatepipe: ${msg}\n`);
  process.exit(code);
}

type PushEntry = typeof import('./push-entry.js');
type MailEntry = typeof import('./mail-entry.js');

/**
 * `push` and `mail` are what admin tools run many times over, so their start-up counts:
 * each runs from a one-file bundle of its own code (built by scripts/bundle.mjs), which
 * loads much faster than thirty small ES modules and commander. Without the bundles (a
 * plain `tsc` build) the modules do.
 */
async function fastEntry<T>(bundle: string, modules: () => Promise<T>): Promise<T> {
  try {
    return (await import(bundle)) as T;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return modules();
  }
}

async function fastPath(argv: string[]): Promise<boolean> {
  if (argv[0] === 'push') return (await fastEntry<PushEntry>('./push-bundle.js', () => import('./push-entry.js'))).fastPush(argv);
  if (argv[0] === 'mail') return (await fastEntry<MailEntry>('./mail-bundle.js', () => import('./mail-entry.js'))).fastMail(argv);
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
