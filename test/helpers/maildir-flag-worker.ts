// Child process for the sync-vs-rename race test: flips \Seen on the messages of one
// mailbox through its own MaildirStore, over and over, until a line arrives on stdin.
import { MaildirStore } from '../../src/maildir/index.js';

const [root, user, mailbox, countText] = process.argv.slice(2);
if (!root || !user || !mailbox || !countText) throw new Error('usage: root user mailbox count');
const store = new MaildirStore(root);
const n = Number(countText);
let stop = false;
process.stdin.on('data', () => (stop = true));
process.stdout.write('go\n');
for (let r = 0; !stop; r++) await store.storeFlags(user, mailbox, [(r % n) + 1, ((r + 11) % n) + 1], r % 2 ? 'add' : 'remove', ['\\Seen']);
process.exit(0);
