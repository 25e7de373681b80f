import { defaultPipeUrl } from '../pipe/default-url.js';
import { pushCommand } from './commands/push.js';
import { useTokenFile } from './token-file.js';

interface FastPushArgs {
  pipe?: string;
  tokenFile?: string;
  verbose: boolean;
  updates: string[];
}

/** The common forms of `push`, parsed without commander; null sends anything else (help, unknown options) the full way. */
export function parseFastPush(argv: string[]): FastPushArgs | null {
  if (argv[0] !== 'push') return null;
  const o: FastPushArgs = { verbose: false, updates: [] };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--pipe' || a === '--token-file') {
      const v = argv[++i];
      if (v === undefined) return null;
      if (a === '--pipe') o.pipe = v;
      else o.tokenFile = v;
    } else if (a.startsWith('--pipe=')) o.pipe = a.slice(7);
    else if (a === '-v' || a === '--verbose') o.verbose = true;
    else if (a === '--') o.updates.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a.startsWith('-')) return null;
    else o.updates.push(a);
  }
  return o;
}

/** Runs `push` if `argv` is one of its common forms; false if commander must parse it. */
export async function fastPush(argv: string[]): Promise<boolean> {
  const o = parseFastPush(argv);
  if (!o) return false;
  if (o.tokenFile) await useTokenFile(o.tokenFile);
  await pushCommand(o.updates, { pipe: o.pipe ?? defaultPipeUrl(), verbose: o.verbose });
  return true;
}
