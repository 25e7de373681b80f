import os from 'node:os';
import path from 'node:path';

/** SPEC §5: $UPDATEPIPE_URL, else the per-user runtime dir, else a per-uid dir in the temp dir. */
export function defaultPipeUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env['UPDATEPIPE_URL']) return env['UPDATEPIPE_URL'];
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime && path.isAbsolute(runtime)) return `unix:${path.join(runtime, 'updatepipe', 'updates.sock')}`;
  const uid = typeof process.getuid === 'function' ? process.getuid() : os.userInfo().uid;
  return `unix:/tmp/updatepipe-${uid}/updates.sock`;
}
