import { closeSync, openSync, readSync } from 'node:fs';
import { PipeError } from '../../errors.js';
import { MaildirStore } from '../../maildir/maildir-store.js';
import { EarlyAnnouncer } from '../early-announcer.js';
import { UidSet } from '../../update/uid-set.js';
import { validateFlags, validateUpdate, type Flag, type Update } from '../../update/update.js';

export type MailAction = 'add' | 'flags' | 'expunge' | 'create' | 'delete' | 'rename';
export const MAIL_ACTIONS: readonly MailAction[] = ['add', 'flags', 'expunge', 'create', 'delete', 'rename'];

/** What `updatepipe mail ACTION` was given, however it was parsed (commander or the fast path). */
export interface MailArgs extends MailOptions {
  file?: string;
  flags?: string;
  uid?: string;
  set?: string;
  add?: string;
  remove?: string;
  to?: string;
}

/** Checks the action's own arguments, then runs it. */
export async function runMail(action: MailAction, a: MailArgs): Promise<void> {
  switch (action) {
    case 'add':
      return mailAdd(a.file ?? '-', a.flags, a);
    case 'flags': {
      const modes = (['set', 'add', 'remove'] as const).filter((m) => a[m] !== undefined);
      if (modes.length !== 1) throw new PipeError('USAGE', 'give exactly one of --set, --add, --remove');
      if (a.uid === undefined || !/^[1-9]\d{0,9}$/.test(a.uid)) throw new PipeError('USAGE', `--uid: ${JSON.stringify(a.uid)} is not a UID`);
      return mailFlags(a.uid, modes[0]!, a[modes[0]!]!, a);
    }
    case 'expunge':
      if (a.uid === undefined) throw new PipeError('USAGE', '--uid is required');
      return mailExpunge(a.uid, a);
    case 'rename':
      if (a.to === undefined) throw new PipeError('USAGE', '--to is required');
      return mailMailbox('rename', a.to, a);
    default:
      return mailMailbox(action, undefined, a);
  }
}

export interface MailOptions {
  maildir: string;
  user: string;
  mailbox: string;
  pipe: string;
  requireListener: boolean;
}

/** "\\Seen,$Label" → validated flags (the same rules as updates). */
export function parseFlagList(text: string | undefined): Flag[] {
  if (text === undefined || text.trim() === '') return [];
  return validateFlags(text.split(',').map((f) => f.trim()).filter(Boolean));
}

/**
 * Reads the message: synchronously (a stream costs a few thread-pool and event-loop round
 * trips, milliseconds on a busy machine, for what is one or two reads). Stdin that is
 * non-blocking (shared with a parent that made it so) answers EAGAIN: what was read is
 * kept and a stream reads the rest.
 */
function readInput(file: string): Buffer | Promise<Buffer> {
  const chunks: Buffer[] = [];
  let fd: number | undefined;
  try {
    fd = file === '-' ? 0 : openSync(file, 'r');
    for (;;) {
      const buf = Buffer.allocUnsafe(65_536);
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EOF') break; // a console's end of input on some platforms
        if (code === 'EAGAIN' && fd === 0) return readRest(process.stdin, chunks, file);
        throw err;
      }
      if (n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
    }
  } catch (err) {
    throw cannotRead(file, err as NodeJS.ErrnoException);
  } finally {
    if (fd !== undefined && fd !== 0) closeSync(fd);
  }
  return Buffer.concat(chunks);
}

function readRest(stream: NodeJS.ReadableStream, chunks: Buffer[], file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    stream.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', (err: NodeJS.ErrnoException) => reject(cannotRead(file, err)));
  });
}

function cannotRead(file: string, err: NodeJS.ErrnoException): PipeError {
  return new PipeError('USAGE', `cannot read ${file}: ${err.code ?? err.message}`);
}

/**
 * Runs an edit with its pipe connecting meanwhile (see EarlyAnnouncer), then pushes
 * what the edit returns. A failed edit tells nobody anything.
 */
async function editAndAnnounce(o: MailOptions, edit: () => Promise<Update[]>): Promise<void> {
  const announcer = EarlyAnnouncer.start(o.pipe, o.requireListener);
  let updates: Update[];
  try {
    updates = await edit();
  } catch (err) {
    await announcer.abandon();
    throw err;
  }
  await announcer.announce(updates);
}

export async function mailAdd(file: string, flagsText: string | undefined, o: MailOptions): Promise<void> {
  const flags = parseFlagList(flagsText);
  const content = await readInput(file);
  if (content.length === 0) throw new PipeError('BAD_INPUT', `${file === '-' ? 'stdin' : file}: empty message`);
  await editAndAnnounce(o, async () => {
    const store = new MaildirStore(o.maildir);
    await store.ensureUser(o.user);
    const { uid, uidValidity, modseq } = await store.append(o.user, o.mailbox, content, flags);
    process.stdout.write(`${uid}\n`);
    return [{ type: 'exists', user: o.user, mailbox: o.mailbox, uids: String(uid), uidValidity, modseq } as Update];
  });
}

export async function mailFlags(uidText: string, mode: 'set' | 'add' | 'remove', flagsText: string, o: MailOptions): Promise<void> {
  const uid = Number(uidText);
  const flags = parseFlagList(flagsText);
  await editAndAnnounce(o, async () => {
    const store = new MaildirStore(o.maildir);
    const [now] = await store.storeFlags(o.user, o.mailbox, [uid], mode, flags);
    if (now === undefined) throw new PipeError('BAD_INPUT', `uid ${uid} does not exist in mailbox "${o.mailbox}"`);
    // Pushed even when nothing changed: the admin asked, and the same modseq makes receivers drop it.
    return [validateUpdate({ type: 'flags', user: o.user, mailbox: o.mailbox, uid, flags: now.flags, modseq: now.modseq })];
  });
}

export async function mailExpunge(uidText: string, o: MailOptions): Promise<void> {
  const set = UidSet.parse(/^\d+$/.test(uidText) ? [Number(uidText)] : uidText, 'uid');
  await editAndAnnounce(o, async () => {
    const store = new MaildirStore(o.maildir);
    const { uids, modseq } = await store.expunge(o.user, o.mailbox, set);
    if (uids.length === 0) {
      process.stderr.write(`updatepipe: no message with uid ${set.toString()} in ${o.mailbox}\n`);
      return [];
    }
    return [validateUpdate({ type: 'expunge', user: o.user, mailbox: o.mailbox, uids, ...(modseq !== undefined ? { modseq } : {}) })];
  });
}

export async function mailMailbox(op: 'create' | 'delete' | 'rename', to: string | undefined, o: MailOptions): Promise<void> {
  await editAndAnnounce(o, async () => {
    const store = new MaildirStore(o.maildir);
    if (op === 'create') {
      await store.ensureUser(o.user);
      await store.createMailbox(o.user, o.mailbox);
    } else if (op === 'delete') await store.deleteMailbox(o.user, o.mailbox);
    else await store.renameMailbox(o.user, o.mailbox, to!);
    return [validateUpdate({ type: 'mailbox', user: o.user, mailbox: o.mailbox, op, ...(op === 'rename' ? { to } : {}) })];
  });
}
