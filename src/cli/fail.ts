import { exitCodeOf, PipeError } from '../errors.js';

/** How the CLI ends on an error: one line on stderr, the exit code of its kind (SPEC §6). */
export function fail(err: unknown): never {
  const msg = err instanceof PipeError ? err.message : ((err as Error)?.stack ?? String(err));
  process.stderr.write(`updatepipe: ${msg}\n`);
  process.exit(exitCodeOf(err));
}
