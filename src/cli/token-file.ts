import { readFileSync } from 'node:fs';
import { PipeError } from '../errors.js';

/** A token file's first token becomes $UPDATEPIPE_TOKEN for this process (never argv). */
export async function useTokenFile(file: string | undefined): Promise<void> {
  if (!file) return;
  let text: string;
  try {
    // Static and synchronous: a few bytes, and the CommonJS bundle run from a code cache has no import().
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PipeError('USAGE', `cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!token) throw new PipeError('USAGE', `token file ${file} has no token`);
  process.env['UPDATEPIPE_TOKEN'] = token;
}
