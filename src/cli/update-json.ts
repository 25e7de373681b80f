import { PipeError, ValidationError } from '../errors.js';
import type { Meta } from '../pipe/update-pipe.js';
import { validateUpdate, type Update } from '../update/update.js';
import { parseJson } from './json-lines.js';

/** Keys `listen --json` adds beside the update; `push` accepts and ignores them. */
const META_KEYS = ['origin', 'seq', 'ts', 'reason'] as const;

/** One update as the CLI prints it: the canonical update, then its meta fields. */
export function formatUpdateJson(u: Update, meta: Meta): string {
  // Splicing the meta fields into the update's JSON avoids copying the object per line.
  const reason = meta.reason ? `,"reason":${JSON.stringify(meta.reason)}` : '';
  return `${JSON.stringify(u).slice(0, -1)},"origin":${JSON.stringify(meta.origin)},"seq":${meta.seq},"ts":${meta.ts}${reason}}`;
}

/** Parses and validates one update given as JSON text; errors say where and which field. */
export function parseUpdateJson(text: string, where: string): Update {
  const value = parseJson(text, where);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const k of META_KEYS) delete (value as Record<string, unknown>)[k];
  }
  try {
    return validateUpdate(value);
  } catch (err) {
    if (err instanceof ValidationError) throw new PipeError('BAD_INPUT', `${where}: ${err.message}`);
    throw err;
  }
}
