import { ValidationError } from '../errors.js';
import { ALL_USERS, type UserName } from '../update/update.js';

// Longer names cannot be a directory name on common filesystems (NAME_MAX).
const MAX_USER_BYTES = 255;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * A user name becomes a directory directly under the store root, so anything that could
 * step outside it or hide it (`..`, `/`, `\`, NUL, a leading dot) is refused outright
 * rather than escaped: user names come from configuration, not from mail.
 */
export function validateUserName(input: unknown): UserName {
  if (typeof input !== 'string') throw new ValidationError('user', 'must be a string');
  if (input.length === 0) throw new ValidationError('user', 'must not be empty');
  if (Buffer.byteLength(input) > MAX_USER_BYTES) throw new ValidationError('user', `longer than ${MAX_USER_BYTES} bytes`);
  if (CONTROL_CHARS.test(input)) throw new ValidationError('user', 'must not contain control characters');
  if (input.includes('/') || input.includes('\\')) throw new ValidationError('user', 'must not contain "/" or "\\"');
  if (input.startsWith('.')) throw new ValidationError('user', 'must not start with "."');
  if (!input.isWellFormed()) throw new ValidationError('user', 'is not well-formed Unicode');
  if (input === ALL_USERS) throw new ValidationError('user', `"${ALL_USERS}" is reserved for whole-pipe resync`);
  return input;
}
