/**
 * An MDA's delivery (written to tmp/, renamed into new/) → an imapflow IDLE client's
 * `exists`, on a private Dovecot and on serve-imap, side by side in one run.
 * Usage: node dist/test/bench/dovecot-idle.js [deliveries=30]   (needs dovecot-imapd)
 */
import { chown, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { deliveryToIdle } from '../../src/bench/edit-to-idle.js';
import { median, quantile } from '../../src/bench/stats.js';
import { DOVECOT_PASSWORD, DOVECOT_USER, dovecotVersion, PrivateDovecot } from '../differential/dovecot.js';

const runs = Number(process.argv[2] ?? 30);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function dovecotDeliveries(): Promise<number[]> {
  const d = await PrivateDovecot.start();
  try {
    const flow = new ImapFlow({ host: '127.0.0.1', port: d.port, secure: false, doSTARTTLS: false, logger: false, auth: { user: DOVECOT_USER, pass: DOVECOT_PASSWORD }, autoIdleDelay: 30 });
    let seen = 0;
    flow.on('exists', () => void seen++);
    await flow.connect();
    await flow.mailboxOpen('INBOX');
    await sleep(300);
    const maildir = path.join(d.dir, 'home', DOVECOT_USER, 'Maildir');
    const root = process.getuid?.() === 0;
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const name = `${Math.floor(Date.now() / 1000)}.M${i}P${process.pid}.bench`;
      const tmp = path.join(maildir, 'tmp', name);
      await writeFile(tmp, `Subject: delivery ${i}\r\n\r\nbody\r\n`);
      if (root) await chown(tmp, 65534, 65534); // Dovecot's mail user in PrivateDovecot
      const before = seen;
      const t0 = performance.now();
      await rename(tmp, path.join(maildir, 'new', name));
      while (seen === before && performance.now() - t0 < 10_000) await sleep(1);
      samples.push(performance.now() - t0);
      await sleep(50);
    }
    await flow.logout().catch(() => {});
    return samples;
  } finally {
    await d.stop();
  }
}

const dovecot = await dovecotDeliveries();
const ours = await deliveryToIdle(runs);
const show = (xs: number[]): string => `median ${median(xs).toFixed(1)} ms, p99 ${quantile(xs, 0.99).toFixed(1)} ms, min ${Math.min(...xs).toFixed(1)} ms`;
console.log(`Dovecot ${dovecotVersion()}: ${show(dovecot)}`);
console.log(`serve-imap (its Maildir watcher): ${ours ? `median ${ours.median.toFixed(1)} ms, p99 ${ours.p99.toFixed(1)} ms, min ${ours.min.toFixed(1)} ms` : 'imapflow missing'}`);
