import { isPipeError } from '../errors.js';
import { openPipe } from '../pipe/open-pipe.js';
import type { UpdatePipe } from '../pipe/update-pipe.js';
import type { Update } from '../update/update.js';

/**
 * The pipe of an offline edit, connected while the store works. Connecting (socket,
 * HELLO, WELCOME) and storing (four fsyncs) each take milliseconds and need nothing from
 * each other; only the push waits for the edit to be durable, so no server is ever told of
 * a message a crash could still take back. A connect failure is kept until the edit is
 * saved and then reported as before: the edit is never refused for want of a listener.
 */
export class EarlyAnnouncer {
  private readonly ready: Promise<UpdatePipe>;
  private pipe: UpdatePipe | undefined;

  private constructor(
    url: string,
    private readonly requireListener: boolean,
  ) {
    this.ready = openPipe(url).then(async (pipe) => {
      this.pipe = pipe;
      await pipe.initPush();
      return pipe;
    });
    this.ready.catch(() => {}); // awaited later; not unhandled meanwhile
  }

  static start(url: string, requireListener: boolean): EarlyAnnouncer {
    return new EarlyAnnouncer(url, requireListener);
  }

  /**
   * After an offline edit, tell running servers. Nobody listening is fine (servers read
   * storage when they start) unless the admin asked for a listener.
   */
  async announce(updates: readonly Update[]): Promise<void> {
    try {
      if (updates.length === 0) return;
      const pipe = await this.ready;
      await Promise.all(updates.map((u) => pipe.push(u)));
    } catch (err) {
      if (isPipeError(err, 'NO_LISTENER') && !this.requireListener) {
        process.stderr.write('updatepipe: edit saved; no server is listening, nothing to notify\n');
        return;
      }
      throw err;
    } finally {
      await this.close();
    }
  }

  /** The edit failed: nothing to tell, whatever became of the connection. */
  abandon(): Promise<void> {
    return this.close();
  }

  private async close(): Promise<void> {
    await this.ready.catch(() => {});
    await this.pipe?.close().catch(() => {});
  }
}
