import type { Readable } from 'node:stream';
import { PipeError } from '../errors.js';

/**
 * Yields the lines of a stream without ever holding more than one line (capped) in
 * memory, so a bulk push of millions of updates streams and a garbage stream without
 * newlines fails cleanly instead of growing without end.
 */
export async function* readLines(input: Readable, maxLine: number): AsyncGenerator<{ line: string; no: number }> {
  let carry = '';
  let no = 0;
  input.setEncoding('utf8');
  for await (const chunk of input as AsyncIterable<string>) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      const line = carry + chunk.slice(start, nl);
      carry = '';
      start = nl + 1;
      no++;
      if (line.length > maxLine) throw new PipeError('BAD_INPUT', `line ${no}: longer than ${maxLine} characters`);
      yield { line, no };
    }
    carry += chunk.slice(start);
    if (carry.length > maxLine) throw new PipeError('BAD_INPUT', `line ${no + 1}: longer than ${maxLine} characters`);
  }
  if (carry.length > 0) yield { line: carry, no: no + 1 };
}

/** Parses one JSON value; the error names where it came from. */
export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message.replace(/\s+/g, ' ').slice(0, 120);
    throw new PipeError('BAD_INPUT', `${where}: not valid JSON (${msg})`);
  }
}
