import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PipeError } from '../errors.js';

/**
 * `user:password` lines. A password may be stored hashed as
 * `$scrypt$<salt base64>$<key base64>` (N=16384, r=8, p=1; `updatepipe hash-password`).
 */
export type Credentials = ReadonlyMap<string, string>;

const SCRYPT_PREFIX = '$scrypt$';
const KEYLEN = 32;

export async function loadUsers(file: string): Promise<Credentials> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PipeError('USAGE', `cannot read users file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseUsers(text, file);
}

export function parseUsers(text: string, where = 'users file'): Credentials {
  const users = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new PipeError('BAD_INPUT', `${where} line ${i + 1}: expected user:password`);
    const user = line.slice(0, colon);
    if (users.has(user)) throw new PipeError('BAD_INPUT', `${where} line ${i + 1}: user ${JSON.stringify(user)} listed twice`);
    users.set(user, line.slice(colon + 1));
  });
  return users;
}

function scryptKey(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `${SCRYPT_PREFIX}${salt.toString('base64')}$${(await scryptKey(password, salt)).toString('base64')}`;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time check; an unknown user costs the same as a wrong password. */
export async function verifyPassword(users: Credentials, user: string, password: string): Promise<boolean> {
  const stored = users.get(user);
  if (stored === undefined) {
    await scryptKey(password, Buffer.alloc(16));
    return false;
  }
  if (stored.startsWith(SCRYPT_PREFIX)) {
    const [saltB64, keyB64] = stored.slice(SCRYPT_PREFIX.length).split('$');
    const want = Buffer.from(keyB64 ?? '', 'base64');
    const got = await scryptKey(password, Buffer.from(saltB64 ?? '', 'base64'));
    return want.length === got.length && timingSafeEqual(want, got);
  }
  return timingSafeEqual(digest(stored), digest(password));
}
