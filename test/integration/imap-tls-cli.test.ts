import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { CliProcess, runCli } from '../../src/cli/child.js';
import { fingerprintOf, makeCert, type TestCert } from '../helpers/tls-certs.js';
import { waitFor } from '../helpers/wait.js';

let dir = '';
let a: TestCert;
let b: TestCert;
let users = '';

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-imap-tls-cli-'));
  a = makeCert(dir, 'a');
  b = makeCert(dir, 'b');
  users = path.join(dir, 'users');
  await writeFile(users, 'alice:secret\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const serve = (...extra: string[]): string[] => ['serve-imap', '--maildir', path.join(dir, 'mail'), '--listen', '127.0.0.1:0', '--no-pipe', '--users', users, ...extra];

test('serve-imap TLS options: wrong combinations and unusable files are usage errors (exit 2) that say why', async () => {
  const cases: [string[], RegExp][] = [
    [['--listen-tls', '127.0.0.1:0'], /--listen-tls needs --tls-cert and --tls-key/],
    [['--tls-cert', a.cert], /--tls-cert and --tls-key go together/],
    [['--allow-plaintext'], /--allow-plaintext only makes sense/],
    [['--tls-cert', path.join(dir, 'missing.crt'), '--tls-key', a.key], /cannot read the TLS certificate .*missing\.crt: ENOENT/],
    [['--tls-cert', users, '--tls-key', a.key], /unusable TLS certificate/],
    [['--tls-cert', a.cert, '--tls-key', b.key], /unusable TLS certificate/],
    [['--tls-cert', a.cert, '--tls-key', a.key, '--listen-tls', 'nonsense'], /--listen-tls: expected HOST:PORT/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(serve(...args));
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

function peerFingerprint(port: number, ca: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ port, host: '127.0.0.1', ca }, () => {
      resolve(fingerprintOf(t.getPeerCertificate().raw));
      t.destroy();
    });
    t.once('error', reject);
  });
}

/** The certificate STARTTLS on the plain port presents. */
function starttlsFingerprint(port: number, ca: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (/^\* OK[^\n]*\n$/.test(text)) s.write('s1 STARTTLS\r\n');
      if (/s1 OK[^\n]*\n/.test(text)) {
        s.removeAllListeners('data');
        const t = tls.connect({ socket: s, ca }, () => {
          resolve(fingerprintOf(t.getPeerCertificate().raw));
          t.destroy();
        });
        t.once('error', reject);
      }
    });
  });
}

test('SIGHUP reloads the certificate for new connections; a bad one on disk keeps the old in use', async () => {
  const cert = path.join(dir, 'live.crt');
  const key = path.join(dir, 'live.key');
  await copyFile(a.cert, cert);
  await copyFile(a.key, key);
  const p = new CliProcess(serve('--tls-cert', cert, '--tls-key', key, '--listen-tls', '127.0.0.1:0'));
  try {
    await p.waitStderr('ready');
    const plainPort = Number(/IMAP on 127\.0\.0\.1:(\d+), STARTTLS required for login/.exec(p.stderr)![1]);
    const tlsPort = Number(/IMAPS on 127\.0\.0\.1:(\d+)/.exec(p.stderr)![1]);
    const both = [a.pem, b.pem];
    assert.equal(await peerFingerprint(tlsPort, both), a.fingerprint);
    assert.equal(await starttlsFingerprint(plainPort, both), a.fingerprint);

    await copyFile(b.cert, cert);
    await copyFile(b.key, key);
    p.child.kill('SIGHUP');
    await p.waitStderr('TLS certificate reloaded');
    assert.equal(await peerFingerprint(tlsPort, both), b.fingerprint, 'implicit TLS uses the new certificate');
    assert.equal(await starttlsFingerprint(plainPort, both), b.fingerprint, 'so does STARTTLS');

    await writeFile(cert, 'not a certificate\n');
    p.child.kill('SIGHUP');
    await p.waitStderr('reload failed');
    assert.equal(await peerFingerprint(tlsPort, both), b.fingerprint, 'the last good certificate stays');
    assert.equal(p.child.exitCode, null, 'still serving');
  } finally {
    await p.kill('SIGTERM');
  }
  await waitFor(() => p.child.exitCode !== null || p.child.signalCode !== null, 'serve-imap to exit');
});
