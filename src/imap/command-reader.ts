/**
 * Splits an IMAP client's byte stream into command lines with their literals, with hard
 * caps (RFC 9051 §4.3, RFC 7888): a hostile client can make us hold at most one capped
 * line plus one capped literal.
 */
export type Part = string | Buffer;

export interface ReaderLimits {
  /** Longest line, literals excluded. */
  maxLine: number;
  /** Largest literal for APPEND (the message itself). */
  maxAppendLiteral: number;
  /** Largest literal anywhere else (passwords, search strings). */
  maxLiteral: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = {
  maxLine: 64 * 1024,
  maxAppendLiteral: 64 * 1024 * 1024,
  maxLiteral: 64 * 1024,
};

export type ReaderEvent =
  | { kind: 'command'; parts: Part[] }
  /** A synchronizing literal was announced: the client waits for "+" before sending it. */
  | { kind: 'continue' }
  /** Input broke a limit; `fatal` when the stream position is lost and the connection must go. */
  | { kind: 'error'; message: string; tag: string | null; fatal: boolean };

const LITERAL_AT_END = /\{(\d{1,10})(\+?)\}$/;

export class CommandReader {
  private buf: Buffer = Buffer.alloc(0);
  private parts: Part[] = [];
  private partsBytes = 0;
  /** Bytes still to read into the current literal, or -1 when reading a line. */
  private literalLeft = -1;
  private literalChunks: Buffer[] = [];
  /** Discarding a literal we refused (non-synchronizing, so the client sends it anyway). */
  private discarding = false;

  constructor(
    private readonly emit: (e: ReaderEvent) => void,
    private readonly limits: ReaderLimits = DEFAULT_READER_LIMITS,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.literalLeft >= 0) {
        if (this.literalLeft > 0 && this.buf.length === 0) return;
        const take = Math.min(this.literalLeft, this.buf.length);
        if (!this.discarding) this.literalChunks.push(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.literalLeft -= take;
        if (this.literalLeft > 0) return;
        this.literalLeft = -1;
        if (!this.discarding) {
          const lit = Buffer.concat(this.literalChunks);
          this.literalChunks = [];
          this.parts.push(lit);
        }
        continue;
      }
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) {
        if (this.buf.length > this.limits.maxLine) {
          this.fail('line too long', true);
          return;
        }
        return;
      }
      let line = this.buf.subarray(0, nl);
      this.buf = this.buf.subarray(nl + 1);
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      if (line.length > this.limits.maxLine) {
        this.fail('line too long', false);
        continue;
      }
      this.onLine(line.toString('utf8'));
    }
  }

  private onLine(text: string): void {
    const m = LITERAL_AT_END.exec(text);
    if (this.discarding) {
      // The rest of a refused command: skip it, unless it announces yet another literal.
      if (m) this.literalLeft = Number(m[1]);
      else this.discarding = false;
      return;
    }
    if (!m) {
      this.parts.push(text);
      const parts = this.parts;
      this.parts = [];
      this.partsBytes = 0;
      this.emit({ kind: 'command', parts });
      return;
    }
    const size = Number(m[1]);
    const sync = m[2] !== '+';
    this.parts.push(text.slice(0, m.index));
    this.partsBytes += size + text.length;
    const first = typeof this.parts[0] === 'string' ? this.parts[0] : '';
    const isAppend = /^\S+ (UID )?APPEND /i.test(first);
    const cap = isAppend ? this.limits.maxAppendLiteral : this.limits.maxLiteral;
    if (size > cap || this.partsBytes > this.limits.maxAppendLiteral + this.limits.maxLine) {
      const tag = /^([^\s]+)/.exec(first)?.[1] ?? null;
      this.parts = [];
      this.partsBytes = 0;
      if (sync) {
        // The client waits for our "+": refusing now costs nothing.
        this.emit({ kind: 'error', message: `literal of ${size} bytes is over the ${cap}-byte limit`, tag, fatal: false });
      } else {
        // LITERAL+ data is on its way regardless: read past it, then refuse the command.
        this.discarding = true;
        this.literalLeft = size;
        this.emit({ kind: 'error', message: `literal of ${size} bytes is over the ${cap}-byte limit`, tag, fatal: false });
      }
      return;
    }
    this.literalLeft = size;
    if (sync) this.emit({ kind: 'continue' });
  }

  private fail(message: string, fatal: boolean): void {
    this.parts = [];
    this.partsBytes = 0;
    if (fatal) this.buf = Buffer.alloc(0);
    this.emit({ kind: 'error', message, tag: null, fatal });
  }
}
