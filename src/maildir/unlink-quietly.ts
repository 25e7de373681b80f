import { unlinkSync } from 'node:fs';

/** Removes `file` if it is there: gone already (a sweeper or a racing process took it) is fine. */
export function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone already
  }
}
