// Child process for the modseq crash test: appends, flags and expunges in one mailbox
// through its own MaildirStore, and prints each operation's modseq once the store returned
// it (what a caller would announce), until it is killed.
import { MaildirStore } from '../../src/maildir/index.js';
import { UidSet } from '../../src/update/uid-set.js';
import { message } from './maildir-fixtures.js';

const [root, user] = process.argv.slice(2);
if (!root || !user) throw new Error('usage: root user');
const store = new MaildirStore(root);
process.stdout.write('go\n');
for (let i = 0; ; i++) {
  let modseq: number | undefined;
  if (i % 3 === 0) modseq = (await store.append(user, 'INBOX', message(`m${i}`))).modseq;
  else {
    const uids = (await store.sync(user, 'INBOX')).messages.map((m) => m.uid);
    if (uids.length === 0) continue;
    const uid = uids[i % uids.length]!;
    if (i % 3 === 1) modseq = (await store.storeFlags(user, 'INBOX', [uid], i % 2 ? 'add' : 'remove', ['\\Seen']))[0]?.modseq;
    else if (uids.length > 5) modseq = (await store.expunge(user, 'INBOX', UidSet.of(uid))).modseq;
  }
  if (modseq !== undefined) process.stdout.write(`${modseq}\n`);
}
