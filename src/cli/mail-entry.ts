import { defaultPipeUrl } from '../pipe/default-url.js';
import { MAIL_ACTIONS, runMail, type MailAction, type MailArgs } from './commands/mail.js';

/** Options that take a value, by their `MailArgs` key. */
const VALUED: Readonly<Record<string, keyof MailArgs>> = {
  '--maildir': 'maildir',
  '--user': 'user',
  '--mailbox': 'mailbox',
  '--pipe': 'pipe',
  '--flags': 'flags',
  '--uid': 'uid',
  '--set': 'set',
  '--add': 'add',
  '--remove': 'remove',
  '--to': 'to',
};

/** Which options each action takes beyond the common ones, and whether it names a mailbox by default. */
const OWN: Readonly<Record<MailAction, readonly string[]>> = {
  add: ['--flags'],
  flags: ['--uid', '--set', '--add', '--remove'],
  expunge: ['--uid'],
  create: [],
  delete: [],
  rename: ['--to'],
};
const COMMON = ['--maildir', '--user', '--mailbox', '--pipe'];
const MAILBOX_REQUIRED: readonly MailAction[] = ['create', 'delete', 'rename'];

/**
 * The well-formed `updatepipe mail ACTION …` lines, parsed without commander; null sends
 * anything else (help, unknown or repeated options, missing required ones) the full way,
 * where commander explains what is wrong.
 */
export function parseFastMail(argv: readonly string[]): { action: MailAction; args: MailArgs } | null {
  const action = argv[1] as MailAction;
  if (argv[0] !== 'mail' || !MAIL_ACTIONS.includes(action)) return null;
  const given: Partial<Record<keyof MailArgs, string>> = {};
  const positional: string[] = [];
  let requireListener = false;
  for (let i = 2; i < argv.length; i++) {
    let a = argv[i]!;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (a === '--require-listener' && value === undefined) requireListener = true;
    else if (a in VALUED && (COMMON.includes(a) || OWN[action].includes(a))) {
      value ??= argv[++i];
      const key = VALUED[a]!;
      if (value === undefined || given[key] !== undefined) return null;
      given[key] = value;
    } else if (a === '-' || !a.startsWith('-')) positional.push(a);
    else return null;
  }
  if (positional.length !== (action === 'add' ? 1 : 0)) return null;
  if (given.maildir === undefined || given.user === undefined) return null;
  if (given.mailbox === undefined && MAILBOX_REQUIRED.includes(action)) return null;
  if ((action === 'expunge' || action === 'flags') && given.uid === undefined) return null;
  if (action === 'rename' && given.to === undefined) return null;
  const args: MailArgs = { ...given, maildir: given.maildir, user: given.user, mailbox: given.mailbox ?? 'INBOX', pipe: given.pipe ?? defaultPipeUrl(), requireListener };
  if (action === 'add') args.file = positional[0]!;
  return { action, args };
}

/**
 * Runs `mail` if `argv` is one of its well-formed lines; false if commander must parse it.
 * Offline edits are scripted per message, so like `push` they start from a one-file bundle.
 */
export async function fastMail(argv: readonly string[]): Promise<boolean> {
  const parsed = parseFastMail(argv);
  if (parsed === null) return false;
  await runMail(parsed.action, parsed.args);
  return true;
}
