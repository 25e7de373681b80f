import path from 'node:path';
import { PipeError } from '../../src/errors.js';

/** `unix:/abs/path.sock` (also `unix:///abs/path.sock`) → `/abs/path.sock`. */
export function socketPathOf(url: string): string {
  if (!url.startsWith('unix:')) throw new PipeError('USAGE', `not a unix: pipe URL: ${url}`);
  let p = url.slice('unix:'.length);
  if (p.startsWith('//')) p = p.slice(2);
  if (p.length === 0) throw new PipeError('USAGE', 'unix: pipe URL has no socket path (expected unix:/abs/path.sock)');
  if (!path.isAbsolute(p)) throw new PipeError('USAGE', `unix socket path must be absolute: ${JSON.stringify(p)} (expected unix:/abs/path.sock)`);
  if (p.includes('\0')) throw new PipeError('USAGE', 'unix socket path contains a NUL byte');
  // sockaddr_un.sun_path is 108 bytes on Linux, NUL included.
  if (Buffer.byteLength(p) > 107) throw new PipeError('USAGE', `unix socket path is longer than 107 bytes: ${p}`);
  return path.normalize(p);
}
