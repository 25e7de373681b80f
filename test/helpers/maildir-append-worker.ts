// Child process for the concurrency test: appends `count` messages to one mailbox through
// its own MaildirStore, syncing now and then, and prints the UIDs it was given as JSON.
// It says "ready" and waits for a line on stdin, so all writers start together.
import { createInterface } from 'node:readline';
import { MaildirStore } from '../../src/maildir/index.js';
import { message } from './maildir-fixtures.js';

const [root, user, mailbox, writer, countText] = process.argv.slice(2);
if (!root || !user || !mailbox || !writer || !countText) throw new Error('usage: root user mailbox writer count');

const store = new MaildirStore(root);
process.stdout.write('ready\n');
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));

const uids: number[] = [];
const validities = new Set<number>();
for (let i = 0; i < Number(countText); i++) {
  const r = await store.append(user, mailbox, message(`${writer}-${i}`), i % 2 === 0 ? ['\\Seen'] : undefined);
  uids.push(r.uid);
  validities.add(r.uidValidity);
  if (i % 4 === 3) await store.sync(user, mailbox); // numbers other writers' fresh files
}
process.stdout.write(JSON.stringify({ uids, validities: [...validities] }) + '\n');
process.exit(0);
