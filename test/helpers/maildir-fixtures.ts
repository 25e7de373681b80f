import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PipeError, type ErrorCode } from '../../src/errors.js';
import { MaildirStore, type MaildirStoreOptions } from '../../src/maildir/index.js';

export const USER = 'alice';

/** A store on a fresh temp root with USER's INBOX created; the root is removed afterwards. */
export async function withStore<T>(fn: (store: MaildirStore, root: string) => Promise<T>, options?: MaildirStoreOptions): Promise<T> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'updatepipe-maildir-'));
  try {
    const store = new MaildirStore(root, options);
    await store.ensureUser(USER);
    return await fn(store, root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export function isPipeErrorWith(code: ErrorCode, pattern?: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof PipeError && e.code === code && (pattern === undefined || pattern.test(e.message));
}

export function message(subject: string): Buffer {
  return Buffer.from(`Subject: ${subject}\r\n\r\nbody of ${subject}\r\n`);
}

export function subjectOf(content: Buffer): string {
  return /^Subject: (.*)\r\n/.exec(content.toString('utf8'))?.[1] ?? '';
}

/** What another delivery agent (or an append that crashed after its rename) leaves behind. */
export async function dropIntoNew(root: string, user: string, name: string, subject: string): Promise<string> {
  const file = path.join(root, user, 'new', name);
  await writeFile(file, message(subject));
  return file;
}

export function sortedLower(flags: readonly string[]): string[] {
  return flags.map((f) => f.toLowerCase()).sort();
}
