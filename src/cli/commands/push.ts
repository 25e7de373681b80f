import { PipeError } from '../../errors.js';
import { openPipe } from '../../pipe/open-pipe.js';
import type { Update } from '../../update/update.js';
import { readLines } from '../json-lines.js';
import { parseUpdateJson } from '../update-json.js';

export interface PushOptions {
  pipe: string;
  verbose: boolean;
}

/** Pushes not yet accepted at once; bounds memory on a bulk push from stdin. */
const WINDOW = 8192;
const MAX_LINE = 1024 * 1024;

export async function pushCommand(args: string[], o: PushOptions): Promise<void> {
  // Arguments are all checked before anything is sent: a typo must not half-apply.
  const fromArgs: Update[] = args.map((a, i) => parseUpdateJson(a, `argument ${i + 1}`));
  const pipe = await openPipe(o.pipe);
  let failure: unknown = null;
  try {
    await pipe.initPush();
    if (fromArgs.length > 0) {
      await Promise.all(fromArgs.map((u) => pipe.push(u)));
      return;
    }
    if (process.stdin.isTTY) process.stderr.write('updatepipe: reading JSON updates from stdin, one per line (Ctrl-D ends)\n');
    const started = Date.now();
    let count = 0;
    // A rolling window: wait for the oldest push once WINDOW are unanswered.
    const inFlight: (Promise<void> | undefined)[] = new Array(WINDOW);
    let lastProgress = started;
    for await (const { line, no } of readLines(process.stdin, MAX_LINE)) {
      if (line.trim() === '') continue;
      const slot = count % WINDOW;
      const oldest = inFlight[slot];
      if (oldest) await oldest;
      if (failure) throw failure;
      const p = pipe.push(parseUpdateJson(line, `line ${no}`));
      p.catch((err: unknown) => {
        failure ??= err;
      });
      inFlight[slot] = p;
      count++;
      if (o.verbose && (count & 0x3fff) === 0 && Date.now() - lastProgress > 1000) {
        lastProgress = Date.now();
        process.stderr.write(`updatepipe: pushed ${count} updates…\n`);
      }
    }
    await Promise.all(inFlight.filter(Boolean));
    if (failure) throw failure;
    const secs = (Date.now() - started) / 1000;
    if (count > 1 || o.verbose) {
      process.stderr.write(`updatepipe: pushed ${count} updates in ${secs.toFixed(2)} s (${Math.round(count / Math.max(secs, 0.001))}/s)\n`);
    }
  } catch (err) {
    throw err instanceof Error ? err : new PipeError('INTERNAL', String(err));
  } finally {
    await pipe.close().catch(() => {});
  }
}
