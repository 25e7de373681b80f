import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCert {
  cert: string;
  key: string;
  /** The PEM text, to trust it as a CA in clients. */
  pem: string;
  fingerprint: string;
}

/**
 * A fresh self-signed certificate for 127.0.0.1 and localhost (P-256: quick to make), written
 * as `<name>.crt` and `<name>.key` into `dir`. Made at test time with the openssl tool.
 */
export function makeCert(dir: string, name = 'server', cn = '127.0.0.1'): TestCert {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1,DNS:localhost'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl could not make a test certificate: ${r.error?.message ?? r.stderr}`);
  const pem = readFileSync(cert, 'utf8');
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

/** SHA-256 fingerprint in X509Certificate's format, of a DER certificate a peer sent. */
export function fingerprintOf(der: Buffer): string {
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}
