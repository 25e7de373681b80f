import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findBinary, freePort, waitPort } from '../../src/bench/services.js';

export const DOVECOT_USER = 'alice';
export const DOVECOT_PASSWORD = 'secret';

/** The dovecot binary (Debian: /usr/sbin/dovecot), or null. */
export const dovecotBinary = (): string | null => findBinary('dovecot');

/** "2.3.19.1 (9b53102964)" */
export function dovecotVersion(): string {
  return spawnSync(dovecotBinary()!, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

/**
 * A private Dovecot on a free loopback port: its own config, base and state directories, a
 * passwd-file with one user and a Maildir in a temp dir. No system service is touched.
 * Started as root, mail runs as `nobody` (Dovecot refuses uid 0 for mail); otherwise
 * everything runs as the calling user.
 */
export class PrivateDovecot {
  child!: ChildProcess;
  port = 0;
  dir = '';
  log = '';

  static async start(): Promise<PrivateDovecot> {
    const bin = dovecotBinary();
    if (!bin) throw new Error('dovecot is not installed (apt-get install -y dovecot-imapd)');
    const d = new PrivateDovecot();
    d.dir = await mkdtemp(path.join(os.tmpdir(), 'up-dovecot-'));
    d.port = await freePort();
    const root = process.getuid?.() === 0;
    const uid = root ? 65534 : process.getuid!();
    const gid = root ? 65534 : process.getgid!();
    const home = path.join(d.dir, 'home', DOVECOT_USER);
    for (const sub of ['base', 'state', 'home']) await mkdir(path.join(d.dir, sub), { recursive: true });
    await mkdir(home);
    if (root) {
      await chown(home, uid, gid);
      await chmod(d.dir, 0o755);
    }
    const me = os.userInfo().username;
    await writeFile(path.join(d.dir, 'passwd'), `${DOVECOT_USER}:{PLAIN}${DOVECOT_PASSWORD}:${uid}:${gid}::${home}\n`);
    const conf = [
      'protocols = imap',
      'listen = 127.0.0.1',
      `base_dir = ${d.dir}/base`,
      `state_dir = ${d.dir}/state`,
      `log_path = ${d.dir}/dovecot.log`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain',
      'mail_location = maildir:~/Maildir',
      // A failed login answers at once, as serve-imap's does (the default waits 2 s).
      'auth_failure_delay = 0',
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${d.dir}/passwd\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${d.dir}/passwd\n}`,
      // serve-imap's namespace: one personal namespace, "/" as the hierarchy delimiter.
      'namespace inbox {\n  inbox = yes\n  separator = /\n  prefix =\n}',
      `service imap-login {\n  inet_listener imap {\n    port = ${d.port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n${root ? '' : '  chroot =\n'}}`,
      'service stats {\n  unix_listener stats-writer {\n    mode = 0666\n  }\n}',
      ...(root ? [] : [`default_login_user = ${me}`, `default_internal_user = ${me}`, 'service anvil {\n  chroot =\n}']),
      '',
    ].join('\n');
    await writeFile(path.join(d.dir, 'dovecot.conf'), conf);
    d.child = spawn(bin, ['-F', '-c', path.join(d.dir, 'dovecot.conf')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
    d.child.stdout!.on('data', (b: Buffer) => (d.log += b));
    d.child.stderr!.on('data', (b: Buffer) => (d.log += b));
    await waitPort(d.port, d.child, 'dovecot', () => d.log);
    return d;
  }

  async logFile(): Promise<string> {
    return readFile(path.join(this.dir, 'dovecot.log'), 'utf8').catch(() => '');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
