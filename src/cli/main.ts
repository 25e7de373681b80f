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

/**
 * `push` is what admin tools run many times over: its common forms are parsed here
 * without loading commander. Anything unusual (help, unknown options) takes the full path.
 */
function fastPush(argv: string[]): { pipe?: string; tokenFile?: string; verbose: boolean; updates: string[] } | null {
  if (argv[0] !== 'push') return null;
  const o: { pipe?: string; tokenFile?: string; verbose: boolean; updates: string[] } = { verbose: false, updates: [] };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--pipe' || a === '--token-file') {
      const v = argv[++i];
      if (v === undefined) return null;
      if (a === '--pipe') o.pipe = v;
      else o.tokenFile = v;
    } else if (a.startsWith('--pipe=')) o.pipe = a.slice(7);
    else if (a === '-v' || a === '--verbose') o.verbose = true;
    else if (a === '--') o.updates.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a.startsWith('-')) return null;
    else o.updates.push(a);
  }
  return o;
}

try {
  const fast = fastPush(process.argv.slice(2));
  if (fast) {
    const { defaultPipeUrl } = await import('../pipe/default-url.js');
    if (fast.tokenFile) await (await import('./token-file.js')).useTokenFile(fast.tokenFile);
    const { pushCommand } = await import('./commands/push.js');
    await pushCommand(fast.updates, { pipe: fast.pipe ?? defaultPipeUrl(), verbose: fast.verbose });
  } else {
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
