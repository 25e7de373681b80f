import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapServer } from '../../src/imap/server.js';
import { parseUsers } from '../../src/imap/users.js';
import { DOVECOT_PASSWORD, DOVECOT_USER } from './dovecot.js';
import { runScript, type Exchange } from './imap-script.js';

/** Runs the differential script against a fresh serve-imap (in this process, empty Maildir). */
export async function runAgainstServeImap(): Promise<Exchange[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-differential-'));
  const server = new ImapServer({ maildir: path.join(dir, 'mail'), watch: false, users: parseUsers(`${DOVECOT_USER}:${DOVECOT_PASSWORD}\n`), pipe: null });
  try {
    const { port } = await server.listen('127.0.0.1', 0);
    return await runScript(port);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
