import { PipeError } from '../errors.js';

/** A token file's first token becomes $UPDATEPIPE_TOKEN for this process (never argv). */
export async function useTokenFile(file: string | undefined): Promise<void> {
  if (!file) return;
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PipeError('USAGE', `cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!token) throw new PipeError('USAGE', `token file ${file} has no token`);
  process.env['UPDATEPIPE_TOKEN'] = token;
}
