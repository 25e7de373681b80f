import { PipeError } from '../errors.js';

/**
 * Queues callers in this process per key, so concurrent calls on one store take turns
 * without each polling the lock file; the lock file then only arbitrates between
 * processes. A caller that gives up waiting still hands its turn on in order.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** The turn at once, or null if another caller has it or is queued for it. */
  tryAcquire(key: string): (() => void) | null {
    if (this.tails.has(key)) return null;
    let done!: () => void;
    const tail = new Promise<void>((resolve) => (done = resolve));
    this.tails.set(key, tail);
    return () => {
      done();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }

  async acquire(key: string, timeoutMs: number): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    const release = (): void => {
      done();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      if ((await Promise.race([previous.then(() => 'ready' as const), timedOut])) === 'timeout') {
        void previous.then(release);
        throw new PipeError('TIMEOUT', `gave up after ${timeoutMs} ms waiting for another call in this process to release ${key}`);
      }
    } finally {
      clearTimeout(timer);
    }
    return release;
  }
}
