import { constants as fsc, lstatSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PipeError } from '../../src/errors.js';
import { randomBytes } from '../../src/random-bytes.js';

/** Lock held only while a listener decides whether to replace a dead socket. */
const LOCK_STALE_MS = 5_000;

export type Probe = 'live' | 'absent' | 'stale';

/** Is somebody accepting connections on `file`? */
export function probe(file: string, timeoutMs = 1_000): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const s = net.connect(file);
    const timer = setTimeout(() => {
      s.destroy();
      resolve('live'); // accepting but slow: never steal a socket that might be alive
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('live');
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') resolve('absent');
      else if (err.code === 'ECONNREFUSED') resolve('stale');
      else reject(connectError(file, err));
    });
  });
}

export function connectError(file: string, err: NodeJS.ErrnoException): PipeError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new PipeError('NO_LISTENER', `nobody is listening on unix:${file}`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new PipeError('AUTH', `permission denied on unix:${file} (socket mode 0660: is this user in the socket's group?)`, { cause: err });
    case 'ENOTSOCK':
      return new PipeError('USAGE', `unix:${file} is not a socket`, { cause: err });
    default:
      return new PipeError('UNREACHABLE', `cannot connect to unix:${file}: ${err.code ?? err.message}`, { cause: err });
  }
}

/**
 * The socket path itself must not be a symbolic link: whoever planted it would choose
 * where our updates go (and, for a listener, whose socket it trusts). Absent is fine.
 */
export async function refuseSymlink(file: string): Promise<void> {
  // One lstat, synchronous: a pusher's connect waits for it, and fs.promises alone costs a
  // one-shot CLI ~1.7 ms to load (atomic-file.ts says why small calls are synchronous).
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) throw new PipeError('USAGE', `unix:${file} is a symbolic link; refusing (give the real socket path)`);
}

/**
 * The directory must exist, be a real directory, and not let strangers swap our socket:
 * world-writable is only acceptable with the sticky bit (like /tmp).
 */
export async function checkDirectory(dir: string, create: boolean): Promise<void> {
  let st;
  try {
    st = await fs.lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new PipeError('USAGE', `cannot use socket directory ${dir}: ${(err as Error).message}`);
    if (!create) throw new PipeError('USAGE', `socket directory ${dir} does not exist`);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o750 });
    } catch (e) {
      throw new PipeError('USAGE', `cannot create socket directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    st = await fs.lstat(dir);
  }
  if (st.isSymbolicLink()) throw new PipeError('USAGE', `socket directory ${dir} is a symbolic link; refusing`);
  if (!st.isDirectory()) throw new PipeError('USAGE', `${dir} is not a directory`);
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0 /* sticky */) {
    throw new PipeError('USAGE', `socket directory ${dir} is world-writable without the sticky bit; refusing`);
  }
  try {
    await fs.access(dir, fsc.W_OK | fsc.X_OK);
  } catch {
    throw new PipeError('USAGE', `cannot create a socket in ${dir}: permission denied (pick a path this user can write)`);
  }
}

async function tryLock(lockFile: string): Promise<fs.FileHandle | null> {
  try {
    const fh = await fs.open(lockFile, 'wx', 0o600);
    await fh.writeFile(String(process.pid));
    return fh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Someone holds it; break it only if its holder is gone or it is old.
  try {
    const [text, st] = await Promise.all([fs.readFile(lockFile, 'utf8'), fs.stat(lockFile)]);
    const pid = Number(text);
    let dead = Date.now() - st.mtimeMs > LOCK_STALE_MS;
    if (!dead && Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
      } catch (e) {
        dead = (e as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }
    if (dead) await fs.unlink(lockFile).catch(() => {});
  } catch {
    /* vanished meanwhile: retry later */
  }
  return null;
}

export interface BoundSocket {
  server: net.Server;
  /** Inode of our socket file: tells whether the path still leads to us. */
  ino: number;
}

/**
 * Becomes the socket owner if nobody live holds `file`: binds a private name, sets the mode,
 * then renames it over the path, so no client ever sees our socket with a wider mode, and
 * a stale socket is replaced atomically. Returns null when somebody else owns (or is
 * taking over) the path; the caller then connects to them.
 */
export async function bindSocket(file: string, mode: number, onConnection: (s: net.Socket) => void): Promise<BoundSocket | null> {
  const dir = path.dirname(file);
  const lockFile = `${file}.lock`;
  let lock: fs.FileHandle | null;
  try {
    lock = await tryLock(lockFile);
  } catch (err) {
    throw new PipeError('USAGE', `cannot create ${lockFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!lock) return null;
  try {
    if ((await probe(file)) === 'live') return null;
    try {
      const st = await fs.lstat(file);
      if (!st.isSocket()) throw new PipeError('USAGE', `${file} exists and is not a socket; refusing to replace it`);
    } catch (err) {
      if (err instanceof PipeError) throw err;
    }
    const tmp = path.join(dir, `.up-${randomBytes(4).toString("hex")}`);
    const server = net.createServer({ allowHalfOpen: false }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      await fs.chmod(tmp, mode);
      const { ino } = await fs.stat(tmp);
      await fs.rename(tmp, file);
      return { server, ino };
    } catch (err) {
      server.close();
      throw err;
    }
  } catch (err) {
    if (err instanceof PipeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PipeError('USAGE', `cannot create a socket in ${dir}: permission denied (pick a path this user can write)`);
    }
    throw new PipeError('USAGE', `cannot bind unix:${file}: ${code ?? (err as Error).message}`);
  } finally {
    await lock.close().catch(() => {});
    await fs.unlink(lockFile).catch(() => {});
  }
}

/** Does `file` still lead to the socket with inode `ino`? */
export async function stillOurs(file: string, ino: number): Promise<boolean> {
  try {
    return (await fs.stat(file)).ino === ino;
  } catch {
    return false;
  }
}

/** Removes the socket file if it is still ours (never a successor's). */
export async function unlinkIfOurs(file: string, ino: number): Promise<void> {
  if (await stillOurs(file, ino)) await fs.unlink(file).catch(() => {});
}
