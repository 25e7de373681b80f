import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURE_DIR, type Exchange } from './imap-script.js';

export const TRANSCRIPT_FILE = path.join(FIXTURE_DIR, 'dovecot-transcript.json');

export interface Transcript {
  server: string;
  recorded: string;
  exchanges: Exchange[];
}

interface StoredExchange {
  step: number;
  command: string;
  /** The answer's bytes as latin1, so 8-bit data and literals survive JSON byte for byte. */
  response: string;
}

/** JSON kept to ASCII (`\u00e9` for byte 0xE9): the file never depends on an editor's encoding. */
const asciiJson = (v: unknown): string => JSON.stringify(v, null, 1).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function writeTranscript(t: Transcript, file = TRANSCRIPT_FILE): void {
  const stored = { server: t.server, recorded: t.recorded, exchanges: t.exchanges.map((e): StoredExchange => ({ step: e.step, command: e.command, response: e.response.toString('latin1') })) };
  writeFileSync(file, asciiJson(stored) + '\n');
}

export function readTranscript(file = TRANSCRIPT_FILE): Transcript {
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { server: string; recorded: string; exchanges: StoredExchange[] };
  return { server: stored.server, recorded: stored.recorded, exchanges: stored.exchanges.map((e) => ({ step: e.step, command: e.command, response: Buffer.from(e.response, 'latin1') })) };
}
