import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Random bytes for the ids and names that must not collide (origins, Maildir and temp file
 * names, lock tokens, epochs), from the kernel's generator: /dev/urandom, read a pool at a
 * time. node:crypto's `randomBytes` draws from the same source, but loading node:crypto
 * and seeding its generator cost `updatepipe mail add` 3.5–4 ms of a ~40 ms run (measured
 * in a script that had already loaded `net`), and the CLI's bundles load a built-in only
 * when it is first used (scripts/bundle.mjs). Where there is no /dev/urandom (Windows),
 * node:crypto it is. Secrets (password salts, tokens) still come from node:crypto itself.
 */

const POOL_BYTES = 256;
let pool: Buffer = Buffer.alloc(0);
let used = 0;
let urandom = process.platform !== 'win32';

function fill(n: number): Buffer {
  if (urandom) {
    try {
      const out = Buffer.allocUnsafe(n);
      const fd = openSync('/dev/urandom', 'r');
      try {
        for (let got = 0; got < n; ) {
          const r = readSync(fd, out, got, n - got, null);
          if (r <= 0) throw new Error('/dev/urandom ran dry');
          got += r;
        }
      } finally {
        closeSync(fd);
      }
      return out;
    } catch {
      urandom = false; // a sandbox without /dev: do not try again
    }
  }
  return cryptoRandomBytes(n);
}

/** `n` fresh random bytes, never handed out twice. */
export function randomBytes(n: number): Buffer {
  if (n > POOL_BYTES) return fill(n);
  if (used + n > pool.length) {
    pool = fill(POOL_BYTES);
    used = 0;
  }
  const out = Buffer.from(pool.subarray(used, used + n));
  used += n;
  return out;
}
