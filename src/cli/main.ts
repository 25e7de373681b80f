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

/**
 * `push` is what admin tools run many times over, so its start-up counts: it runs from a
 * one-file bundle of its own code (built by scripts/bundle.mjs), which loads much faster
 * than thirty small ES modules. Without the bundle (a plain `tsc` build) the modules do.
 */
async function pushEntry(): Promise<PushEntry> {
  const bundle = './push-bundle.js';
  try {
    return (await import(bundle)) as PushEntry;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return import('./push-entry.js');
  }
}

try {
  const argv = process.argv.slice(2);
  if (!(argv[0] === 'push' && (await (await pushEntry()).fastPush(argv)))) {
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
