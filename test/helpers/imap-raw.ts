import assert from 'node:assert/strict';
import net from 'node:net';
import { waitFor } from './wait.js';

/** A raw IMAP connection: commands as typed, every byte the server sent kept in order. */
export interface RawImap {
  /** Sends one tagged command; resolves with everything up to (and including) its tagged reply. */
  run(command: string): Promise<string>;
  /** Everything the server sent since `from` (an offset into the whole transcript). */
  since(from: number): string;
  /** Length of the transcript so far. */
  readonly length: number;
  /** Waits until the transcript (from `from`) matches. */
  expect(re: RegExp, from?: number): Promise<void>;
  close(): void;
}

export async function rawImap(port: number, login: { user: string; pass: string } | null = { user: 'alice', pass: 'secret' }): Promise<RawImap> {
  const s = net.connect(port, '127.0.0.1');
  let text = '';
  let n = 0;
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  s.on('error', () => {});
  await waitFor(() => text.startsWith('* OK'), 'greeting');
  const c: RawImap = {
    async run(command: string): Promise<string> {
      const tag = `t${++n}`;
      const from = text.length;
      s.write(`${tag} ${command}\r\n`);
      const done = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`);
      await waitFor(() => done.test(text.slice(from)), `the answer to ${command}; got: ${text.slice(from).slice(-300)}`);
      return text.slice(from);
    },
    since: (from) => text.slice(from),
    get length() {
      return text.length;
    },
    expect: (re, from = 0) => waitFor(() => re.test(text.slice(from)), `${re.source}; got: ${text.slice(from).slice(-300)}`),
    close: () => s.destroy(),
  };
  if (login) assert.match(await c.run(`LOGIN ${login.user} ${login.pass}`), /OK/);
  return c;
}
