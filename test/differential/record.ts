/**
 * Re-records Dovecot's answers to the differential script (test/fixtures/imap-differential/):
 * starts a private Dovecot, runs script.imap against it, writes dovecot-transcript.json.
 * Needs `apt-get install -y dovecot-imapd` (no system service is used or started).
 *
 *   npx tsc -p . && node dist/test/differential/record.js
 *
 * Afterwards run `node test/run.mjs differential` and review every change in the diff.
 */
import { dovecotVersion, PrivateDovecot } from './dovecot.js';
import { runScript } from './imap-script.js';
import { TRANSCRIPT_FILE, writeTranscript } from './transcript.js';

const dovecot = await PrivateDovecot.start();
try {
  const exchanges = await runScript(dovecot.port);
  writeTranscript({ server: `Dovecot ${dovecotVersion()}`, recorded: new Date().toISOString().slice(0, 10), exchanges });
  process.stdout.write(`recorded ${exchanges.length} exchanges from Dovecot ${dovecotVersion()} into ${TRANSCRIPT_FILE}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).stack}\n--- dovecot log:\n${await dovecot.logFile()}\n`);
  process.exitCode = 1;
} finally {
  await dovecot.stop();
}
