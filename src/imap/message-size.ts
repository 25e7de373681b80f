import path from 'node:path';
import type { MessageInfo } from '../maildir/maildir-store.js';
import { crlfSize } from './mime.js';

const MAX_ENTRIES = 200_000;

/**
 * RFC822.SIZE is the size a client receives, with CRLF line ends (RFC 9051 §2.3.4), which
 * for a Maildir file an MDA wrote with bare LFs is more than the file's size. Finding it
 * means reading the file once; message files never change (a flag change renames them,
 * keeping the part of the name before ":2,"), so what was found is kept, bounded.
 */
export class MessageSizes {
  private readonly known = new Map<string, number>();

  private static key(info: MessageInfo): string {
    return `${path.basename(info.file).split(':')[0]}\0${info.size}`;
  }

  /** Learns the size from content already read. */
  fromContent(info: MessageInfo, raw: Buffer): number {
    const size = crlfSize(raw);
    this.remember(MessageSizes.key(info), size);
    return size;
  }

  async of(info: MessageInfo, read: () => Promise<Buffer>): Promise<number> {
    const hit = this.known.get(MessageSizes.key(info));
    if (hit !== undefined) return hit;
    return this.fromContent(info, await read());
  }

  private remember(key: string, size: number): void {
    if (this.known.size >= MAX_ENTRIES) this.known.delete(this.known.keys().next().value!);
    this.known.set(key, size);
  }
}
