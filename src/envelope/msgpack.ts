import { PipeError } from '../errors.js';

/**
 * The msgpack subset envelopes use (nil, booleans, numbers, strings, binary, arrays,
 * string-keyed maps), written for this job: encoding goes straight into one reused buffer
 * with room for a frame header, and decoding enforces our limits as it reads. Generic
 * libraries spend most of a small message's time on set-up and copies; this path is hot.
 * Wire format is plain msgpack: any msgpack library reads and writes it.
 */

export interface UnpackLimits {
  maxStr: number;
  maxBin: number;
  maxArray: number;
  maxMap: number;
  maxDepth: number;
}

export const DEFAULT_LIMITS: UnpackLimits = { maxStr: 1 << 20, maxBin: 1 << 20, maxArray: 1_000_000, maxMap: 64, maxDepth: 32 };

// ---- encoding ----

let out = Buffer.allocUnsafe(4096);
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= out.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + n));
  out.copy(bigger, 0, 0, pos);
  out = bigger;
}

export function writeHeader(n: number, fix: number, fixMax: number, op16: number): void {
  ensure(5);
  if (n <= fixMax) out[pos++] = fix | n;
  else if (n < 0x10000) {
    out[pos++] = op16;
    out.writeUInt16BE(n, pos);
    pos += 2;
  } else {
    out[pos++] = op16 + 1;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
}

export function writeString(s: string): void {
  const n = s.length;
  let ascii = n < 64;
  for (let i = 0; ascii && i < n; i++) if (s.charCodeAt(i) > 0x7f) ascii = false;
  const bytes = ascii ? n : Buffer.byteLength(s, 'utf8');
  ensure(5 + bytes);
  if (bytes < 32) out[pos++] = 0xa0 | bytes;
  else if (bytes < 0x100) (out[pos++] = 0xd9), (out[pos++] = bytes);
  else writeHeader(bytes, 0xa0, 0, 0xda);
  if (ascii) for (let i = 0; i < n; i++) out[pos++] = s.charCodeAt(i);
  else pos += out.write(s, pos, 'utf8');
}

export function writeNumber(v: number): void {
  ensure(9);
  if (Number.isSafeInteger(v)) {
    if (v >= 0) {
      if (v < 0x80) out[pos++] = v;
      else if (v < 0x100) (out[pos++] = 0xcc), (out[pos++] = v);
      else if (v < 0x10000) (out[pos++] = 0xcd), out.writeUInt16BE(v, pos), (pos += 2);
      else if (v < 0x100000000) (out[pos++] = 0xce), out.writeUInt32BE(v, pos), (pos += 4);
      else (out[pos++] = 0xcf), out.writeUInt32BE(Math.floor(v / 0x100000000), pos), out.writeUInt32BE(v >>> 0, pos + 4), (pos += 8);
      return;
    }
    if (v >= -32) return void (out[pos++] = v & 0xff);
    if (v >= -0x80) return void ((out[pos++] = 0xd0), out.writeInt8(v, pos), (pos += 1));
    if (v >= -0x8000) return void ((out[pos++] = 0xd1), out.writeInt16BE(v, pos), (pos += 2));
    if (v >= -0x80000000) return void ((out[pos++] = 0xd2), out.writeInt32BE(v, pos), (pos += 4));
  }
  out[pos++] = 0xcb;
  out.writeDoubleBE(v, pos);
  pos += 8;
}

export function writeValue(v: unknown, depth: number): void {
  if (depth > DEFAULT_LIMITS.maxDepth) throw new PipeError('BAD_INPUT', 'value nested too deeply to encode');
  switch (typeof v) {
    case 'string':
      return writeString(v);
    case 'number':
      return writeNumber(v);
    case 'boolean':
      ensure(1);
      out[pos++] = v ? 0xc3 : 0xc2;
      return;
    case 'object':
      if (v === null) break;
      if (Array.isArray(v)) {
        writeHeader(v.length, 0x90, 15, 0xdc);
        for (const x of v) writeValue(x, depth + 1);
        return;
      }
      if (v instanceof Uint8Array) {
        ensure(5 + v.length);
        if (v.length < 0x100) (out[pos++] = 0xc4), (out[pos++] = v.length);
        else writeHeader(v.length, 0, -1, 0xc5); // bin16, or bin32 past 64 KiB
        out.set(v, pos);
        pos += v.length;
        return;
      }
      {
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        let n = 0;
        for (const k of keys) if (o[k] !== undefined) n++; // like JSON: undefined means absent
        writeHeader(n, 0x80, 15, 0xde);
        for (const k of keys) {
          const x = o[k];
          if (x === undefined) continue;
          writeString(k);
          writeValue(x, depth + 1);
        }
      }
      return;
    case 'undefined':
      break;
    default:
      throw new PipeError('BAD_INPUT', `cannot encode a ${typeof v}`);
  }
  ensure(1);
  out[pos++] = 0xc0;
}

/** Starts a message: `headerRoom` bytes are left in front for the caller (a frame header). */
export function begin(headerRoom: number): void {
  pos = headerRoom;
  ensure(0);
}

/** The message written since `begin`, in a buffer of its own. */
export function finish(): Buffer {
  const result = Buffer.allocUnsafe(pos); // small sizes come from Node's shared pool
  out.copy(result, 0, 0, pos);
  return result;
}

export const writeMapHeader = (n: number): void => writeHeader(n, 0x80, 15, 0xde);

/** msgpack bytes of `value`, after `headerRoom` bytes left for the caller (a frame header). */
export function pack(value: unknown, headerRoom = 0): Buffer {
  begin(headerRoom);
  writeValue(value, 0);
  return finish();
}

// ---- decoding ----

/**
 * Short strings repeat from message to message (keys, types, user and mailbox names,
 * origins): a small cache returns the same string object instead of building a new one,
 * which saves the allocation and lets V8 reuse internalized keys.
 */
const CACHED_MAX = 32;
const cacheBytes: (Buffer | undefined)[] = new Array(4096);
const cacheStrings: string[] = new Array(4096);

function shortString(b: Buffer, at: number, n: number): string {
  let h = n;
  for (let i = at; i < at + n; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
  const slot = h & 4095;
  const known = cacheBytes[slot];
  if (known !== undefined && known.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (known[i] !== b[at + i]) {
        same = false;
        break;
      }
    }
    if (same) return cacheStrings[slot]!;
  }
  const s = b.toString('utf8', at, at + n);
  cacheBytes[slot] = Buffer.from(b.subarray(at, at + n));
  cacheStrings[slot] = s;
  return s;
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    readonly limits: UnpackLimits,
  ) {
    this.pos = 0;
  }

  fail(why: string): never {
    throw new PipeError('BAD_FRAME', `undecodable msgpack (${why} at byte ${this.pos})`);
  }

  need(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) this.fail('truncated');
    this.pos = at + n;
    return at;
  }

  value(depth: number): unknown {
    const b = this.buf;
    const op = b[this.need(1)]!;
    if (op < 0x80) return op;
    if (op >= 0xe0) return op - 0x100;
    if (op >= 0xa0 && op < 0xc0) return this.str(op & 0x1f);
    if (op >= 0x90 && op < 0xa0) return this.array(op & 0x0f, depth);
    if (op < 0x90) return this.map(op & 0x0f, depth);
    switch (op) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.bin(b[this.need(1)]!);
      case 0xc5: return this.bin(b.readUInt16BE(this.need(2)));
      case 0xc6: return this.bin(b.readUInt32BE(this.need(4)));
      case 0xca: return b.readFloatBE(this.need(4));
      case 0xcb: return b.readDoubleBE(this.need(8));
      case 0xcc: return b[this.need(1)]!;
      case 0xcd: return b.readUInt16BE(this.need(2));
      case 0xce: return b.readUInt32BE(this.need(4));
      case 0xcf: { const at = this.need(8); return b.readUInt32BE(at) * 0x100000000 + b.readUInt32BE(at + 4); }
      case 0xd0: return b.readInt8(this.need(1));
      case 0xd1: return b.readInt16BE(this.need(2));
      case 0xd2: return b.readInt32BE(this.need(4));
      case 0xd3: { const at = this.need(8); return b.readInt32BE(at) * 0x100000000 + b.readUInt32BE(at + 4); }
      case 0xd9: return this.str(b[this.need(1)]!);
      case 0xda: return this.str(b.readUInt16BE(this.need(2)));
      case 0xdb: return this.str(b.readUInt32BE(this.need(4)));
      case 0xdc: return this.array(b.readUInt16BE(this.need(2)), depth);
      case 0xdd: return this.array(b.readUInt32BE(this.need(4)), depth);
      case 0xde: return this.map(b.readUInt16BE(this.need(2)), depth);
      case 0xdf: return this.map(b.readUInt32BE(this.need(4)), depth);
      default: return this.fail(op === 0xc1 ? 'reserved byte 0xc1' : `extension type 0x${op.toString(16)} not accepted`);
    }
  }

  str(n: number): string {
    if (n > this.limits.maxStr) this.fail(`string of ${n} bytes over the limit`);
    const at = this.need(n);
    return n <= CACHED_MAX ? shortString(this.buf, at, n) : this.buf.toString('utf8', at, at + n);
  }

  bin(n: number): Uint8Array {
    if (n > this.limits.maxBin) this.fail(`binary of ${n} bytes over the limit`);
    const at = this.need(n);
    return new Uint8Array(this.buf.subarray(at, at + n)); // a copy, a plain Uint8Array like other decoders give
  }

  array(n: number, depth: number): unknown[] {
    if (n > this.limits.maxArray) this.fail(`array of ${n} items over the limit`);
    if (depth >= this.limits.maxDepth) this.fail('nested too deeply');
    if (n > this.buf.length - this.pos) this.fail('truncated'); // each item takes at least a byte
    const a = new Array<unknown>(n);
    for (let i = 0; i < n; i++) a[i] = this.value(depth + 1);
    return a;
  }

  map(n: number, depth: number): Record<string, unknown> {
    if (n > this.limits.maxMap) this.fail(`map of ${n} entries over the limit`);
    if (depth >= this.limits.maxDepth) this.fail('nested too deeply');
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = this.value(depth + 1);
      if (typeof k !== 'string') this.fail('map key is not a string');
      if (k === '__proto__') this.fail('map key __proto__');
      o[k] = this.value(depth + 1);
    }
    return o;
  }
}

/** Decodes exactly one msgpack value filling `bytes`; anything else is BAD_FRAME. */
export function unpack(bytes: Uint8Array, limits: UnpackLimits = DEFAULT_LIMITS): unknown {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf, limits);
  const v = r.value(0);
  if (r.pos !== buf.length) r.fail(`${buf.length - r.pos} extra bytes`);
  return v;
}
