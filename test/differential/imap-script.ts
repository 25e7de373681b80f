import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/differential → test/fixtures/imap-differential (the sources, never compiled). */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../test/fixtures/imap-differential/', import.meta.url));

/** One step of the script: a command to send, or a new connection. */
export type Step = { kind: 'connect' } | { kind: 'command'; text: string; raw: boolean };

/** What one step got back: the command as written in the script, and every byte of the answer. */
export interface Exchange {
  step: number;
  command: string;
  response: Buffer;
}

export function loadMessages(dir = path.join(FIXTURE_DIR, 'messages')): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.eml')) out.set(f.slice(0, -4), readFileSync(path.join(dir, f)));
  return out;
}

export function loadScript(file = path.join(FIXTURE_DIR, 'script.imap')): Step[] {
  const steps: Step[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (line === '@connect') steps.push({ kind: 'connect' });
    else if (line.startsWith('!')) steps.push({ kind: 'command', text: line.slice(1), raw: true });
    else steps.push({ kind: 'command', text: line, raw: false });
  }
  return steps;
}

type Piece = { kind: 'text'; text: string } | { kind: 'literal'; data: Buffer; sync: boolean };

/** Splits a script line at its `{msg:…}`, `{msg!:…}` and `{utf8:…}` placeholders. */
function expand(text: string, messages: Map<string, Buffer>): Piece[] {
  const pieces: Piece[] = [];
  const re = /\{(msg!?|utf8):([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    pieces.push({ kind: 'text', text: text.slice(last, m.index) });
    const kind = m[1]!;
    let data: Buffer;
    if (kind === 'utf8') data = Buffer.from(m[2]!, 'utf8');
    else {
      const msg = messages.get(m[2]!);
      if (!msg) throw new Error(`script names a message that is not in the corpus: ${m[2]}`);
      data = msg;
    }
    pieces.push({ kind: 'literal', data, sync: kind === 'msg!' });
    last = m.index + m[0].length;
  }
  pieces.push({ kind: 'text', text: text.slice(last) });
  return pieces;
}

/**
 * A raw IMAP client that knows just enough of the response grammar to find where an answer
 * ends: line by line, with `{n}` literals skipped over as bytes.
 */
class RawConnection {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number, host: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.socket.write(data);
  }

  /** Waits for more bytes; false once the connection closed with nothing more to read. */
  private async more(timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms; have: ${this.buf.toString('latin1').slice(-300)}`)), timeoutMs);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
    return true;
  }

  /**
   * Reads whole response lines (literals included) until `done(line)` says the answer is
   * complete, or the server closes. `onLine` sees every line as it comes.
   */
  async readUntil(done: (line: string) => boolean, onLine: (line: string) => void = () => {}, timeoutMs = 15_000): Promise<Buffer> {
    const out: Buffer[] = [];
    let line: Buffer[] = [];
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) {
        if (!(await this.more(timeoutMs))) break;
        continue;
      }
      const chunk = this.buf.subarray(0, nl + 1);
      this.buf = this.buf.subarray(nl + 1);
      line.push(chunk);
      const lit = /\{(\d+)\}\r\n$/.exec(chunk.toString('latin1'));
      if (lit) {
        const n = Number(lit[1]);
        while (this.buf.length < n) if (!(await this.more(timeoutMs))) break;
        line.push(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        continue;
      }
      const whole = Buffer.concat(line);
      line = [];
      out.push(whole);
      const text = whole.toString('latin1');
      onLine(text);
      if (done(text)) break;
    }
    if (line.length) out.push(...line);
    return Buffer.concat(out);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Runs the script against the IMAP server on host:port and returns every exchange. Each
 * connection's greeting is recorded as the `@connect` step's answer.
 */
export async function runScript(port: number, host = '127.0.0.1', steps = loadScript(), messages = loadMessages()): Promise<Exchange[]> {
  const out: Exchange[] = [];
  let conn: RawConnection | null = null;
  let tagNo = 0;
  try {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.kind === 'connect') {
        conn?.close();
        conn = await RawConnection.open(port, host);
        // Dovecot's login process may first say it is waiting for its auth process.
        const greeting = await conn.readUntil((l) => !/^\* OK Waiting for/.test(l));
        out.push({ step: i, command: '@connect', response: greeting });
        continue;
      }
      if (!conn) throw new Error('the script must start with @connect');
      const c: RawConnection = conn;
      const tag = `A${String(++tagNo).padStart(3, '0')}`;
      const tagged = (line: string): boolean => line.startsWith(`${tag} `);
      let response: Buffer;
      if (step.raw) {
        c.write(`${step.text}\r\n${tag} NOOP\r\n`);
        response = await c.readUntil(tagged);
      } else {
        const pieces = expand(step.text, messages);
        const isIdle = /^IDLE$/i.test(step.text);
        const answer: Buffer[] = [];
        let line = `${tag} `;
        let refused = false;
        for (const p of pieces) {
          if (p.kind === 'text') {
            line += p.text;
            continue;
          }
          if (p.sync) {
            c.write(`${line}{${p.data.length}}\r\n`);
            // The server either invites the literal ("+") or refuses the command.
            answer.push(await c.readUntil((l) => l.startsWith('+') || (refused = tagged(l))));
            if (refused) break;
            c.write(p.data);
          } else {
            c.write(`${line}{${p.data.length}+}\r\n`);
            c.write(p.data);
          }
          line = '';
        }
        if (!refused) {
          c.write(`${line}\r\n`);
          answer.push(
            await c.readUntil(tagged, (l) => {
              if (isIdle && l.startsWith('+')) c.write('DONE\r\n');
            }),
          );
        }
        response = Buffer.concat(answer);
      }
      out.push({ step: i, command: step.text, response });
    }
  } finally {
    (conn as RawConnection | null)?.close();
  }
  return out;
}
