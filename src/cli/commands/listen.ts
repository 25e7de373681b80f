import { openPipe } from '../../pipe/open-pipe.js';
import type { Meta, PipeStatus } from '../../pipe/update-pipe.js';
import type { Update } from '../../update/update.js';
import { formatUpdateJson } from '../update-json.js';
import { onShutdown } from '../shutdown.js';

export interface ListenOptions {
  pipe: string;
  json: boolean;
  verbose: boolean;
}

function formatHuman(u: Update, meta: Meta): string {
  const t = new Date(meta.ts).toISOString();
  const where = 'mailbox' in u && u.mailbox !== undefined ? `${u.user} ${JSON.stringify(u.mailbox)}` : u.user;
  let what: string;
  switch (u.type) {
    case 'exists':
    case 'expunge':
      what = `${u.type} ${u.uids}`;
      break;
    case 'flags':
      what = `flags uid ${u.uid} (${u.flags.join(' ')})`;
      break;
    case 'mailbox':
      what = `mailbox ${u.op}${u.to !== undefined ? ` -> ${JSON.stringify(u.to)}` : ''}`;
      break;
    case 'resync':
      what = `resync${meta.reason ? ` (${meta.reason})` : ''}`;
      break;
  }
  return `${t} ${where} ${what}`;
}

export async function listenCommand(o: ListenOptions): Promise<void> {
  const pipe = await openPipe(o.pipe);
  const out = process.stdout;
  pipe.on('status', (s: PipeStatus) => {
    if (o.verbose || s.type === 'rejected') process.stderr.write(`updatepipe: ${s.type}: ${s.detail}\n`);
  });
  const format = o.json ? formatUpdateJson : formatHuman;
  // Lines written during one event-loop turn go out in one write.
  let batch: string[] = [];
  let batchChars = 0;
  let drained: Promise<void> | null = null;
  const flush = (): void => {
    const text = batch.join('');
    batch = [];
    batchChars = 0;
    if (!out.write(text)) drained = new Promise<void>((r) => out.once('drain', () => ((drained = null), r())));
  };
  await pipe.listen((u, meta) => {
    const line = format(u, meta) + '\n';
    if (batch.length === 0) setImmediate(flush);
    batch.push(line);
    batchChars += line.length;
    if (batchChars > 256 * 1024) flush();
    // Wait for a slow stdout reader: the pipe's bounded queue turns a long stall into a resync.
    return drained ?? undefined;
  });
  process.stderr.write('ready\n');
  await onShutdown(() => pipe.close());
}
