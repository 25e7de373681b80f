/**
 * Every failure the library reports carries a stable code. The CLI maps codes to exit
 * codes (SPEC §6), so callers can script against them.
 */
export type ErrorCode =
  | 'INTERNAL'
  | 'USAGE'
  | 'BAD_INPUT'
  | 'BAD_FRAME'
  | 'NO_LISTENER'
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'REFUSED'
  | 'AUTH'
  | 'CLOSED';

const EXIT_CODES: Record<ErrorCode, number> = {
  INTERNAL: 1,
  CLOSED: 1,
  USAGE: 2,
  BAD_INPUT: 2,
  BAD_FRAME: 2,
  NO_LISTENER: 3,
  UNREACHABLE: 4,
  TIMEOUT: 4,
  // The transport is up but will not take the update (a JetStream stream at its limits).
  REFUSED: 4,
  AUTH: 5,
};

/**
 * Marks PipeErrors so `instanceof PipeError` holds across copies of this module: the CLI's
 * bundled push path and the backends it loads lazily each carry their own.
 */
const BRAND = Symbol.for('imap-updatepipe.PipeError');

export class PipeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipeError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](x: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
    return this === PipeError && typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** A rejected update: `field` names the part of the input that is wrong. */
export class ValidationError extends PipeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('BAD_INPUT', `${field}: ${message}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof PipeError) return EXIT_CODES[err.code];
  return 1;
}

export function isPipeError(err: unknown, code?: ErrorCode): err is PipeError {
  return err instanceof PipeError && (code === undefined || err.code === code);
}

/**
 * An untrusted value for an error message: JSON where it can be, cut to `max` characters.
 * Never throws: a decoded frame may hold a BigInt or another extension type.
 */
export function show(value: unknown, max = 40): string {
  let text: string;
  try {
    text = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
