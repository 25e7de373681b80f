import { hostname } from 'node:os';
import { randomBytes } from '../random-bytes.js';

let sequence = 0;

/** The host part of a Maildir name may not contain "/" or ":" (escaped as the spec says). */
function safeHostname(): string {
  const escaped = hostname()
    .replace(/\//g, '\\057')
    .replace(/:/g, '\\072')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0020\u007f]/g, '');
  return escaped.slice(0, 64) || 'localhost';
}

/**
 * A delivery name in the usual `time.M<usec>P<pid>Q<n>R<random>.host` shape: time, pid
 * and a per-process counter make it unique on one host, the random part covers pid reuse
 * and clock steps, the host part covers shared storage.
 */
export function uniqueMaildirName(now = Date.now()): string {
  const seconds = Math.floor(now / 1000);
  const micros = (now % 1000) * 1000;
  sequence = (sequence + 1) % 1_000_000_000;
  return `${seconds}.M${micros}P${process.pid}Q${sequence}R${randomBytes(4).toString('hex')}.${safeHostname()}`;
}
