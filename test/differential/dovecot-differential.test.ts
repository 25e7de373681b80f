/**
 * serve-imap against Dovecot 2.3, command by command: the script and corpus in
 * test/fixtures/imap-differential/ run against a fresh serve-imap, and every answer,
 * normalised (normalise.ts says what may differ), must equal Dovecot's recorded answer or
 * an explicitly allowed, reasoned difference (allowed-differences.json). Re-record with
 * `node dist/test/differential/record.js` when Dovecot is installed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALLOWED_FILE, compareTranscripts, describe, readAllowed } from './compare.js';
import { loadMessages, loadScript } from './imap-script.js';
import { runAgainstServeImap } from './serve-imap-run.js';
import { readTranscript } from './transcript.js';

test('the corpus and the script are as large as the issue asks', () => {
  assert.ok(loadMessages().size >= 30, `${loadMessages().size} messages`);
  const commands = loadScript().filter((s) => s.kind === 'command');
  assert.ok(commands.length >= 60, `${commands.length} commands`);
  for (const a of readAllowed()) assert.ok(a.reason.length >= 20, `step ${a.step} (${a.command}) needs a real reason`);
});

test('serve-imap answers the script as Dovecot does, but for the reviewed differences', async () => {
  const dovecot = readTranscript();
  const ours = await runAgainstServeImap();
  const r = compareTranscripts(dovecot.exchanges, ours, readAllowed());
  assert.equal(r.compared, loadScript().length);
  assert.deepEqual(
    r.stale.map((s) => `${s.step}: ${s.command}`),
    [],
    `these allowed differences are gone (the servers agree now): remove them from ${ALLOWED_FILE}`,
  );
  assert.equal(r.unexplained.length, 0, `${r.unexplained.length} differences from ${dovecot.server}:\n${describe(r.unexplained)}`);
});
