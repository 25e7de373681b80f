import net from 'node:net';
import { packValue } from '../../src/envelope/codec.js';
import { encodeEnvelope } from '../../src/envelope/codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { encodeFrame, FrameDecoder } from '../../src/envelope/frame.js';
import { encodeHello, Kind, type Hello } from '../../src/hub/hub-protocol.js';

/** A hand-driven client of the Unix protocol, for tests that must misbehave. */
export class RawUnixClient {
  readonly frames: { kind: number; body: Buffer }[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.decoder.push(c, (kind, body) => this.frames.push({ kind, body: Buffer.from(body) })));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static connect(file: string): Promise<RawUnixClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(file, () => resolve(new RawUnixClient(s)));
      s.once('error', reject);
    });
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  hello(h: Partial<Hello> = {}): void {
    this.write(encodeHello({ v: 1, origin: 'raw-client', listen: false, ...h }));
  }

  sendEnvelopes(envs: Envelope[]): void {
    for (const e of envs) this.write(encodeFrame(Kind.Update, encodeEnvelope(e)));
  }

  count(kind: number): number {
    return this.frames.filter((f) => f.kind === kind).length;
  }

  end(): Promise<void> {
    return new Promise((r) => {
      if (this.closed) return r();
      this.socket.once('close', () => r());
      this.socket.end();
    });
  }
}

export const helloFrame = (h: Partial<Hello> = {}): Buffer => encodeHello({ v: 1, origin: 'raw-client', listen: false, ...h });
export const updateFrame = (value: unknown): Buffer => encodeFrame(Kind.Update, packValue(value));

/** Every kind of bad stream a Unix-socket peer can send. */
export function unixBadInputs(): { name: string; bytes: Buffer }[] {
  const hello = helloFrame({ origin: 'bad-peer' });
  const okUpdate = { type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 1, flags: [] };
  const truncated = updateFrame({ v: 1, origin: 'bad-peer', seq: 1, ts: 1, update: okUpdate }).subarray(0, 20);
  const deepBytes = Buffer.alloc(200_001, 0x91); // fixarray(1) nested 200k deep
  deepBytes[200_000] = 0x01;
  const lenHeader = (len: number, kind = Kind.Update): Buffer => {
    const b = Buffer.alloc(5);
    b.writeUInt32BE(len, 0);
    b[4] = kind;
    return b;
  };
  return [
    { name: 'random bytes before HELLO', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n') },
    { name: 'update before HELLO', bytes: updateFrame({ v: 1, origin: 'x', seq: 1, ts: 1, update: okUpdate }) },
    { name: 'wrong protocol version', bytes: encodeFrame(Kind.Hello, packValue({ v: 99, origin: 'x', listen: true })) },
    { name: 'truncated frame', bytes: Buffer.concat([hello, truncated]) },
    { name: 'length prefix over the cap', bytes: Buffer.concat([hello, lenHeader(0xffffffff), Buffer.alloc(100)]) },
    { name: 'zero-length frame', bytes: Buffer.concat([hello, Buffer.alloc(4)]) },
    { name: 'unknown frame kind', bytes: Buffer.concat([hello, encodeFrame(42, Buffer.from([0xc0]))]) },
    { name: 'not msgpack', bytes: Buffer.concat([hello, encodeFrame(Kind.Update, Buffer.from([0xc1, 0xc1, 0xc1]))]) },
    { name: 'msgpack of the wrong shape', bytes: Buffer.concat([hello, updateFrame([1, 2, 3])]) },
    { name: 'wrong envelope version', bytes: Buffer.concat([hello, updateFrame({ v: 2, origin: 'bad-peer', seq: 1, ts: 1, update: okUpdate })]) },
    { name: 'invalid update (uid 0)', bytes: Buffer.concat([hello, updateFrame({ v: 1, origin: 'bad-peer', seq: 1, ts: 1, update: { ...okUpdate, uid: 0 } })]) },
    { name: 'hostile nesting depth', bytes: Buffer.concat([hello, encodeFrame(Kind.Update, deepBytes)]) },
    { name: '__proto__ key', bytes: Buffer.concat([hello, encodeFrame(Kind.Update, Buffer.from('81a95f5f70726f746f5f5f81a16101', 'hex'))]) },
  ];
}
